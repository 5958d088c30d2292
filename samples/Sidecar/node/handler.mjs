// Calls the dependency only when the circuit breaker sidecar allows it; fails open when the sidecar is unreachable.
const sidecar = `http://127.0.0.1:${process.env.CIRCUITBREAKER_PORT ?? "4243"}`;
const circuit = `${process.env.AWS_LAMBDA_FUNCTION_NAME ?? "node-example"}:downstream`;

// One loopback call; null when the sidecar cannot answer (then the caller fails open).
async function ask(method, path) {
  try {
    const response = await fetch(sidecar + path, { method, signal: AbortSignal.timeout(500) });
    return await response.json();
  } catch {
    return null;
  }
}

export const handler = async () => {
  const check = await ask("GET", `/circuit/${circuit}`);
  if (check && !check.allowed) {
    return { statusCode: 503, body: JSON.stringify({ outcome: "rejected", state: check.state }) };
  }

  // A half-open probe's report carries its token, so the sidecar knows the probe has ended.
  const token = check?.probeToken ? `?probeToken=${check.probeToken}` : "";
  try {
    const response = await fetch(process.env.DOWNSTREAM_URL, { signal: AbortSignal.timeout(2000) });
    if (response.status >= 500) throw new Error(`downstream answered ${response.status}`);
    await ask("POST", `/circuit/${circuit}/success${token}`);
    return { statusCode: 200, body: await response.text() };
  } catch (error) {
    await ask("POST", `/circuit/${circuit}/failure${token}`);
    return { statusCode: 502, body: JSON.stringify({ outcome: "failed", error: String(error) }) };
  }
};
