# Shared by eng/test.sh and eng/sample.sh (sourced, not run): installs and starts the local servers.
# Every server listens on 127.0.0.1 on a free port; its real PID is recorded and stopped by stop_servers.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVER_PIDS=()
SERVER_LOGS="${SERVER_LOGS:-$(mktemp -d)}"

apt_install() {
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

ensure_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return
  echo "installing nodejs and npm with apt-get" >&2
  apt_install nodejs npm
}

ensure_dynalite() {
  ensure_node
  if [ ! -f "$REPO_ROOT/node_modules/dynalite/cli.js" ]; then
    echo "installing dynalite (package-lock.json) with npm ci" >&2
    (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  export DYNALITE_CLI="$REPO_ROOT/node_modules/dynalite/cli.js"
}

ensure_redis() {
  if ! command -v redis-server >/dev/null; then
    echo "installing redis-server with apt-get" >&2
    apt_install redis-server
  fi
  REDIS_SERVER_BIN="$(command -v redis-server)"
  export REDIS_SERVER_BIN
}

free_port() {
  ensure_node
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})'
}

wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "$name did not start listening on 127.0.0.1:$port; its log:" >&2
  cat "$SERVER_LOGS/$name.log" >&2 || true
  return 1
}

# Starts dynalite and exports POLLY_DISTRIBUTED_DYNAMODB_URL.
start_dynalite() {
  ensure_dynalite
  local port
  port=$(free_port)
  node "$DYNALITE_CLI" --host 127.0.0.1 --port "$port" >"$SERVER_LOGS/dynalite.log" 2>&1 &
  SERVER_PIDS+=($!)
  wait_for_port "$port" dynalite
  export POLLY_DISTRIBUTED_DYNAMODB_URL="http://127.0.0.1:$port"
  echo "dynalite (pid ${SERVER_PIDS[-1]}) on $POLLY_DISTRIBUTED_DYNAMODB_URL" >&2
}

# Starts redis-server without persistence and exports POLLY_DISTRIBUTED_REDIS.
start_redis() {
  ensure_redis
  local port
  port=$(free_port)
  "$REDIS_SERVER_BIN" --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize no \
    --dir "$SERVER_LOGS" >"$SERVER_LOGS/redis.log" 2>&1 &
  SERVER_PIDS+=($!)
  wait_for_port "$port" redis
  export POLLY_DISTRIBUTED_REDIS="127.0.0.1:$port"
  echo "redis-server (pid ${SERVER_PIDS[-1]}) on $POLLY_DISTRIBUTED_REDIS" >&2
}

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
}
