"""Starts each build of the sample as a fresh execution environment against a stand-in Lambda Runtime API, serves it one
API Gateway event, and times init (start to the first 'next'), the first invocation, and the process's CPU time.
Called by eng/cold-start.sh."""
import http.server, json, os, resource, statistics, subprocess, threading, time, urllib.request

RUNS = 20
builds = os.environ["BUILDS"]

class Downstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args): pass

class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # invocation/next: the first event, then hold until the process is stopped
        self.server.marks.setdefault("next", time.perf_counter())
        if self.server.served:
            time.sleep(30); return
        self.server.served = True
        body = json.dumps({"path": "/", "httpMethod": "GET"}).encode()
        self.send_response(200); self.send_header("Lambda-Runtime-Aws-Request-Id", "cold-1")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.answer = self.rfile.read(length)
        self.server.marks["response"] = time.perf_counter()
        self.send_response(202); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass

def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

downstream = serve(Downstream)

def table():
    headers = {"X-Amz-Target": "DynamoDB_20120810.CreateTable", "Content-Type": "application/x-amz-json-1.0", "X-Amz-Date": "20260101T000000Z",
               "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0"}
    body = b'{"TableName":"coldstart","AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}'
    try: urllib.request.urlopen(urllib.request.Request(os.environ["DYNAMODB_SERVICE_URL"], body, headers)).read()
    except Exception: pass

table()

def run(build, breaker):
    api = serve(RuntimeApi); api.marks = {}; api.served = False; api.answer = None
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.server_address[1]}", DOWNSTREAM_URL=f"http://127.0.0.1:{downstream.server_address[1]}/",
               AWS_LAMBDA_FUNCTION_NAME="coldstart", CIRCUITBREAKER_TABLE="coldstart", Logging__LogLevel__Default="Warning")
    if breaker == "polly":
        env.update(CIRCUITBREAKER_KIND="in-process", CIRCUITBREAKER_STORE="memory")
    elif breaker == "memory":
        env.update(CIRCUITBREAKER_KIND="distributed", CIRCUITBREAKER_STORE="memory")
    else:
        env.update(CIRCUITBREAKER_KIND="distributed", CIRCUITBREAKER_STORE="dynamodb")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    process = subprocess.Popen([os.path.join(builds, build, "bootstrap")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while "response" not in api.marks and process.poll() is None and time.perf_counter() - began < 30:
        time.sleep(0.001)
    process.kill(); process.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    api.shutdown()
    assert api.answer and b'"statusCode":200' in api.answer, f"{build}/{breaker}: no successful answer: {api.answer}"
    return ((api.marks["next"] - began) * 1000, (api.marks["response"] - api.marks["next"]) * 1000,
            (api.marks["response"] - began) * 1000, ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000)

print(f"Cold start of samples/HttpClientLambda, first invocation through the Runtime API, median of {RUNS} fresh processes per variant, the variants interleaved, on this 2-core machine (CPU: the whole process's user+system time, which on a 512 MB Lambda stretches into wall time).")
print()
print("| build | breaker | init (start to first 'next') | first invocation | start to first answer | CPU time |")
print("|---|---|---:|---:|---:|---:|")
breakers = ["polly", "memory", "distributed"]
for build in ["jit", "r2r", "composite", "aot"]:
    for breaker in breakers:
        run(build, breaker)  # one warm-up start each: disk cache
    # Interleaved, so that a slow spell of the machine falls on every variant alike.
    samples = {breaker: [] for breaker in breakers}
    for _ in range(RUNS):
        for breaker in breakers:
            samples[breaker].append(run(build, breaker))
    for breaker in breakers:
        medians = [statistics.median(column) for column in zip(*samples[breaker])]
        label = {"jit": "JIT", "r2r": "ReadyToRun", "composite": "ReadyToRun composite, self-contained", "aot": "NativeAOT"}[build]
        name = {"polly": "Polly's breaker, no store", "memory": "distributed, in-memory store (this library alone)", "distributed": "distributed, DynamoDB"}[breaker]
        print(f"| {label} | {name} | {medians[0]:.0f} ms | {medians[1]:.0f} ms | {medians[2]:.0f} ms | {medians[3]:.0f} ms |")

# Where the DynamoDB store's extra start-up goes: bench/Polly.Distributed.ColdStartPhases, one fresh process per run, as
# published by eng/cold-start.sh next to PHASES: ReadyToRun on the shared framework, and composite ReadyToRun self-contained.
phases = os.environ.get("PHASES")
if phases:
    url = os.environ["DYNAMODB_SERVICE_URL"]
    framework = ["dotnet", os.path.join(phases, "Polly.Distributed.ColdStartPhases.dll")]
    composite = [os.path.join(phases + "-composite", "Polly.Distributed.ColdStartPhases")]
    def phase_run(arguments):
        done = subprocess.run(arguments, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(arguments)} failed ({done.returncode}): {done.stderr[-2000:]}"
        return done.stdout.strip()
    phase_run([*framework, url, "create"])
    variants = [
        ("ReadyToRun: client as AddDynamoDbCircuitStateStore builds it (SDK credential chain)", framework, "default", []),
        ("ReadyToRun: credentials from the environment handed to the client", framework, "explicit", []),
        ("ReadyToRun: SDK credential chain, after one plain HttpClient request", framework, "default", ["http-first"]),
        ("composite ReadyToRun, self-contained: SDK credential chain", composite, "default", []),
        ("composite ReadyToRun, self-contained: after one plain HttpClient request", composite, "default", ["http-first"]),
    ]
    samples = {index: [] for index in range(len(variants))}
    for _ in range(RUNS):
        for index, (_, command, mode, extra) in enumerate(variants):
            line = phase_run([*command, url, mode, *extra])
            samples[index].append([float(value) for value in line.split("\t")])
    print()
    print(f"Where the DynamoDB store's start-up goes (`bench/Polly.Distributed.ColdStartPhases`, median of {RUNS} fresh processes; JIT = time and methods compiled at run time during the first read):")
    print()
    print("| variant | plain HttpClient request first | AmazonDynamoDBClient constructed | credentials resolved | store's first read | of which JIT | methods JIT-compiled | second read |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for index, (name, _, _, extra) in enumerate(variants):
        medians = [statistics.median(column) for column in zip(*samples[index])]
        plain = f"{medians[1]:.0f} ms" if extra else "-"
        print(f"| {name} | {plain} | {medians[2]:.0f} ms | {medians[3]:.1f} ms | {medians[4]:.0f} ms | {medians[6]:.0f} ms | {medians[7]:.0f} | {medians[5]:.1f} ms |")
