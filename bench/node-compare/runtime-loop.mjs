// A minimal Node 20 Lambda function with aws-jwt-verify, for bench/invocation_cpu.py: the Runtime API loop
// (GET .../invocation/next, POST .../invocation/{id}/response) around a handler that verifies the bearer token
// of an API Gateway HTTP API event and requires the `read:data` grant, as the Rust `user` function does.
// The key set is handed over from a file (a warm verifier: no network, as the Rust function after its first
// fetch). aws-jwt-verify does not remember verified tokens: every invocation checks the signature.
//
//   AWS_LAMBDA_RUNTIME_API=host:port JWKS_FILE=jwks.json JWT_ISSUER=iss node runtime-loop.mjs
import { readFileSync } from "node:fs";
import http from "node:http";
import { JwtRsaVerifier } from "aws-jwt-verify";

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const issuer = process.env.JWT_ISSUER;
const verifier = JwtRsaVerifier.create({ issuer, audience: null, jwksUri: `${issuer}/.well-known/jwks.json` });
verifier.cacheJwks(JSON.parse(readFileSync(process.env.JWKS_FILE, "utf8")));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = "/2018-06-01/runtime/invocation";

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host, port, method, path, agent, headers: body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {} }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve({ headers: response.headers, body: Buffer.concat(chunks).toString() }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

function answer(statusCode, body) {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

async function handle(event) {
  const authorization = event.headers?.authorization ?? "";
  const match = /^bearer (.+)$/i.exec(authorization);
  if (!match) return answer(401, { success: false, error: "Missing or invalid Authorization header" });
  let claims;
  try {
    claims = await verifier.verify(match[1]);
  } catch (error) {
    return answer(401, { success: false, error: `JWT verification failed: ${error.message}` });
  }
  if (!(claims.permissions ?? []).includes("read:data")) {
    return answer(403, { success: false, error: "Missing required scope: 'read:data'" });
  }
  return answer(200, { success: true, message: "User API call succeeded!", claims });
}

for (;;) {
  const next = await call("GET", `${base}/next`);
  const id = next.headers["lambda-runtime-aws-request-id"];
  const result = await handle(JSON.parse(next.body));
  await call("POST", `${base}/${id}/response`, JSON.stringify(result));
}
