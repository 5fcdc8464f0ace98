#!/usr/bin/env bash
# Build the genesys-pulse container image with podman, with no image registry:
# the Debian bookworm base is made locally with debootstrap (from the Debian
# archive) and imported, then deploy/container/Containerfile installs the
# wheel built from this checkout and its dependencies' wheels (no index access
# from inside the build).
#
#   bash deploy/container/build-image.sh          # build if needed (cached)
#   bash deploy/container/build-image.sh --force  # rebuild the image (the base stays cached)
#
# Needs podman and debootstrap (Debian packages) and root (debootstrap,
# podman's chroot isolation). Everything lives under deploy/container/_build:
# a podman store of its own (vfs driver: works inside containers), the base
# root filesystem, the build context. The image is tagged
# localhost/genesys-pulse:<version>; a stamp records the hash of the wheel's
# inputs (pyproject.toml, src/, the Containerfile) and the build is skipped
# when it matches and the image exists.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="$here/_build"
python="${PYTHON:-$repo/.venv/bin/python}"
version="$("$python" -c 'import genesys_pulse; print(genesys_pulse.__version__)')"
image="localhost/genesys-pulse:$version"
base="localhost/genesys-pulse-base:bookworm"
stamp="$build/image.stamp"
# podman refuses a runroot longer than 50 characters, and a checkout can live
# anywhere: the runroot is a short /tmp path keyed by this build directory
# (tests/deploy/conftest.py derives the same one).
runroot="/tmp/genesys-pulse-podman-$(printf %s "$(realpath -m "$build")" | sha256sum | cut -c1-12)"
podman=(podman --root "$build/storage" --runroot "$runroot" --storage-driver vfs)

# The first Debian archive URI apt is configured with (deb822 .sources files or
# one-line sources.list entries), so the image is built from the same mirror.
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    uri="$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i !~ /security/) {print $i; exit}}' "$f")"
    [[ -n "$uri" ]] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    uri="$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' "$f")"
    [[ -n "$uri" ]] && { echo "$uri"; return; }
  done
}

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

for tool in podman debootstrap; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-image.sh: '$tool' not found (make container-tools installs it)" >&2
    exit 1
  fi
done

want="$( { cat "$repo/pyproject.toml" "$here/Containerfile"; \
           find "$repo/src" -type f -not -name '*.pyc' -print0 | sort -z | xargs -0 cat; \
           podman --version; } | sha256sum | cut -d' ' -f1)"
if [[ $force -eq 0 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
   && "${podman[@]}" image exists "$image"; then
  echo "build-image.sh: $image is up to date (stamp matches); skipping"
  exit 0
fi
start=$SECONDS
mkdir -p "$build"
rm -f "$stamp"

if ! "${podman[@]}" image exists "$base"; then
  echo "build-image.sh: making the base $base with debootstrap (minbase bookworm)"
  rm -rf "$build/rootfs"
  # the Debian mirror this machine's apt already uses (or $DEBIAN_MIRROR)
  mirror="${DEBIAN_MIRROR:-$(debian_mirror)}"
  if [[ -z "$mirror" ]]; then
    echo "build-image.sh: no Debian mirror found in /etc/apt/sources.list*; set DEBIAN_MIRROR" >&2
    exit 1
  fi
  debootstrap --variant=minbase bookworm "$build/rootfs" "$mirror" >"$build/debootstrap.log" 2>&1 \
    || { tail -20 "$build/debootstrap.log" >&2; exit 1; }
  tar -C "$build/rootfs" -c . | "${podman[@]}" import - "$base"
  rm -rf "$build/rootfs"
  echo "build-image.sh: base ready after $((SECONDS - start)) s"
fi

rm -rf "$build/context"
mkdir -p "$build/context"
# every wheel (ours and the dependencies') is fetched or built here, with the
# host's package-index settings; the image build then installs offline.
# (with the [cli] extra: the image is `genesys-pulse run`, which exports OTLP)
"$python" -m pip wheel -q --wheel-dir "$build/context" "$repo[cli]"
"${podman[@]}" build --isolation chroot --network host --build-arg "BASE=$base" \
  -f "$here/Containerfile" -t "$image" "$build/context"
"${podman[@]}" image prune -f >/dev/null   # earlier builds' layers (vfs keeps full copies)
echo "$want" > "$stamp"
echo "build-image.sh: built $image in $((SECONDS - start)) s"
