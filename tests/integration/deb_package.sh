#!/usr/bin/env bash
# The Debian package and the install rules, with the real tools:
#   - cpack builds the .deb from this build tree; dpkg-deb lists exactly the expected
#     files with the expected modes, the unit and default config are those of deploy/,
#     /etc/platelet/agent.json is a conffile, the maintainer scripts parse;
#   - the extracted binary runs with the extracted config and answers;
#   - `cmake --install` (what `make install` runs) honours DESTDIR and the prefix, writes
#     the prefix into the unit and keeps an operator's config on a second install;
#   - as root: `dpkg -i` into a copy-on-write root of this machine (an overlay, in a
#     private mount namespace: the machine itself is untouched) creates the user, the
#     agent starts there as `platelet` with the packaged config, and remove and purge
#     keep the data (deb_in_root.sh).
source "$(dirname "$0")/lib.sh"
SRC=${PLATELET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=$(dirname "$(readlink -f "$PLATELET")")
[ -f "$BUILD/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $BUILD (configure with CMake first)"

# --- the package's contents -------------------------------------------------------------
cpack -G DEB -B "$TEST_DIR/pkg" --config "$BUILD/CPackConfig.cmake" >"$TEST_DIR/cpack.log" 2>&1 ||
    fail "cpack failed: $(tail -5 "$TEST_DIR/cpack.log")"
debs=("$TEST_DIR"/pkg/platelet_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one platelet_*.deb, got: ${debs[*]}"
deb=${debs[0]}

# "mode owner path" for every file (directories left out), sorted.
listing=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $1, $2, $6}' | sort -k3)
expected="-rw-r----- root/root ./etc/platelet/agent.json
-rw-r--r-- root/root ./lib/systemd/system/platelet.service
-rwxr-xr-x root/root ./usr/bin/platelet
-rw-r--r-- root/root ./usr/share/bash-completion/completions/platelet
-rw-r--r-- root/root ./usr/share/doc/platelet/examples/platelet.json
-rw-r--r-- root/root ./usr/share/doc/platelet/examples/prometheus.yml
-rw-r--r-- root/root ./usr/share/man/man1/platelet.1.gz"
[ "$listing" = "$expected" ] || fail "dpkg-deb -c lists:
$listing
expected:
$expected"
pass "dpkg-deb -c lists the binary, the man page, the completion, the unit, the config and the metrics examples, with their modes"

dpkg-deb -e "$deb" "$TEST_DIR/control"
[ "$(cat "$TEST_DIR/control/conffiles")" = /etc/platelet/agent.json ] ||
    fail "conffiles: $(cat "$TEST_DIR/control/conffiles")"
depends=$(dpkg-deb -f "$deb" Depends)
for dep in passwd librocksdb libuv1 libsodium23 libcurl4; do
    echo "$depends" | grep -q "$dep" || fail "Depends lacks $dep: $depends"
done
for script in postinst prerm postrm; do
    [ -x "$TEST_DIR/control/$script" ] || fail "$script is missing or not executable"
    sh -n "$TEST_DIR/control/$script" || fail "$script does not parse"
done
grep -q useradd "$TEST_DIR/control/postinst" || fail "postinst creates no user"
pass "conffile, dependencies and maintainer scripts"

dpkg-deb -x "$deb" "$TEST_DIR/root"
cmp -s "$TEST_DIR/root/lib/systemd/system/platelet.service" "$SRC/deploy/systemd/platelet.service" ||
    fail "the packaged unit differs from deploy/systemd/platelet.service"
cmp -s "$TEST_DIR/root/etc/platelet/agent.json" "$SRC/deploy/debian/agent.json" ||
    fail "the packaged config differs from deploy/debian/agent.json"
pass "the packaged unit and config are those of deploy/"

# --- the extracted binary with the extracted config ---------------------------------------
# The packaged config's data_dir is /var/lib/platelet; this machine's is not ours to touch,
# so the flag (flags win) points it into the test's folder.
bin="$TEST_DIR/root/usr/bin/platelet"
port=$(free_port)
spawn extracted "$bin" agent --config "$TEST_DIR/root/etc/platelet/agent.json" \
    --data-dir "$TEST_DIR/data" --bind "127.0.0.1:$port"
agent=$SPAWNED_PID
wait_for 10 "the extracted agent's API" curl -sf --unix-socket "$TEST_DIR/data/api.sock" http://agent/v1/agent/self
self=$(curl -sf --unix-socket "$TEST_DIR/data/api.sock" http://agent/v1/agent/self)
[ "platelet $(json_get "$self" 'd["version"]')" = "$("$bin" version)" ] ||
    fail "the agent's version does not match 'platelet version': $self"
stop_agent "$agent" "the extracted agent"
pass "the packaged binary starts with the packaged config and answers"

# --- cmake --install: DESTDIR and the prefix ------------------------------------------------
stage="$TEST_DIR/stage"
DESTDIR="$stage" cmake --install "$BUILD" --prefix /opt/pl >"$TEST_DIR/install.log" 2>&1 ||
    fail "cmake --install failed: $(tail -3 "$TEST_DIR/install.log")"
[ -x "$stage/opt/pl/bin/platelet" ] || fail "no $stage/opt/pl/bin/platelet"
[ -f "$stage/opt/pl/share/man/man1/platelet.1.gz" ] || fail "no man page under the prefix"
[ -f "$stage/opt/pl/share/bash-completion/completions/platelet" ] || fail "no completion under the prefix"
unit="$stage/opt/pl/lib/systemd/system/platelet.service"
grep -qx "ExecStart=/opt/pl/bin/platelet agent --config /opt/pl/etc/platelet/agent.json" "$unit" ||
    fail "the installed unit does not name the prefix: $(grep ExecStart "$unit")"
cmp -s "$stage/opt/pl/etc/platelet/agent.json" "$SRC/deploy/debian/agent.json" ||
    fail "the installed config is not deploy/debian/agent.json"
echo '{"data_dir": "/srv/platelet"}' >"$stage/opt/pl/etc/platelet/agent.json"
DESTDIR="$stage" cmake --install "$BUILD" --prefix /opt/pl >"$TEST_DIR/install2.log" 2>&1 ||
    fail "the second cmake --install failed"
grep -q /srv/platelet "$stage/opt/pl/etc/platelet/agent.json" ||
    fail "a second install overwrote the operator's config"
grep -q "Kept: .*agent.json" "$TEST_DIR/install2.log" || fail "the kept config was not named"
[ -z "$(find "$stage" -mindepth 1 -maxdepth 1 ! -name opt)" ] || fail "installed outside the prefix: $(ls "$stage")"
pass "cmake --install honours DESTDIR and the prefix, and keeps an operator's config"

# --- dpkg -i into a copy-on-write root -----------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: not root: dpkg -i into a copy-on-write root needs mount namespaces; not run"
    exit 0
fi
if ! unshare --mount --propagation private true 2>/dev/null; then
    echo "SKIP: unshare --mount is refused here; dpkg -i into a copy-on-write root not run"
    exit 0
fi
rc=0
timeout 150 unshare --mount --propagation private \
    bash "$SRC/tests/integration/deb_in_root.sh" "$TEST_DIR/cow" "$deb" "$(free_port)" \
    >"$TEST_DIR/in-root.log" 2>&1 || rc=$?
cat "$TEST_DIR/in-root.log"
if [ $rc -eq 77 ]; then
    echo "SKIP: an overlay of / cannot be mounted here; dpkg -i into a copy-on-write root not run"
    exit 0
fi
[ $rc -eq 0 ] || fail "dpkg -i into a copy-on-write root failed (exit $rc; in-root.log above)"
pass "dpkg -i into a copy-on-write root: user made, agent up as platelet, data kept on remove and purge"
