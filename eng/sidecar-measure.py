"""Measures the published sidecar (called by eng/sidecar.sh measure): cold start to the first answered request, then
loopback latency of checks and reports. Python's own HTTP client is part of each figure."""
import http.client, os, statistics, subprocess, time, urllib.error, urllib.request

sidecar, port = os.environ["SIDECAR"], os.environ["PORT"]
env = dict(os.environ, CIRCUITBREAKER_PORT=port, CIRCUITBREAKER_CONSISTENCY="Atomic")

def dynamodb(target, body):
    # dynalite checks that requests are signed, not the signature.
    headers = {"X-Amz-Target": "DynamoDB_20120810." + target, "Content-Type": "application/x-amz-json-1.0", "X-Amz-Date": "20260101T000000Z",
               "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0"}
    try:
        return urllib.request.urlopen(urllib.request.Request(env["DYNAMODB_SERVICE_URL"], body.encode(), headers)).read().decode()
    except urllib.error.HTTPError as error:
        return error.read().decode()

table = env["CIRCUITBREAKER_TABLE"]
dynamodb("CreateTable", '{"TableName":"%s","AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}' % table)

def start():
    began = time.perf_counter()
    process = subprocess.Popen([sidecar], env=env, stderr=subprocess.DEVNULL)
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=1)
            connection.request("GET", "/circuit/measure-cold")
            connection.getresponse().read()
            return process, time.perf_counter() - began
        except OSError:
            time.sleep(0.001)

colds = []
for _ in range(20):
    process, elapsed = start()
    colds.append(elapsed * 1000)
    process.terminate()
    process.wait()

process, _ = start()
connection = http.client.HTTPConnection("127.0.0.1", int(port))
def timed(method, path, count):
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        connection.request(method, path)
        connection.getresponse().read()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]

check = timed("GET", "/circuit/measure-hot", 2000)
report = timed("POST", "/circuit/measure-hot/success", 2000)

# The checks above read the real table: a circuit opened through the sidecar is stored OPEN there.
for _ in range(5):
    connection.request("POST", "/circuit/measure-verify/failure")
    connection.getresponse().read()
stored = dynamodb("GetItem", '{"TableName":"%s","Key":{"id":{"S":"measure-verify"}}}' % table)
assert '"OPEN"' in stored, "the sidecar did not reach the table: " + stored
process.terminate()
process.wait()
print("| measure | median | p99 |")
print("|---|---:|---:|")
print(f"| cold start to the first answered check (process start, store client, first DynamoDB read), 20 starts | {statistics.median(colds):.0f} ms | {max(colds):.0f} ms (max) |")
print(f"| check, GET /circuit/{{id}} (one DynamoDB read on dynalite) | {check[0]:.2f} ms | {check[1]:.2f} ms |")
print(f"| report, POST /circuit/{{id}}/success on a closed circuit (no store call) | {report[0]:.2f} ms | {report[1]:.2f} ms |")
