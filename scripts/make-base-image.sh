#!/usr/bin/env bash
# Build a local Debian bookworm base image with Python 3.11 for the connector image,
# without pulling anything from a container registry:
#   debootstrap (minbase + python3) -> tar -> podman import.
#
# Usage: bash scripts/make-base-image.sh [--force]
# Env:
#   BASE_IMAGE_TAG  image name to create (default localhost/mixpanel-aep-base:bookworm)
#   DEBIAN_MIRROR   Debian mirror to debootstrap from (default: the first bookworm
#                   mirror apt on this machine is configured with)
#   SUITE           Debian suite (default bookworm)
# Needs root, podman and debootstrap (scripts/test-image.sh installs them).
set -euo pipefail

BASE_IMAGE_TAG="${BASE_IMAGE_TAG:-localhost/mixpanel-aep-base:bookworm}"
SUITE="${SUITE:-bookworm}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

log() { echo "[make-base-image] $*" >&2; }

if [ "$FORCE" = 0 ] && podman image exists "$BASE_IMAGE_TAG"; then
    log "$BASE_IMAGE_TAG already exists; skipping (use --force to rebuild)"
    exit 0
fi

# Find the Debian mirror apt uses here: deb822 *.sources files and one-line *.list files.
find_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # Print the URIs of stanzas that are Types: deb and carry Suites: $SUITE.
        awk -v suite="$SUITE" '
            function flush() {
                if (is_deb && has_suite && uris != "") print uris
                is_deb = 0; has_suite = 0; uris = ""
            }
            /^[[:space:]]*$/ { flush(); next }
            /^[[:space:]]*#/ { next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") is_deb = 1 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has_suite = 1 }
            tolower($1) == "uris:" { uris = $2 }
            END { flush() }
        ' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [opts] URI SUITE components...
        sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2 }'
    done
}

if [ -z "${DEBIAN_MIRROR:-}" ]; then
    # Prefer the main archive (a URI ending in /debian) over security/ports archives.
    DEBIAN_MIRROR="$(find_mirror | grep -E '/debian/?$' | head -n1 || true)"
    [ -n "$DEBIAN_MIRROR" ] || DEBIAN_MIRROR="$(find_mirror | head -n1 || true)"
fi
if [ -z "$DEBIAN_MIRROR" ]; then
    log "no Debian mirror for suite '$SUITE' found in /etc/apt/sources.list*; set DEBIAN_MIRROR"
    exit 1
fi
log "mirror: $DEBIAN_MIRROR (suite $SUITE)"

KEYRING_OPT=()
if [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
    KEYRING_OPT=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
fi

ROOTFS="$(mktemp -d /var/tmp/mixpanel-aep-rootfs.XXXXXX)"
cleanup() { rm -rf --one-file-system "$ROOTFS"; }
trap cleanup EXIT

start=$(date +%s)
log "debootstrap into $ROOTFS"
debootstrap --variant=minbase "${KEYRING_OPT[@]}" \
    --include=python3,python3-venv,python3-pip,ca-certificates \
    "$SUITE" "$ROOTFS" "$DEBIAN_MIRROR" >"$ROOTFS.log" 2>&1 || {
    log "debootstrap failed; last lines of its log:"
    tail -n 30 "$ROOTFS.log" >&2
    rm -f "$ROOTFS.log"
    exit 1
}
rm -f "$ROOTFS.log"
log "debootstrap took $(( $(date +%s) - start ))s"

# python:3.11-slim has `python`; bookworm only ships python3 unless python-is-python3 is installed.
if [ ! -e "$ROOTFS/usr/bin/python" ]; then
    ln -s python3 "$ROOTFS/usr/bin/python"
fi
chroot "$ROOTFS" /usr/bin/python -c 'import sys, venv, ensurepip; assert sys.version_info[:2] >= (3, 11), sys.version'

# Slim down: package caches and lists are not needed in the image.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
    "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* 2>/dev/null || true
# Container runtimes manage these; don't ship the host's.
: >"$ROOTFS/etc/resolv.conf"
: >"$ROOTFS/etc/hostname"

podman image rm -f "$BASE_IMAGE_TAG" >/dev/null 2>&1 || true
tar --numeric-owner -C "$ROOTFS" -c . |
    podman import --quiet \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        - "$BASE_IMAGE_TAG" >/dev/null

log "built $BASE_IMAGE_TAG in $(( $(date +%s) - start ))s ($(podman image inspect --format '{{.Size}}' "$BASE_IMAGE_TAG") bytes)"
