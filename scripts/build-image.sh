#!/usr/bin/env bash
# Builds the Sluice image (Dockerfile) with Podman: build-image.sh [TAG].
# Where the registry's Python image cannot be pulled (no registry access), the base is a
# Debian bookworm root file system made with debootstrap from Debian's packages (as root),
# imported once as localhost/sluice-base:bookworm. The build trusts the host's CA bundle, for
# networks that reach PyPI through an intercepting proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/sluice:0.1.0}
base=python:3.12-slim-bookworm
local_base=localhost/sluice-base:bookworm
ca=/etc/ssl/certs/ca-certificates.crt

if ! podman image exists "$base" && ! timeout 60 podman pull -q "$base" >/dev/null 2>&1; then
  base=$local_base
  if ! podman image exists "$base"; then
    [ "$(id -u)" = 0 ] || { echo "build-image: cannot pull $base; run as root to build a base" >&2; exit 1; }
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    echo "build-image: making a Debian bookworm base with debootstrap (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
      bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import -q - "$base" >/dev/null
  fi
fi

args=(--network host --build-arg "PYTHON_IMAGE=$base" -t "$tag")
[ -f "$ca" ] && args+=(-v "$ca:$ca:ro" --env "PIP_CERT=$ca")
podman build -q "${args[@]}" . >/dev/null
echo "$tag"
