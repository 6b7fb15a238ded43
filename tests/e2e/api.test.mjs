// The four functions driven over HTTP through `cargo lambda watch` (the same routes as behind API Gateway),
// against the local issuer: what a person running the README's curl examples sees.
//
//   node --test tests/e2e/api.test.mjs        (M2M_BASE_URL to reuse a running stack)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as localStack from './stack.mjs';

let baseUrl = process.env.M2M_BASE_URL ? process.env.M2M_BASE_URL.replace(/\/+$/, '') : '';

before(async () => {
  if (!baseUrl) baseUrl = await localStack.start();
});
after(() => localStack.stop());

async function post(route, { body, token } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${baseUrl}${route}`, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

test('a token from the token function opens exactly the endpoints its grants allow', async () => {
  const issued = await post('/m2m/token', { body: { accessKey: 'dev-reader-key', scopes: ['read:data'] } });
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  assert.equal(issued.headers.get('cache-control'), 'no-store');
  assert.equal(issued.body.decodedPayload.sub, 'K2LocalReader');
  assert.deepEqual(issued.body.scopes, ['read:data']);
  const token = issued.body.jwt;

  const protectedCall = await post('/api/protected', { token });
  assert.equal(protectedCall.status, 200);
  assert.equal(protectedCall.body.message, 'Protected API call succeeded!');
  const user = await post('/api/user', { token });
  assert.equal(user.status, 200);
  assert.equal(user.body.message, 'User API call succeeded!');
  const admin = await post('/api/admin', { token });
  assert.equal(admin.status, 403);
  assert.deepEqual(admin.body, { success: false, error: "Missing required scope: 'admin'" });
  assert.equal(admin.headers.get('www-authenticate'), 'Bearer error="insufficient_scope", scope="admin"');

  const adminToken = (await post('/m2m/token', { body: { accessKey: 'dev-admin-key' } })).body.jwt;
  assert.equal((await post('/api/admin', { token: adminToken })).status, 200);
});

test('the configured demo key is the default, and errors keep the contract', async () => {
  const byDefault = await post('/m2m/token', { body: {} });
  assert.equal(byDefault.status, 200);
  const selfGrant = await post('/m2m/token', { body: { accessKey: 'dev-reader-key', scopes: ['admin'] } });
  assert.equal(selfGrant.status, 403);
  assert.equal(selfGrant.body.error, "Scope not granted to this access key: 'admin'");
  const wrongKey = await post('/m2m/token', { body: { accessKey: 'not-a-key' } });
  assert.equal(wrongKey.status, 401);
  assert.match(wrongKey.body.error, /^Authentication failed: /);
  const noHeader = await post('/api/protected');
  assert.equal(noHeader.status, 401);
  assert.equal(noHeader.body.error, 'Missing or invalid Authorization header');
  const garbage = await post('/api/user', { token: 'not.a.jwt' });
  assert.equal(garbage.status, 401);
  assert.match(garbage.body.error, /^JWT verification failed: /);
  assert.equal(garbage.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
});

test('the page and its configuration are served on the same origin', async () => {
  const page = await fetch(`${baseUrl}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  const config = await (await fetch(`${baseUrl}/config.json`)).json();
  assert.equal(config.projectId, 'P2LocalDevProject');
  assert.equal(config.apiBaseUrl, '');
  assert.equal((await fetch(`${baseUrl}/../Cargo.toml`)).status, 404);
  assert.equal((await fetch(`${baseUrl}/.env`)).status, 404);
});
