#!/usr/bin/env bash
# By hand, not in CI (it downloads a Debian system): installs the package into a clean
# Debian 12 root made by debootstrap, with apt resolving its dependencies, and starts the
# agent there as the service would (user platelet, /etc/platelet/agent.json).
#
# usage (root): deploy/debian/try-in-clean-root.sh build/platelet_*.deb [ROOT_DIR]
# ROOT_DIR defaults to a new folder under /var/tmp; it is kept for a look afterwards
# (remove it with rm -rf once done). MIRROR overrides the Debian mirror.
set -euo pipefail
deb=${1:?usage: $0 PACKAGE.deb [ROOT_DIR]}
root=${2:-$(mktemp -d /var/tmp/platelet-bookworm.XXXXXX)}
mirror=${MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" -eq 0 ] || { echo "$0: must run as root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "$0: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
agent=

cleanup() {
    [ -z "$agent" ] || kill -TERM "$agent" 2>/dev/null || true
    umount "$root/proc" 2>/dev/null || true
}
trap cleanup EXIT

if [ ! -x "$root/usr/bin/apt-get" ]; then
    echo "== debootstrap bookworm (minbase) into $root"
    debootstrap --variant=minbase bookworm "$root" "$mirror"
fi
mount -t proc proc "$root/proc"
cp "$deb" "$root/tmp/platelet.deb"
echo "== apt-get install ./platelet.deb (dependencies from $mirror)"
chroot "$root" apt-get update -qq
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl /tmp/platelet.deb
chroot "$root" getent passwd platelet
chroot "$root" ls -ld /var/lib/platelet /etc/platelet /etc/platelet/agent.json
# shellcheck disable=SC2016 # dpkg-query's own ${Field} syntax
chroot "$root" dpkg-query -W -f='${Package} ${Version} ${Status}\n' platelet

echo "== platelet agent --config /etc/platelet/agent.json, as platelet"
chroot "$root" setpriv --reuid platelet --regid platelet --init-groups \
    /usr/bin/platelet agent --config /etc/platelet/agent.json &
agent=$!
deadline=$((SECONDS + 15))
until chroot "$root" curl -sf --unix-socket /var/lib/platelet/api.sock http://agent/v1/agent/self; do
    [ $SECONDS -lt $deadline ] || { echo "$0: the agent did not answer" >&2; exit 1; }
    sleep 0.2
done
echo
kill -TERM "$agent"
wait "$agent"
agent=
echo "== the agent answered in a clean Debian 12 root and stopped cleanly ($root)"
