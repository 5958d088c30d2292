"""Calls the dependency only when the circuit breaker sidecar allows it; fails open when the sidecar is unreachable."""
import json
import os
import urllib.error
import urllib.request

SIDECAR = "http://127.0.0.1:" + os.environ.get("CIRCUITBREAKER_PORT", "4243")
CIRCUIT = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "python-example") + ":downstream"


def sidecar(method, path):
    """One loopback call; None when the sidecar cannot answer (then the caller fails open)."""
    try:
        request = urllib.request.Request(SIDECAR + path, method=method)
        with urllib.request.urlopen(request, timeout=0.5) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def handler(event, context):
    check = sidecar("GET", "/circuit/" + CIRCUIT)
    if check is not None and not check["allowed"]:
        return {"statusCode": 503, "body": json.dumps({"outcome": "rejected", "state": check["state"]})}

    # A half-open probe's report carries its token, so the sidecar knows the probe has ended.
    token = "?probeToken=" + check["probeToken"] if check and "probeToken" in check else ""
    try:
        with urllib.request.urlopen(os.environ["DOWNSTREAM_URL"], timeout=2) as response:
            body = response.read().decode()
        sidecar("POST", f"/circuit/{CIRCUIT}/success{token}")
        return {"statusCode": 200, "body": body}
    except (urllib.error.URLError, OSError) as error:
        sidecar("POST", f"/circuit/{CIRCUIT}/failure{token}")
        return {"statusCode": 502, "body": json.dumps({"outcome": "failed", "error": str(error)})}
