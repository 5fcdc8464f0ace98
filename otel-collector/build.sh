#!/usr/bin/env bash
# Build the genesys-pulse OpenTelemetry Collector from Go modules.
#
#   bash otel-collector/build.sh            # build if needed (cached)
#   bash otel-collector/build.sh --force    # rebuild even if the stamp matches
#
# Needs only Go (>= the version the collector's go.mod asks for) and a
# reachable Go module proxy. Uses the normal Go caches (GOMODCACHE, GOCACHE:
# ~/go/pkg/mod and ~/.cache/go-build by default); keeping them between CI runs
# turns a cold build into a warm one.
#
# Output: otel-collector/_build/otelcol-genesys-pulse
# The builder (ocb) is installed into otel-collector/_build/bin.
# A stamp (otel-collector/_build/otelcol-genesys-pulse.stamp) records the hash
# of the manifest, the builder version and the Go version; when it matches and
# the binary exists, the build is skipped.
set -euo pipefail

BUILDER_VERSION="v0.159.0"   # keep in step with builder-config.yaml

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="$here/_build"
bin_dir="$build_dir/bin"
manifest="$here/builder-config.yaml"
binary="$build_dir/otelcol-genesys-pulse"
stamp="$binary.stamp"
src_dir="$build_dir/src"   # must match dist.output_path in the manifest

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: 'go' not found on PATH; install Go to build the collector" >&2
  exit 1
fi

hash_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1
  else shasum -a 256 | cut -d' ' -f1; fi
}

want_stamp="$( { cat "$manifest"; echo "builder=$BUILDER_VERSION"; go version; } | hash_of )"

if [[ $force -eq 0 && -x "$binary" && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]]; then
  echo "build.sh: $binary is up to date (stamp matches); skipping"
  exit 0
fi

start=$SECONDS
mkdir -p "$bin_dir"

echo "build.sh: $(go version)"
echo "build.sh: installing builder $BUILDER_VERSION into $bin_dir"
if [[ ! -x "$bin_dir/builder" ]] || ! "$bin_dir/builder" version 2>/dev/null | grep -q "${BUILDER_VERSION#v}"; then
  GOBIN="$bin_dir" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION"
fi
echo "build.sh: builder ready after $((SECONDS - start)) s"

# ocb resolves output_path against the working directory.
rm -f "$stamp"
cd "$here"
"$bin_dir/builder" --config="$manifest"
echo "build.sh: ocb finished after $((SECONDS - start)) s"

built="$src_dir/otelcol-genesys-pulse"
if [[ ! -x "$built" ]]; then
  echo "build.sh: expected $built after the build, found nothing" >&2
  exit 1
fi
mv -f "$built" "$binary.tmp"
mv -f "$binary.tmp" "$binary"
echo "$want_stamp" > "$stamp"

"$binary" --version
echo "build.sh: built $binary ($(du -h "$binary" | cut -f1)) in $((SECONDS - start)) s"
