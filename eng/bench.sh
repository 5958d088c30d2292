#!/usr/bin/env bash
# Produces the figures in README.md: the fleet simulation (50, 200 and 1,000 environments on the in-memory store,
# redis-server and dynalite), the failure behaviour table, the memory footprint and the hot-path BenchmarkDotNet run.
# Results are written to bench/results/. The sidecar and cold-start figures have their own scripts (eng/sidecar.sh measure,
# eng/cold-start.sh).
# "bash eng/bench.sh fleet" runs the fleet simulation only; "bash eng/bench.sh faults" skips it and stops after the
# failure behaviour table (the fault suite's scenarios, measured).
# "bash eng/bench.sh capacity [sizes]" runs the capacity simulation only (simulated stores on a virtual clock, no servers;
# sizes default to 1000,10000,50000) into bench/results/fleet-capacity.md.
# "bash eng/bench.sh quorum" runs the quorum simulation only (one or two sick environments, then a dead dependency; with and
# without MinimumFailingEnvironments, beside Polly's own breaker, on each store) into bench/results/quorum.md.
# "bash eng/bench.sh emulator" runs the emulator load only (1,000 environments in a loop through a death and a heal, and
# 200 callers failing 3 times at once, on dynalite and redis-server) into bench/results/emulator-load.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
trap stop_servers EXIT
trap 'exit 130' INT TERM

dotnet build "$REPO_ROOT/bench/Polly.Distributed.Benchmarks" -c Release -v quiet -nologo >/dev/null
bench="$REPO_ROOT/bench/Polly.Distributed.Benchmarks/bin/Release/net10.0/Polly.Distributed.Benchmarks.dll"
mkdir -p "$REPO_ROOT/bench/results"

if [ "${1:-}" = "capacity" ]; then
  dotnet "$bench" capacity "${2:-1000,10000,50000}" | tee "$REPO_ROOT/bench/results/fleet-capacity.md"
  exit 0
fi

start_dynalite
start_redis

if [ "${1:-}" = "quorum" ]; then
  dotnet "$bench" quorum "$POLLY_DISTRIBUTED_DYNAMODB_URL" "$POLLY_DISTRIBUTED_REDIS" | tee "$REPO_ROOT/bench/results/quorum.md"
  exit 0
fi

if [ "${1:-}" = "emulator" ]; then
  dotnet "$bench" emulator "$POLLY_DISTRIBUTED_DYNAMODB_URL" "$POLLY_DISTRIBUTED_REDIS" | tee "$REPO_ROOT/bench/results/emulator-load.md"
  exit 0
fi

if [ "${1:-}" != "faults" ]; then
  dotnet "$bench" fleet "$POLLY_DISTRIBUTED_DYNAMODB_URL" "$POLLY_DISTRIBUTED_REDIS" 50,200,1000 | tee "$REPO_ROOT/bench/results/fleet-simulation.md"
fi
[ "${1:-}" = "fleet" ] && exit 0
dotnet "$bench" faults "$POLLY_DISTRIBUTED_DYNAMODB_URL" "$POLLY_DISTRIBUTED_REDIS" | tee "$REPO_ROOT/bench/results/failure-behaviour.md"
[ "${1:-}" = "faults" ] && exit 0
dotnet "$bench" memory | tee "$REPO_ROOT/bench/results/memory.md"
# One launch, 30 measured iterations: enough for the error bars to say how far the means can be trusted on a shared 2-core machine.
dotnet "$bench" --filter '*HotPath*' --launchCount 1 --warmupCount 5 --iterationCount 30 --artifacts "$REPO_ROOT/bench/results/BenchmarkDotNet" --exporters github
cp "$REPO_ROOT"/bench/results/BenchmarkDotNet/results/*-report-github.md "$REPO_ROOT/bench/results/hot-path.md"
rm -rf "$REPO_ROOT/bench/results/BenchmarkDotNet"
