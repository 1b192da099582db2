#!/usr/bin/env bash
# Installs the Debian packages Platelet builds and tests with, and nothing that is
# already there. Idempotent: a second run on a ready machine does no apt work at all.
# Uses apt-get directly as root, sudo otherwise. Extra package names may be passed as
# arguments (the benchmarks add serf and etcd this way).
set -euo pipefail

pkgs=(
    build-essential cmake pkg-config file
    libuv1-dev libmsgpack-dev libsodium-dev librocksdb-dev
    libcurl4-openssl-dev libssl-dev libcjson-dev libcmocka-dev libhttp-parser-dev
    clang libclang-rt-14-dev curl python3 python3-yaml python3-prometheus-client procps iproute2
    nftables # chaos run --netns: partitions and loss by the kernel in the agents' namespaces
    chromium # postmortem_html and chaos_short render their pages headless
)
pkgs+=("$@")

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "deps: missing packages (${missing[*]}) and neither root nor sudo to install them" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
