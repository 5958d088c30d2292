#!/usr/bin/env bash
# The main job: the local fleet demo of samples/HttpClientLambda. Installs and starts the store (dynalite by default,
# redis-server with --store redis) on a free loopback port, builds the sample, runs 20 execution environments as
# separate processes against a downstream that dies and heals, prints the timelines and a summary, and stops everything.
# Options: --store dynamodb|redis|redis-cluster (3 masters, 3 replicas), --environments N, --chart PATH.png (default
# artifacts/fleet-demo.png).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
trap stop_servers EXIT
trap 'exit 130' INT TERM

store=dynamodb
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--store" ] && [ $((i + 1)) -lt ${#args[@]} ]; then
    store="${args[$((i + 1))]}"
  fi
done

case "$store" in
  dynamodb)
    start_dynalite
    export DYNAMODB_SERVICE_URL="$POLLY_DISTRIBUTED_DYNAMODB_URL" CIRCUITBREAKER_TABLE=circuitbreaker-demo
    export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
    ;;
  redis)
    start_redis
    export CIRCUITBREAKER_REDIS="$POLLY_DISTRIBUTED_REDIS"
    ;;
  redis-cluster)
    start_redis_cluster
    export CIRCUITBREAKER_REDIS="$POLLY_DISTRIBUTED_REDIS_CLUSTER"
    # The sample connects to a cluster as to one server: the connection string lists the nodes.
    for i in "${!args[@]}"; do
      [ "${args[$i]}" != redis-cluster ] || args[$i]=redis
    done
    ;;
  *)
    echo "unknown store '$store': use dynamodb, redis or redis-cluster" >&2
    exit 2
    ;;
esac

dotnet build "$REPO_ROOT/samples/HttpClientLambda.LocalFleet" -c Release -v quiet -nologo \
  | grep -v -E '^\s*$|warning : (Repository .* has no remote|Repository has no commit|Source control information is not available|The URL of repository remote)' || true
# The chart goes beside the repository's other outputs unless --chart names a path.
chart=()
[[ " ${args[*]} " == *" --chart "* ]] || chart=(--chart "$REPO_ROOT/artifacts/fleet-demo.png")
mkdir -p "$REPO_ROOT/artifacts"
dotnet "$REPO_ROOT/samples/HttpClientLambda.LocalFleet/bin/Release/net10.0/HttpClientLambda.LocalFleet.dll" "${chart[@]}" "${args[@]}"
