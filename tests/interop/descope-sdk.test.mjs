// Wire compatibility of the local issuer (shared/descope-local) with software nobody on the team wrote:
// Descope's official Node SDK (`@descope/node-sdk`, pinned in tests/package.json) pointed at it with
// `baseUrl`, and panva's `jose` verifying its tokens from its published keys.
//
//   cargo build -p descope-local --bin descope-local && npm ci --prefix tests && node --test tests/interop/
//
// Where the SDK and the issuer disagree, the issuer is what gets fixed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import DescopeClient from '@descope/node-sdk';
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TARGET = process.env.CARGO_TARGET_DIR
  ? (isAbsolute(process.env.CARGO_TARGET_DIR) ? process.env.CARGO_TARGET_DIR : resolve(ROOT, process.env.CARGO_TARGET_DIR))
  : join(ROOT, 'target');
const BINARY = join(TARGET, 'debug', 'descope-local');
const PROJECT = 'P2LocalDevProject';

let issuer; // the child process
let base; // http://127.0.0.1:PORT
let issuerLog = ''; // its stderr: one line per request (never a key or a token)

/** Starts `descope-local --port 0` and resolves to its base URL once it prints its listening line. */
function startIssuer() {
  if (!existsSync(BINARY)) {
    throw new Error(
      `descope-local is not built (${BINARY} is missing): run \`cargo build -p descope-local --bin descope-local\` first`,
    );
  }
  issuer = spawn(BINARY, ['--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'info' },
  });
  issuer.stderr.setEncoding('utf8');
  issuer.stderr.on('data', (chunk) => {
    issuerLog += chunk;
  });
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`descope-local printed no listening line within 30 s:\n${issuerLog}`)), 30_000);
    issuer.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${BINARY}: ${error.message}`));
    });
    issuer.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`descope-local exited early (code ${code}, signal ${signal}):\n${issuerLog}`));
    });
    issuer.stdout.setEncoding('utf8');
    issuer.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = stdout.match(/^descope-local listening on (http:\/\/\S+) project=(\S+)$/m);
      if (match) {
        clearTimeout(timer);
        assert.equal(match[2], PROJECT);
        resolvePromise(match[1]);
      }
    });
  });
}

function sdk(options = {}) {
  return DescopeClient({ projectId: PROJECT, baseUrl: base, ...options });
}

/** The token's payload, decoded without verification (to compare with what the SDK returns). */
function payloadOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

async function rejectsWith(promise, pattern) {
  await assert.rejects(promise, (error) => {
    assert.match(error.message, pattern);
    return true;
  });
}

before(async () => {
  base = await startIssuer();
});

after(async () => {
  if (issuer && issuer.exitCode === null && issuer.signalCode === null) {
    const exited = new Promise((resolvePromise) => issuer.once('exit', resolvePromise));
    issuer.kill('SIGTERM');
    await exited;
  }
});

describe('@descope/node-sdk against descope-local', () => {
  test('exchangeAccessKey returns a session the SDK validates, with the key\'s roles and permissions', async () => {
    const client = sdk();
    const info = await client.exchangeAccessKey('dev-admin-key');
    assert.equal(typeof info.jwt, 'string');
    assert.equal(info.jwt.split('.').length, 3);
    assert.equal(info.token.sub, 'K2LocalAdmin');
    assert.equal(info.token.drn, 'DS');
    // The SDK accepts the issuer only if it names the project; it then reports the project id itself.
    assert.equal(info.token.iss, PROJECT);
    assert.equal(payloadOf(info.jwt).iss, `${base}/v1/apps/${PROJECT}`);
    assert.ok(info.token.exp > Date.now() / 1000);
    assert.deepEqual(decodeProtectedHeader(info.jwt), { alg: 'RS256', kid: decodeProtectedHeader(info.jwt).kid, typ: 'JWT' });

    assert.equal(client.validatePermissions(info, ['read:data', 'write:data']), true);
    assert.equal(client.validatePermissions(info, ['admin']), false, 'admin is a role, not a permission');
    assert.equal(client.validateRoles(info, ['admin']), true);
    assert.equal(client.validateRoles(info, ['user']), false);
    assert.deepEqual(client.getMatchedPermissions(info, ['read:data', 'delete:data']), ['read:data']);
    assert.deepEqual(client.getMatchedRoles(info, ['admin', 'user']), ['admin']);

    // The raw answer has the fields of core-js-sdk's ExchangeAccessKeyResponse.
    const raw = await client.accessKey.exchange('dev-admin-key');
    assert.equal(raw.ok, true);
    assert.equal(raw.data.keyId, 'K2LocalAdmin');
    assert.equal(typeof raw.data.sessionJwt, 'string');
    assert.equal(raw.data.expiration, payloadOf(raw.data.sessionJwt).exp);

    const again = await client.validateJwt(info.jwt);
    assert.equal(again.token.sub, 'K2LocalAdmin');
    const session = await client.validateSession(info.jwt);
    assert.equal(session.token.sub, 'K2LocalAdmin');
  });

  test('a reader key holds read:data and the user role only', async () => {
    const client = sdk();
    const info = await client.exchangeAccessKey('dev-reader-key');
    assert.equal(info.token.sub, 'K2LocalReader');
    assert.equal(client.validatePermissions(info, ['read:data']), true);
    assert.equal(client.validatePermissions(info, ['write:data']), false);
    assert.equal(client.validateRoles(info, ['user']), true);
    assert.equal(client.validateRoles(info, ['admin']), false);

    const nothing = await client.exchangeAccessKey('dev-nogrants-key');
    assert.equal(client.validatePermissions(nothing, ['read:data']), false);
    assert.equal(client.validateRoles(nothing, ['user']), false);
    assert.deepEqual(nothing.token.roles, []);
    assert.deepEqual(nothing.token.permissions, []);
  });

  test('custom claims arrive under nsec, never at the top level', async () => {
    const client = sdk();
    const info = await client.exchangeAccessKey('dev-admin-key', { customClaims: { scope: 'read:data' } });
    assert.deepEqual(info.token.nsec, { scope: 'read:data' });
    assert.equal(info.token.scope, undefined);

    // Over Descope's limits (at most 100 custom claims): the issuer's 400, Descope-style.
    const tooMany = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`claim${i}`, 'x']));
    const refused = await client.accessKey.exchange('dev-admin-key', { customClaims: tooMany });
    assert.equal(refused.code, 400);
    assert.equal(refused.error.errorCode, 'E011003');
    assert.match(refused.error.errorMessage, /customClaims/);
  });

  test('tenant variants see only the selected tenant\'s grants', async () => {
    const client = sdk();
    const info = await client.exchangeAccessKey('dev-tenant-key', { selectedTenant: 'T2Acme' });
    assert.equal(info.token.dct, 'T2Acme');
    assert.equal(client.getCurrentTenant(info.jwt), 'T2Acme');
    assert.deepEqual(client.getTenants(info.jwt).sort(), ['T2Acme', 'T2Other']);
    assert.equal(client.validateTenantRoles(info, 'T2Acme', ['admin']), true);
    assert.equal(client.validateTenantPermissions(info, 'T2Acme', ['read:data']), true);
    assert.equal(client.validateTenantPermissions(info, 'T2Other', ['write:data']), true);
    assert.equal(client.validateTenantRoles(info, 'T2Other', ['admin']), false);
    assert.equal(client.validateTenantPermissions(info, 'T2Other', ['read:data']), false);
    assert.equal(client.validateTenantRoles(info, 'T2Nowhere', []), false, 'a tenant the key is not in');
    // Project-level checks do not merge tenants.
    assert.equal(client.validateRoles(info, ['admin']), false);
    assert.equal(client.validatePermissions(info, ['read:data']), false);
    assert.deepEqual(client.getMatchedTenantRoles(info, 'T2Acme', ['admin', 'user']), ['admin']);

    // A tenant the key does not belong to: the issuer's 400, Descope-style.
    const refused = await client.accessKey.exchange('dev-reader-key', { selectedTenant: 'T2Acme' });
    assert.equal(refused.ok, false);
    assert.equal(refused.code, 400);
    assert.equal(refused.error.errorCode, 'E011003');
    await rejectsWith(
      client.exchangeAccessKey('dev-reader-key', { selectedTenant: 'T2Acme' }),
      /^could not exchange access key - selected tenant is not associated with this access key$/,
    );
  });

  test('disabled and expired keys fail as the SDK expects', async () => {
    const client = sdk();
    for (const [key, reason] of [['dev-disabled-key', 'access key is disabled'], ['dev-expired-key', 'access key has expired']]) {
      await rejectsWith(client.exchangeAccessKey(key), new RegExp(`^could not exchange access key - ${reason}$`));
      const raw = await client.accessKey.exchange(key);
      assert.equal(raw.ok, false);
      assert.equal(raw.code, 401);
      assert.equal(raw.error.errorCode, 'E062803');
      assert.equal(raw.error.errorMessage, reason);
      assert.equal(raw.data, undefined);
    }
  });

  test('an unknown key surfaces the issuer\'s Descope-style error', async () => {
    const client = sdk();
    const raw = await client.accessKey.exchange('no-such-key');
    assert.equal(raw.ok, false);
    assert.equal(raw.code, 401);
    assert.equal(raw.response.headers.get('content-type'), 'application/json');
    assert.deepEqual(raw.error, {
      errorCode: 'E062803',
      errorDescription: 'Invalid access key',
      errorMessage: 'access key is invalid',
      message: 'access key is invalid',
    });
    await rejectsWith(client.exchangeAccessKey('no-such-key'), /^could not exchange access key - access key is invalid$/);
    await assert.rejects(client.exchangeAccessKey(''), /access key must not be empty/);

    // Another project's client: the issuer refuses the project before looking at the key.
    const stranger = DescopeClient({ projectId: 'P2SomeoneElse', baseUrl: base });
    const other = await stranger.accessKey.exchange('dev-admin-key');
    assert.equal(other.code, 401);
    assert.equal(other.error.errorCode, 'E011003');
    assert.doesNotMatch(JSON.stringify(other.error), /dev-admin-key/);
  });

  test('management keys: the third part of the authorization is ignored and the license is served', async () => {
    const withAuthKey = sdk({ authManagementKey: 'local-auth-management-key' });
    const info = await withAuthKey.exchangeAccessKey('dev-reader-key');
    assert.equal(info.token.sub, 'K2LocalReader');

    // Given a management key, the SDK asks for the license at start; the issuer answers it.
    sdk({ managementKey: 'local-management-key' });
    const deadline = Date.now() + 5_000;
    while (!/path=\/v1\/mgmt\/license status=200/.test(issuerLog) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(issuerLog, /path=\/v1\/mgmt\/license status=200/);
    const license = await fetch(`${base}/v1/mgmt/license`, { headers: { authorization: `Bearer ${PROJECT}:local-management-key` } });
    assert.equal(license.status, 200);
    assert.equal(typeof (await license.json()).rateLimitTier, 'string');
  });

  test('a tampered token is refused by the SDK', async () => {
    const client = sdk();
    const { jwt } = await client.exchangeAccessKey('dev-reader-key');
    const [header, , signature] = jwt.split('.');
    const claims = payloadOf(jwt);
    claims.roles = ['admin'];
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    // The SDK bundles its own jose, so the error is matched by its code rather than its class.
    await assert.rejects(client.validateJwt(forged), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  test('key rotation: new tokens carry the new kid, old and new tokens both validate', async () => {
    const client = sdk();
    const before = await client.exchangeAccessKey('dev-admin-key');
    const oldKid = decodeProtectedHeader(before.jwt).kid;

    const rotated = await fetch(`${base}/local/rotate-keys`, { method: 'POST' });
    assert.equal(rotated.status, 200);
    const { kid: newKid } = await rotated.json();
    assert.equal(typeof newKid, 'string');
    assert.notEqual(newKid, oldKid);

    // The SDK meets an unknown kid, fetches the keys again and validates.
    const after = await client.exchangeAccessKey('dev-admin-key');
    assert.equal(decodeProtectedHeader(after.jwt).kid, newKid);
    assert.equal((await client.validateJwt(after.jwt)).token.sub, 'K2LocalAdmin');
    assert.equal((await client.validateJwt(before.jwt)).token.sub, 'K2LocalAdmin');
    // A fresh client (empty key cache) too: the old key is still published.
    const fresh = sdk();
    assert.equal((await fresh.validateJwt(before.jwt)).token.sub, 'K2LocalAdmin');
    assert.equal((await fresh.validateJwt(after.jwt)).token.sub, 'K2LocalAdmin');

    const { keys } = await (await fetch(`${base}/v2/keys/${PROJECT}`)).json();
    const kids = keys.map((k) => k.kid);
    assert.ok(kids.includes(oldKid) && kids.includes(newKid), JSON.stringify(kids));
    assert.equal(new Set(kids).size, kids.length, 'kids are unique');
  });
});

describe('jose against descope-local', () => {
  test('published keys are public RS256 signing keys only', async () => {
    for (const path of [`/v2/keys/${PROJECT}`, `/${PROJECT}/.well-known/jwks.json`]) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type'), /json/);
      const { keys } = await response.json();
      assert.ok(keys.length >= 1);
      for (const key of keys) {
        assert.deepEqual(Object.keys(key).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use'], JSON.stringify(key));
        assert.equal(key.kty, 'RSA');
        assert.equal(key.alg, 'RS256');
        assert.equal(key.use, 'sig');
        assert.equal(key.e, 'AQAB');
        assert.ok(Buffer.from(key.n, 'base64url').length >= 256, 'RSA-2048 or larger');
      }
    }
  });

  test('tokens verify with createRemoteJWKSet and jwtVerify, issuer and all', async () => {
    const issuerUrl = `${base}/v1/apps/${PROJECT}`;
    const discovery = await (await fetch(`${issuerUrl}/.well-known/openid-configuration`)).json();
    assert.equal(discovery.issuer, issuerUrl);
    const client = sdk();
    const { jwt } = await client.exchangeAccessKey('dev-tenant-key', {
      selectedTenant: 'T2Acme',
      customClaims: { scope: 'read:data' },
    });
    for (const jwksUrl of [discovery.jwks_uri, `${base}/v2/keys/${PROJECT}`]) {
      const jwks = createRemoteJWKSet(new URL(jwksUrl));
      const { payload, protectedHeader } = await jwtVerify(jwt, jwks, {
        issuer: issuerUrl,
        algorithms: ['RS256'],
        typ: 'JWT',
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: 5,
      });
      assert.equal(protectedHeader.alg, 'RS256');
      assert.equal(payload.sub, 'K2LocalTenant');
      assert.equal(payload.drn, 'DS');
      assert.equal(payload.dct, 'T2Acme');
      assert.deepEqual(payload.nsec, { scope: 'read:data' });
      assert.deepEqual(payload.tenants.T2Acme, { roles: ['admin'], permissions: ['read:data'] });
      assert.equal(payload.aud, undefined);
      assert.equal(payload.exp - payload.iat, 600);
    }
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
    await assert.rejects(
      jwtVerify(jwt, jwks, { issuer: `https://api.descope.com/v1/apps/${PROJECT}` }),
      joseErrors.JWTClaimValidationFailed,
    );
    await assert.rejects(jwtVerify(jwt, jwks, { audience: PROJECT }), joseErrors.JWTClaimValidationFailed);
    await assert.rejects(jwtVerify(jwt, jwks, { algorithms: ['ES256'] }), joseErrors.JOSEAlgNotAllowed);
  });
});
