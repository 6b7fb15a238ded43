// A certified OpenID Provider (panva's `oidc-provider`) set up as an OAuth 2.0 authorization server for
// machine-to-machine clients, for the interoperability tests of AUTH_PROVIDER=oidc (tests/rust/oidc.rs, and the
// deployed-shape suite's secret checks, infra/tests/secret_shape.py).
//
//   node tests/interop/oidc-provider.mjs [--exit-with-stdin]
//     prints `READY http://127.0.0.1:PORT` and serves until killed (or, with --exit-with-stdin, until its
//     standard input closes, so that a test process that dies cannot leave it behind). PORT=N picks the port.
//
// Clients (client_secret_basic, grant type client_credentials only):
//   m2m-full    secret `full-secret:with/special+chars%`  may ask for `read:data admin`
//   m2m-reader  secret `reader-secret`                     may ask for `read:data` only
// Access tokens are RS256 JWTs (RFC 9068, `typ: at+jwt`) for the resource `https://api.m2m.local/` (the
// default resource), or `https://other.m2m.local/` when a client names that one with `resource=`.
// Plain http on 127.0.0.1 only: nothing here is meant to leave the machine.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors } from 'oidc-provider';

export const API = 'https://api.m2m.local/';
export const OTHER_API = 'https://other.m2m.local/';
export const CLIENTS = {
  full: { id: 'm2m-full', secret: 'full-secret:with/special+chars%', scope: 'read:data admin' },
  reader: { id: 'm2m-reader', secret: 'reader-secret', scope: 'read:data' },
};
const RESOURCE_SCOPES = 'read:data admin';

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `interop-${Date.now().toString(36)}`, alg: 'RS256', use: 'sig' };
}

function resourceServer(audience) {
  return {
    scope: RESOURCE_SCOPES,
    audience,
    accessTokenFormat: 'jwt',
    accessTokenTTL: 600,
    jwt: { sign: { alg: 'RS256' } },
  };
}

/** Starts the provider on 127.0.0.1 (`port` 0 = a free one); resolves to `{ issuer, close }`. */
export async function startProvider({ port = 0 } = {}) {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: Object.values(CLIENTS).map(({ id, secret, scope }) => ({
      client_id: id,
      client_secret: secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope,
    })),
    // Listing the API scopes here makes each client's `scope` an allow-list: a client asking for a scope it
    // was not given gets `invalid_scope` instead of a token without it.
    scopes: ['openid', 'offline_access', 'read:data', 'admin'],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resourceIndicator) {
          if (resourceIndicator === API || resourceIndicator === OTHER_API) {
            return resourceServer(resourceIndicator);
          }
          throw new errors.InvalidTarget();
        },
      },
    },
  });
  // Errors the provider answers with (invalid_client, invalid_scope, ...) are expected in these tests.
  provider.on('server_error', (ctx, error) => console.error('oidc-provider server_error:', error));
  server.on('request', provider.callback());
  return {
    issuer,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { issuer, close } = await startProvider({ port: Number(process.env.PORT ?? 0) });
  const stop = () => close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (process.argv.includes('--exit-with-stdin')) {
    process.stdin.on('end', stop);
    process.stdin.resume();
  }
  console.log(`READY ${issuer}`);
}
