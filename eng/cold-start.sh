#!/usr/bin/env bash
# Cold start of samples/HttpClientLambda as a fresh execution environment answering its first invocation, through the
# Lambda Runtime API (a local stand-in), for three builds: JIT, ReadyToRun and NativeAOT, each with Polly's in-process
# breaker and no store, with the distributed breaker on the in-memory store (this library alone, no AWS SDK) and on
# DynamoDB (dynalite); then where the DynamoDB store's start-up goes, phase by phase. Writes bench/results/cold-start.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
trap stop_servers EXIT
trap 'exit 130' INT TERM

start_dynalite
out="$REPO_ROOT/artifacts/coldstart"
# Each variant compiles afresh: ReadyToRun's incremental build would otherwise reuse another variant's images from obj/.
fresh() { rm -rf "$1/obj/Release/net10.0/linux-x64"; }
publish() {
  local name=$1
  shift
  fresh "$REPO_ROOT/samples/HttpClientLambda"
  dotnet publish "$REPO_ROOT/samples/HttpClientLambda" -c Release -p:LambdaNativeAot=true -r linux-x64 -o "$out/$name" -nologo -v quiet "$@" \
    | grep -v -E '^\s*$|warning : (Repository .* has no remote|Repository has no commit|Source control information is not available|The URL of repository remote)' || true
}
publish jit -p:PublishAot=false --self-contained false
publish r2r -p:PublishAot=false --self-contained false -p:PublishReadyToRun=true
publish composite -p:PublishAot=false --self-contained true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true
publish aot
phases="$REPO_ROOT/bench/Polly.Distributed.ColdStartPhases"
fresh "$phases"
dotnet publish "$phases" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$out/phases" -nologo -v quiet >/dev/null
fresh "$phases"
dotnet publish "$phases" -c Release -r linux-x64 --self-contained true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true \
  -o "$out/phases-composite" -nologo -v quiet >/dev/null

export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
BUILDS="$out" PHASES="$out/phases" DYNAMODB_SERVICE_URL="$POLLY_DISTRIBUTED_DYNAMODB_URL" python3 "$REPO_ROOT/eng/cold-start.py" | tee "$REPO_ROOT/bench/results/cold-start.md"
