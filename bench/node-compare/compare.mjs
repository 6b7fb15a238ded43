// Verifies one realistic Descope token N times with each Node library and prints the time per verification
// and its ratio to the Rust hot path (criterion's `auth/verify_grants_new`, case 1: a token checked in full, as every
// Node library checks every token).
//
//   node compare.mjs --token FILE --jwks FILE --issuer ISS --rust-ns NS [--n 20000]
//
// Every library gets its keys in memory beforehand (no network, as a warm Rust key cache), checks the RS256
// signature, `exp` and `iss`, and returns the claims. None of them computes grants; the Rust number includes that.
import { readFileSync } from "node:fs";
import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import { createLocalJWKSet, jwtVerify, importJWK } from "jose";
import jsonwebtoken from "jsonwebtoken";
import { JwtRsaVerifier } from "aws-jwt-verify";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, value, i, all) => (i % 2 === 0 ? [...pairs, [value.replace(/^--/, ""), all[i + 1]]] : pairs), []),
);
const token = readFileSync(args.token, "utf8").trim();
const jwks = JSON.parse(readFileSync(args.jwks, "utf8"));
const issuer = args.issuer;
const rustNs = Number(args["rust-ns"]);
const n = Number(args.n ?? 20000);

const [encodedHeader, , encodedSignature] = token.split(".");
const kid = JSON.parse(Buffer.from(encodedHeader, "base64url")).kid;
const jwk = jwks.keys.find((k) => k.kid === kid);
const keyObject = createPublicKey({ key: jwk, format: "jwk" });
const signingInput = Buffer.from(token.slice(0, token.lastIndexOf(".")));
const signature = Buffer.from(encodedSignature, "base64url");

const localJwks = createLocalJWKSet(jwks);
const joseKey = await importJWK(jwk, "RS256");
const awsVerifier = JwtRsaVerifier.create({ issuer, audience: null, jwksUri: `${issuer}/.well-known/jwks.json` });
awsVerifier.cacheJwks(jwks);

const cases = [
  ["node:crypto verify only (Node's floor)", () => { if (!cryptoVerify("RSA-SHA256", signingInput, keyObject, signature)) throw new Error("bad"); }],
  ["jsonwebtoken 9 verify (KeyObject)", () => jsonwebtoken.verify(token, keyObject, { algorithms: ["RS256"], issuer })],
  ["jose 6 jwtVerify (local JWKS set)", () => jwtVerify(token, localJwks, { algorithms: ["RS256"], issuer })],
  ["jose 6 jwtVerify (imported key)", () => jwtVerify(token, joseKey, { algorithms: ["RS256"], issuer })],
  ["aws-jwt-verify 5 verifySync (cached JWKS)", () => awsVerifier.verifySync(token)],
  ["aws-jwt-verify 5 verify (async, cached JWKS)", () => awsVerifier.verify(token)],
];

const results = [];
for (const [name, fn] of cases) {
  for (let i = 0; i < Math.min(2000, n); i++) await fn(); // warm-up (JIT)
  const rounds = [];
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < n / 5; i++) await fn();
    rounds.push(Number(process.hrtime.bigint() - started) / (n / 5));
  }
  rounds.sort((a, b) => a - b);
  const ns = rounds[2];
  results.push({ name, ns, min: rounds[0], max: rounds[4], ratio: ns / rustNs });
}
console.log(`Node ${process.version}; Rust hot path (case 1): ${(rustNs / 1000).toFixed(2)} µs; ${n} verifications each, median of 5 rounds`);
for (const r of results) {
  console.log(`${r.name.padEnd(46)} ${(r.ns / 1000).toFixed(2).padStart(8)} µs (rounds ${(r.min / 1000).toFixed(2)}–${(r.max / 1000).toFixed(2)})  ${r.ratio.toFixed(2)}× Rust`);
}
if (args.json) {
  const { writeFileSync } = await import("node:fs");
  writeFileSync(args.json, JSON.stringify({ node: process.version, rustNs, n, results }, null, 2));
}
