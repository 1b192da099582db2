#!/usr/bin/env bash
# Run by deb_package.sh inside a private mount namespace (unshare --mount), as root:
# mounts a copy-on-write overlay of this machine's / at DIR/merged and, chrooted there,
# installs the package with dpkg, starts the agent as its user with the packaged config,
# then removes and purges the package. Every write lands in DIR/upper; the mounts die
# with the namespace. Exit 77: the overlay cannot be mounted here.
#
# usage: deb_in_root.sh DIR PACKAGE.deb PORT
set -euo pipefail
dir=$1 deb=$2 port=$3
R="$dir/merged"
agent=

fail() {
    echo "FAIL: deb_in_root: $*" >&2
    exit 1
}
cleanup() {
    if [ -n "$agent" ]; then
        kill -KILL "$agent" 2>/dev/null || true
        wait "$agent" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

mkdir -p "$dir/upper" "$dir/work" "$R"
mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$R" || exit 77
mount --bind /proc "$R/proc"
mount --bind /dev "$R/dev"
in_root() { chroot "$R" "$@"; }

if in_root getent passwd platelet >/dev/null; then
    fail "this machine already has a user platelet; the test could not tell postinst made it"
fi
cp "$deb" "$R/root/platelet.deb"
in_root dpkg -i /root/platelet.deb >"$dir/dpkg-i.log" 2>&1 || fail "dpkg -i: $(tail -5 "$dir/dpkg-i.log")"
entry=$(in_root getent passwd platelet) || fail "postinst made no user platelet"
IFS=: read -r _ _ uid _ _ home shell <<<"$entry"
[ "$uid" -lt 1000 ] && [ "$home" = /var/lib/platelet ] && [ "$shell" = /usr/sbin/nologin ] ||
    fail "the user is not a system user with home /var/lib/platelet and no shell: $entry"
[ "$(in_root stat -c '%U:%G %a' /var/lib/platelet)" = "platelet:platelet 700" ] ||
    fail "/var/lib/platelet: $(in_root stat -c '%U:%G %a' /var/lib/platelet)"
[ "$(in_root stat -c '%U:%G %a' /etc/platelet/agent.json)" = "root:platelet 640" ] ||
    fail "/etc/platelet/agent.json: $(in_root stat -c '%U:%G %a' /etc/platelet/agent.json)"
in_root dpkg-query -W -f='${Conffiles}\n' platelet | grep -q '/etc/platelet/agent.json' ||
    fail "dpkg does not hold /etc/platelet/agent.json as a conffile"
in_root man -w platelet | grep -q /usr/share/man/man1/platelet.1.gz || fail "man does not find platelet(1)"
echo "ok: dpkg -i made the user, the data directory and the config's permissions; man finds platelet(1)"

# The unit as installed, binary and man page in place: systemd-analyze verify (which
# exits 0 on mere warnings, so any output fails) with its man page check on.
if in_root sh -c 'command -v systemd-analyze' >/dev/null; then
    out=$(in_root systemd-analyze verify /lib/systemd/system/platelet.service 2>&1) ||
        fail "systemd-analyze verify of the installed unit: $out"
    [ -z "$out" ] || fail "systemd-analyze verify of the installed unit complained: $out"
    echo "ok: systemd-analyze verify accepts the installed unit (ExecStart and man:platelet(1) found)"
else
    echo "SKIP: no systemd-analyze in the root; the installed unit was not verified"
fi

# As the service would run it: user platelet, /etc/platelet/agent.json. The bind flag
# only avoids ports other tests hold.
chroot "$R" setpriv --reuid platelet --regid platelet --init-groups \
    /usr/bin/platelet agent --config /etc/platelet/agent.json --bind "127.0.0.1:$port" \
    >"$dir/agent.log" 2>&1 &
agent=$!
deadline=$((SECONDS + 15))
until self=$(in_root curl -sf --unix-socket /var/lib/platelet/api.sock http://agent/v1/agent/self); do
    [ $SECONDS -lt $deadline ] || fail "the installed agent did not answer: $(tail -5 "$dir/agent.log")"
    kill -0 "$agent" 2>/dev/null || fail "the installed agent exited: $(tail -5 "$dir/agent.log")"
    sleep 0.1
done
echo "$self" | grep -q '"data_dir":"/var/lib/platelet"' || fail "self: $self"
kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
agent=
[ $rc -eq 0 ] || fail "the installed agent exited $rc after SIGTERM: $(tail -5 "$dir/agent.log")"
in_root test -f /var/lib/platelet/node.key || fail "the agent kept no node key in /var/lib/platelet"
echo "ok: the installed agent ran as platelet with /etc/platelet/agent.json and stopped cleanly"

in_root dpkg -r platelet >"$dir/dpkg-r.log" 2>&1 || fail "dpkg -r: $(tail -5 "$dir/dpkg-r.log")"
in_root test ! -e /usr/bin/platelet || fail "dpkg -r left /usr/bin/platelet"
in_root test -f /var/lib/platelet/node.key || fail "dpkg -r removed the data"
in_root test -f /etc/platelet/agent.json || fail "dpkg -r removed the conffile (only purge may)"
in_root dpkg -P platelet >"$dir/dpkg-p.log" 2>&1 || fail "dpkg -P: $(tail -5 "$dir/dpkg-p.log")"
in_root test ! -e /etc/platelet/agent.json || fail "dpkg -P kept the conffile"
in_root test -f /var/lib/platelet/node.key || fail "dpkg -P removed the data"
echo "ok: remove keeps data and config; purge drops the config and keeps the data"
