# Headless Chromium for the tests that render a page (postmortem_html.sh, chaos_short.sh),
# sourced after the test's own library. chromium_find sets $B or exits 77 (skipped) when
# Debian's chromium is not installed (scripts/deps.sh installs it).
chromium_find() {
    B=$(command -v chromium || command -v chromium-browser) || {
        echo "SKIP: chromium is not installed (scripts/deps.sh installs it); the page was not rendered"
        exit 77
    }
}
# chromium_run DIR RUN_NAME PAGE ARGS...: one headless run on PAGE with its own empty profile
# under DIR and nothing fetched; its stderr in DIR/chromium-RUN_NAME.err; the timeout
# bounds a browser that hangs.
chromium_run() {
    local dir="$1" name="$2" page="$3"
    shift 3
    mkdir -p "$dir/profile-$name"
    timeout 30 "$B" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$dir/profile-$name" "$@" "file://$page" 2>"$dir/chromium-$name.err"
}
