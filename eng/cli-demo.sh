#!/usr/bin/env bash
# The transcript in README.md ("Operating circuits"): packs the circuitbreaker tool, installs it from artifacts/packages
# with "dotnet tool install --tool-path", starts dynalite, fails calls through breakers (eng/open-circuit.cs: five failures
# open payments-api, two leave orders-api closed), then runs list, show, isolate and close, printing each command.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
trap stop_servers EXIT
trap 'exit 130' INT TERM

start_dynalite 2>/dev/null
bash "$REPO_ROOT/eng/pack.sh" >/dev/null
work="$(mktemp -d)"
# A packages folder of its own, so that a tool packed again under the same version is not taken from NuGet's cache.
NUGET_PACKAGES="$work/packages" dotnet tool install Polly.Distributed.CircuitBreaker.Cli --version 0.1.0 \
  --add-source "$REPO_ROOT/artifacts/packages" --tool-path "$work/bin" >/dev/null
export PATH="$work/bin:$PATH" AWS_EC2_METADATA_DISABLED=true
export CIRCUITBREAKER_TABLE=circuitbreaker

dotnet run "$REPO_ROOT/eng/open-circuit.cs" "$CIRCUITBREAKER_TABLE" "$POLLY_DISTRIBUTED_DYNAMODB_URL" payments-api 5 2>&1 | grep -v -E 'warning : ' || true
dotnet run "$REPO_ROOT/eng/open-circuit.cs" "$CIRCUITBREAKER_TABLE" "$POLLY_DISTRIBUTED_DYNAMODB_URL" orders-api 2 2>&1 | grep -v -E 'warning : ' || true

shown() {
  echo "\$ $*"
  set +e
  "$@" 2>&1
  local status=$?
  set -e
  [ "$status" -eq 0 ] || echo "(exit code $status)"
  echo
}

echo "\$ export CIRCUITBREAKER_TABLE=circuitbreaker"
echo
endpoint=(--endpoint "$POLLY_DISTRIBUTED_DYNAMODB_URL")
shown circuitbreaker list "${endpoint[@]}"
shown circuitbreaker show payments-api "${endpoint[@]}"
shown circuitbreaker isolate payments-api --if-state open "${endpoint[@]}"
shown circuitbreaker list "${endpoint[@]}"
shown circuitbreaker close payments-api --if-state isolated "${endpoint[@]}"
shown circuitbreaker close payments-api --if-state isolated "${endpoint[@]}"
