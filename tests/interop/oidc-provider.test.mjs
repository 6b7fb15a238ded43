// The conventions of oidc-provider (a certified OpenID Provider) that tests/rust/oidc.rs relies on, checked
// on their own with `jose`, so that a change of the pinned version shows here first and plainly.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

import { API, CLIENTS, OTHER_API, startProvider } from './oidc-provider.mjs';

let provider;
let discovery;

before(async () => {
  provider = await startProvider();
  discovery = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
});

after(async () => {
  await provider?.close();
});

/** client_secret_basic (RFC 6749 section 2.3.1: each part form-encoded first). */
async function token({ id, secret }, form) {
  const basic = Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...form }),
  });
  return { status: response.status, body: await response.json() };
}

test('discovery names the issuer, the token endpoint and the keys', () => {
  assert.equal(discovery.issuer, provider.issuer);
  assert.ok(discovery.token_endpoint.startsWith(`${provider.issuer}/`));
  assert.ok(discovery.jwks_uri.startsWith(`${provider.issuer}/`));
  assert.ok(discovery.grant_types_supported.includes('client_credentials'));
  assert.ok(discovery.token_endpoint_auth_methods_supported.includes('client_secret_basic'));
});

test('client credentials give an RS256 at+jwt access token whose scope claim is the granted set', async () => {
  const { status, body } = await token(CLIENTS.full, { scope: 'read:data admin' });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.scope, 'read:data admin');
  const header = decodeProtectedHeader(body.access_token);
  assert.equal(header.alg, 'RS256');
  assert.equal(header.typ, 'at+jwt');
  assert.ok(header.kid);
  const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer: provider.issuer,
    audience: API,
    typ: 'at+jwt',
    algorithms: ['RS256'],
  });
  assert.equal(payload.scope, 'read:data admin');
  assert.equal(payload.client_id, CLIENTS.full.id);
  assert.equal(payload.sub, CLIENTS.full.id);
});

test('refusals: invalid_client (401), invalid_scope naming the scope (400), unknown scopes dropped', async () => {
  const wrong = await token({ ...CLIENTS.full, secret: 'wrong' }, { scope: 'read:data' });
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.body, { error: 'invalid_client', error_description: 'client authentication failed' });

  const notAllowed = await token(CLIENTS.reader, { scope: 'read:data admin' });
  assert.equal(notAllowed.status, 400);
  assert.deepEqual(notAllowed.body, { error: 'invalid_scope', error_description: 'requested scope is not allowed', scope: 'admin' });

  const unknown = await token(CLIENTS.reader, { scope: 'read:data write:data' });
  assert.equal(unknown.status, 200);
  assert.equal(unknown.body.scope, 'read:data');
});

test('another resource indicator gives a token for another audience', async () => {
  const { status, body } = await token(CLIENTS.reader, { resource: OTHER_API, scope: 'read:data' });
  assert.equal(status, 200, JSON.stringify(body));
  const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url'));
  assert.equal(claims.aud, OTHER_API);
  const unknown = await token(CLIENTS.reader, { resource: 'https://unknown.m2m.local/' });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error, 'invalid_target');
});
