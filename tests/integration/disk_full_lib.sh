# Sourced first by the disk-full tests, before lib.sh: re-runs the test as root in a private
# mount namespace, so the small tmpfs it mounts is seen by nothing outside it; exits 77
# (skipped) without root or mount namespaces.
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: $(basename "$0" .sh): not root: mounting a small tmpfs needs root"
    exit 77
fi
if [ -z "${PL_DISK_FULL_NS:-}" ]; then
    if ! unshare --mount --propagation private true 2>/dev/null; then
        echo "SKIP: $(basename "$0" .sh): no mount namespaces here (unshare --mount failed)"
        exit 77
    fi
    PL_DISK_FULL_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi

# disk_mount [AT-EXIT]: after lib.sh, mounts a 48 MiB tmpfs at DISK=$TEST_DIR/disk, which the
# test's exit unmounts after running the shell command AT-EXIT (e.g. to save a log from it).
disk_mount() {
    DISK="$TEST_DIR/disk"
    mkdir -p "$DISK"
    mount -t tmpfs -o size=48m tmpfs "$DISK"
    # shellcheck disable=SC2064 # DISK and AT-EXIT are meant to expand now
    trap "rc=\$?; ${1:-true}; umount -l '$DISK' 2>/dev/null || true; set +e; (exit \$rc); cleanup" EXIT
}
