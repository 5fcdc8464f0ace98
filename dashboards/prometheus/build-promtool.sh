#!/usr/bin/env bash
# Build Prometheus's promtool from Go modules, for `promtool check rules` and
# `promtool test rules` on the rules in this folder.
#
#   bash dashboards/prometheus/build-promtool.sh           # build if needed (cached)
#   bash dashboards/prometheus/build-promtool.sh --force   # rebuild even if the stamp matches
#
# Needs only Go and a reachable Go module proxy; uses the normal Go caches
# (GOMODCACHE, GOCACHE), so keeping them between CI runs makes a rebuild warm.
# Prometheus tags its Go module v0.3XX.Y for release v3.XX.Y (v0.316.0 is
# Prometheus 3.16.0).
#
# Output: dashboards/prometheus/_build/promtool, with a stamp
# (promtool.stamp) holding a hash of the module version and the Go version;
# when it matches and the binary exists, the build is skipped.
set -euo pipefail

PROMETHEUS_MODULE_VERSION="v0.316.0"   # Prometheus v3.16.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="$here/_build"
binary="$build_dir/promtool"
stamp="$build_dir/promtool.stamp"

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

if ! command -v go >/dev/null 2>&1; then
  echo "build-promtool.sh: 'go' not found on PATH; install Go to build promtool" >&2
  exit 1
fi

hash_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1
  else shasum -a 256 | cut -d' ' -f1; fi
}

want_stamp="$( { echo "prometheus=$PROMETHEUS_MODULE_VERSION"; go version; } | hash_of )"

if [[ $force -eq 0 && -x "$binary" && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]]; then
  echo "build-promtool.sh: $binary is up to date (stamp matches); skipping"
  exit 0
fi

start=$SECONDS
mkdir -p "$build_dir"
rm -f "$stamp"
echo "build-promtool.sh: $(go version); building promtool $PROMETHEUS_MODULE_VERSION"
GOBIN="$build_dir" go install "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION"
"$binary" --version
echo "$want_stamp" > "$stamp"
echo "build-promtool.sh: built $binary ($(du -h "$binary" | cut -f1)) in $((SECONDS - start)) s"
