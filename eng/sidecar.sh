#!/usr/bin/env bash
# The circuit breaker sidecar (src/Polly.Distributed.CircuitBreaker.Sidecar), published with NativeAOT.
#   bash eng/sidecar.sh layer     builds artifacts/sidecar-layer.zip: the executable as extensions/polly-circuitbreaker
#   bash eng/sidecar.sh measure   cold start to the first answered request (20 starts) and loopback latency of 2,000
#                                 checks and 2,000 reports (median, p99), against dynalite
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

out="$REPO_ROOT/artifacts/sidecar"
publish() {
  dotnet publish "$REPO_ROOT/src/Polly.Distributed.CircuitBreaker.Sidecar" -c Release -r linux-x64 -o "$out" -nologo -v quiet \
    | grep -v -E '^\s*$|warning : (Repository .* has no remote|Repository has no commit|Source control information is not available|The URL of repository remote)' || true
  test -x "$out/Polly.Distributed.CircuitBreaker.Sidecar"
}

case "${1:-layer}" in
  layer)
    publish
    layer="$(mktemp -d)"
    mkdir -p "$layer/extensions"
    cp "$out/Polly.Distributed.CircuitBreaker.Sidecar" "$layer/extensions/polly-circuitbreaker"
    rm -f "$REPO_ROOT/artifacts/sidecar-layer.zip"
    (cd "$layer" && ZIP="$REPO_ROOT/artifacts/sidecar-layer.zip" python3 -c '
import os, zipfile
entry = zipfile.ZipInfo("extensions/polly-circuitbreaker")
entry.external_attr = 0o100755 << 16
entry.compress_type = zipfile.ZIP_DEFLATED
with zipfile.ZipFile(os.environ["ZIP"], "w") as layer:
    layer.writestr(entry, open("extensions/polly-circuitbreaker", "rb").read())')
    echo "layer: $REPO_ROOT/artifacts/sidecar-layer.zip"
    ;;
  measure)
    trap stop_servers EXIT
    start_dynalite
    publish
    export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
    DYNAMODB_SERVICE_URL="$POLLY_DISTRIBUTED_DYNAMODB_URL" CIRCUITBREAKER_TABLE=sidecar-measure \
      SIDECAR="$out/Polly.Distributed.CircuitBreaker.Sidecar" PORT="$(free_port)" python3 "$REPO_ROOT/eng/sidecar-measure.py"
    ;;
  *)
    echo "usage: bash eng/sidecar.sh layer|measure" >&2
    exit 2
    ;;
esac
