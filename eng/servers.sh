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
  # Debian's redis-server package brings redis-tools (redis-cli), which creates and inspects the cluster.
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "installing redis-server and redis-tools with apt-get" >&2
    apt_install redis-server redis-tools
  fi
  REDIS_SERVER_BIN="$(command -v redis-server)"
  REDIS_CLI_BIN="$(command -v redis-cli)"
  export REDIS_SERVER_BIN REDIS_CLI_BIN
}

free_port() {
  ensure_node
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})'
}

# Prints COUNT free loopback ports, each at most 55535, whose port + 10000 (a cluster node's bus port) is free too; every
# candidate pair is held open until all are found, so the ports printed are distinct. They come from below the kernel's
# ephemeral range where it leaves room (10000-22767 under Linux's default 32768-60999), so no outgoing connection can
# take one between this search and redis-server binding it; otherwise from 30000-55535.
free_cluster_ports() {
  local count=$1
  ensure_node
  node -e '
    const net = require("net");
    const fs = require("fs");
    const count = Number(process.argv[1]);
    let ephemeralLow = 32768;
    try {
      ephemeralLow = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    } catch {}
    let low = 10000;
    let high = Math.min(ephemeralLow - 10001, 55535);
    if (high - low < 1000) {
      low = 30000;
      high = 55535;
    }
    const size = high - low + 1;
    const held = [];
    const found = [];
    const listen = port => new Promise(resolve => {
      const server = net.createServer();
      server.once("error", () => resolve(null));
      server.listen(port, "127.0.0.1", () => resolve(server));
    });
    (async () => {
      const first = Math.floor(Math.random() * size);
      for (let i = 0; i < size && found.length < count; i++) {
        const port = low + ((first + i) % size);
        const client = await listen(port);
        if (!client) continue;
        held.push(client);
        const bus = await listen(port + 10000);
        if (!bus) continue;
        held.push(bus);
        found.push(port);
      }
      held.forEach(server => server.close());
      if (found.length < count) {
        console.error("no " + count + " free port pairs between " + low + " and " + high);
        process.exit(1);
      }
      process.stdout.write(found.join(" "));
    })();
  ' "$count"
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

# Joins running cluster-enabled redis-servers on the given loopback ports into one cluster (the first half masters, one
# replica each) and waits until every node reports cluster_state:ok. Used by start_redis_cluster and by the failover tests,
# which start nodes of their own.
create_redis_cluster() {
  ensure_redis
  local port nodes=()
  for port in "$@"; do
    nodes+=("127.0.0.1:$port")
  done
  if ! "$REDIS_CLI_BIN" --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$SERVER_LOGS/redis-cluster-create-$1.log" 2>&1; then
    echo "redis-cli --cluster create failed; its log:" >&2
    cat "$SERVER_LOGS/redis-cluster-create-$1.log" >&2
    return 1
  fi
  # Nodes learn each other's roles through the cluster bus after cluster_state:ok: a node is ready once it reports ok and
  # sees every replica as one.
  local replicas=$(($# / 2))
  for _ in $(seq 1 300); do
    local ready=0
    for port in "$@"; do
      if "$REDIS_CLI_BIN" -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' \
        && [ "$("$REDIS_CLI_BIN" -h 127.0.0.1 -p "$port" cluster nodes 2>/dev/null | awk '$3 ~ /slave/' | wc -l)" -eq "$replicas" ]; then
        ready=$((ready + 1))
      fi
    done
    [ "$ready" -eq "$#" ] && return 0
    sleep 0.1
  done
  echo "the Redis Cluster on ports $* did not reach cluster_state:ok with $replicas replicas seen by every node within 30 s" >&2
  return 1
}

# Starts a Redis Cluster of 3 masters and 3 replicas on loopback, without persistence, and exports
# POLLY_DISTRIBUTED_REDIS_CLUSTER (every node's host:port, comma-separated).
start_redis_cluster() {
  ensure_redis
  local attempt ports port pids endpoints i
  for attempt in 1 2 3; do
    read -r -a ports <<<"$(free_cluster_ports 6)"
    pids=()
    endpoints=()
    for port in "${ports[@]}"; do
      mkdir -p "$SERVER_LOGS/redis-cluster-$port"
      "$REDIS_SERVER_BIN" --bind 127.0.0.1 --port "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
        --cluster-node-timeout 5000 --save "" --appendonly no --daemonize no --dir "$SERVER_LOGS/redis-cluster-$port" \
        >"$SERVER_LOGS/redis-cluster-$port.log" 2>&1 &
      pids+=($!)
      endpoints+=("127.0.0.1:$port")
    done
    SERVER_PIDS+=("${pids[@]}")
    if wait_for_cluster_nodes "${pids[*]}" "${ports[@]}"; then
      create_redis_cluster "${ports[@]}" || return 1
      POLLY_DISTRIBUTED_REDIS_CLUSTER="$(IFS=,; echo "${endpoints[*]}")"
      export POLLY_DISTRIBUTED_REDIS_CLUSTER
      echo "redis cluster (pids ${pids[*]}) on $POLLY_DISTRIBUTED_REDIS_CLUSTER" >&2
      return 0
    fi
    # A node exits when its port was taken after the search: start all six again on other ports.
    echo "a Redis Cluster node did not start (attempt $attempt of 3):" >&2
    for i in "${!ports[@]}"; do
      kill -0 "${pids[$i]}" 2>/dev/null || tail -3 "$SERVER_LOGS/redis-cluster-${ports[$i]}.log" >&2 || true
    done
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    local alive=() pid
    for pid in "${SERVER_PIDS[@]}"; do
      [[ " ${pids[*]} " == *" $pid "* ]] || alive+=("$pid")
    done
    SERVER_PIDS=("${alive[@]}")
  done
  return 1
}

# Waits until every node ("PID PID ..." then their ports, in the same order) listens, or returns 1 as soon as one exits.
wait_for_cluster_nodes() {
  local pids port i listening
  read -r -a pids <<<"$1"
  shift
  local ports=("$@")
  for _ in $(seq 1 100); do
    listening=0
    for i in "${!ports[@]}"; do
      kill -0 "${pids[$i]}" 2>/dev/null || return 1
      port=${ports[$i]}
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        listening=$((listening + 1))
      fi
    done
    [ "$listening" -eq "${#ports[@]}" ] && return 0
    sleep 0.1
  done
  return 1
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
