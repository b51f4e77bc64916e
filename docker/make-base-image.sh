#!/usr/bin/env bash
# The cpu image's base, made without a registry: Debian bookworm (minbase) by debootstrap, imported
# into the engine DOCKER_HOST names as local/debian:bookworm (or the name given as $1). Needs root,
# debootstrap and the docker CLI. The root filesystem tarball is kept under the harness cache
# (HARNESS_CACHE, default ~/.cache/harness), so a second run only imports it (about 2 s).
set -euo pipefail
name=${1:-local/debian:bookworm}
cache=${HARNESS_CACHE:-$HOME/.cache/harness}/base
tarball=$cache/debian-bookworm-minbase.tar
if [ ! -s "$tarball" ]; then
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    if ! debootstrap --variant=minbase bookworm "$work/rootfs" "${mirror:-http://deb.debian.org/debian}" \
            > "$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        echo "error: debootstrap failed (log above)" >&2
        exit 3
    fi
    : > "$work/rootfs/etc/apt/sources.list"  # the image gets its mirror from the build context
    mkdir -p "$cache"
    tar -C "$work/rootfs" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
fi
docker import "$tarball" "$name" > /dev/null
echo "$name"
