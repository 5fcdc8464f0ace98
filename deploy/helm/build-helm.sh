#!/usr/bin/env bash
# Build the `helm` CLI the chart tests use, from Go modules (no binary download).
#
#   bash deploy/helm/build-helm.sh           # build if needed (cached)
#   bash deploy/helm/build-helm.sh --force   # rebuild even if the stamp matches
#
# Output: deploy/helm/_build/bin/helm. A stamp beside it records the helm
# version and the Go version; when it matches and the binary exists the build is
# skipped. Uses the normal Go caches (GOMODCACHE, GOCACHE), so keeping them
# between CI runs turns a cold build (minutes) into a warm one.
set -euo pipefail

HELM_VERSION="v3.19.5"   # the chart's tests are written against helm 3

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin_dir="$here/_build/bin"
binary="$bin_dir/helm"
stamp="$binary.stamp"

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

if ! command -v go >/dev/null 2>&1; then
  echo "build-helm.sh: 'go' not found on PATH; install Go to build helm" >&2
  exit 1
fi

want_stamp="helm=$HELM_VERSION $(go version)"
if [[ $force -eq 0 && -x "$binary" && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]]; then
  echo "build-helm.sh: $binary is up to date (stamp matches); skipping"
  exit 0
fi

start=$SECONDS
mkdir -p "$bin_dir"
rm -f "$stamp"
echo "build-helm.sh: $(go version); installing helm $HELM_VERSION into $bin_dir"
GOBIN="$bin_dir" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "$want_stamp" > "$stamp"
"$binary" version --short
echo "build-helm.sh: built $binary in $((SECONDS - start)) s"
