#!/usr/bin/env bash
# Runs the whole test suite against real servers: installs redis-server and redis-tools (apt-get) and dynalite (npm ci)
# when missing, starts dynalite, a redis-server and a Redis Cluster (3 masters, 3 replicas) on free loopback ports, runs
# every test project, stops the servers, and prints "tests: N passed, N failed". Exits non-zero on any failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
trap stop_servers EXIT
trap 'exit 130' INT TERM

start_dynalite
start_redis
start_redis_cluster
# The servers are up: an integration test that finds one missing is a failure, not a skip.
export POLLY_DISTRIBUTED_REQUIRE_SERVERS=1

results="$(mktemp -d)"
# Each test project's two target frameworks run one after the other: the fault suite bounds call times, and two copies
# of every test host at once overload 2 cores.
set +e
dotnet test "$REPO_ROOT/Polly.Distributed.sln" -c Release -p:TestTfmsInParallel=false --logger trx --results-directory "$results" 2>&1 \
  | grep -v -E '^\s*$|warning : (Repository .* has no remote|Repository has no commit|Source control information is not available|The URL of repository remote)'
status=${PIPESTATUS[0]}
set -e

passed=0
failed=0
skipped=0
shopt -s nullglob
for trx in "$results"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* timeout="\([0-9]*\)".*/\1/p' <<<"$counters")
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0} + ${t:-0}))
  skipped=$((skipped + ${n:-0}))
done

# NativeAOT smoke test: the packages published as a NativeAOT app, and the sidecar published the same way (any trim or
# AOT warning fails the publish), then run against the same servers. Each of its checks counts as one test.
aot_out="$(mktemp -d)"
echo "publishing the NativeAOT smoke test and the sidecar" >&2
if dotnet publish "$REPO_ROOT/tests/Polly.Distributed.CircuitBreaker.AotSmoke" -c Release -o "$aot_out" >"$aot_out/publish.log" 2>&1 \
  && dotnet publish "$REPO_ROOT/src/Polly.Distributed.CircuitBreaker.Sidecar" -c Release -r linux-x64 -o "$aot_out/sidecar" >>"$aot_out/publish.log" 2>&1 \
  && ! grep -E 'warning (IL|SYSLIB)[0-9]+' "$aot_out/publish.log"; then
  set +e
  POLLY_DISTRIBUTED_SIDECAR="$aot_out/sidecar/Polly.Distributed.CircuitBreaker.Sidecar" "$aot_out/Polly.Distributed.CircuitBreaker.AotSmoke" | tee "$aot_out/run.log"
  aot_status=${PIPESTATUS[0]}
  set -e
  aot_passed=$(grep -c '^pass ' "$aot_out/run.log" || true)
  aot_failed=$(grep -c '^FAIL ' "$aot_out/run.log" || true)
  if [ "$aot_status" -ne 0 ] && [ "$aot_failed" -eq 0 ]; then
    aot_failed=1
  fi
  passed=$((passed + aot_passed))
  failed=$((failed + aot_failed))
else
  grep -E 'error|warning (IL|SYSLIB)' "$aot_out/publish.log" | sort -u >&2 || tail -20 "$aot_out/publish.log" >&2
  echo "FAIL  NativeAOT publish of the smoke test" >&2
  failed=$((failed + 1))
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
