#!/usr/bin/env node
// A stand-in for the local stack, for working on the page only (NOT used by the committed test,
// which always runs against the real stack: scripts/local-stack.sh or M2M_BASE_URL).
//
//   node tests/e2e/mock-stack.mjs [port]      -> prints "READY http://127.0.0.1:<port>"
//   M2M_BASE_URL=http://127.0.0.1:<port> node --test tests/e2e/
//
// It serves ui/ with the page's Content-Security-Policy, generates config.json, and imitates the
// contract's API (CONTRACT.md sections 1 and 4) with the local issuer's dev keys and RS256 tokens.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { generateKeyPairSync, createSign, createVerify } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const uiDir = path.resolve(here, '..', '..', 'ui');
const port = Number(process.argv[2] || process.env.PORT || 0);
const ttl = Number(process.env.MOCK_TOKEN_TTL || 600);
const PROJECT = 'P2LocalDevProject';
const KID = 'local-key-1';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self' https:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const KEYS = {
  'dev-admin-key': { id: 'K2LocalAdmin', roles: ['admin'], permissions: ['read:data', 'write:data'] },
  'dev-reader-key': { id: 'K2LocalReader', roles: ['user'], permissions: ['read:data'] },
  'dev-nogrants-key': { id: 'K2LocalNoGrants', roles: [], permissions: [] },
  'dev-expired-key': { error: 'access key has expired' },
  'dev-disabled-key': { error: 'access key is disabled' },
  'dev-tenant-key': { id: 'K2LocalTenant', roles: [], permissions: [],
    tenants: { T2Acme: { roles: ['admin'], permissions: ['read:data'] } } },
  'dev-hostile-key': { id: 'K2LocalHostile', roles: ['<img src=x onerror=alert(1)>'], permissions: [],
    tenants: { '<img src=x onerror=alert(2)>': { roles: ['<script>alert(3)</script>'], permissions: [] } } },
};

const b64u = (buf) => Buffer.from(buf).toString('base64url');
function sign(header, payload) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  const s = createSign('RSA-SHA256'); s.update(input);
  return `${input}.${s.sign(privateKey).toString('base64url')}`;
}
function verify(token) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('malformed token');
  const v = createVerify('RSA-SHA256'); v.update(`${parts[0]}.${parts[1]}`);
  if (!v.verify(publicKey, Buffer.from(parts[2], 'base64url'))) throw new Error('invalid signature');
  const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  if (Date.now() / 1000 >= payload.exp + 5) throw new Error('token expired');
  return payload;
}
function grants(p) {
  const arr = (v) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : []);
  let g = [...arr(p.roles), ...arr(p.permissions)];
  if (typeof p.dct === 'string' && p.tenants && p.tenants[p.dct]) {
    g.push(...arr(p.tenants[p.dct].roles), ...arr(p.tenants[p.dct].permissions));
  }
  g = [...new Set(g)];
  const req = p.nsec && typeof p.nsec.scope === 'string' ? p.nsec.scope.split(' ').filter(Boolean) : null;
  return req ? g.filter((x) => req.includes(x)) : g;
}

function send(res, status, body, extra = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...extra });
  res.end(JSON.stringify(body));
}
const fail = (res, status, error, extra) => send(res, status, { success: false, error }, extra);

async function token(req, res, raw) {
  let body;
  try { body = raw.length ? JSON.parse(raw) : {}; } catch { return fail(res, 400, 'Request body is not valid JSON'); }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(res, 400, 'Request body must be a JSON object');
  for (const k of Object.keys(body)) {
    if (!['projectId', 'accessKey', 'scopes', 'tenant'].includes(k)) return fail(res, 400, `Unknown field: '${k}'`);
  }
  const id = /^[A-Za-z0-9_-]{1,128}$/;
  if ('projectId' in body && (typeof body.projectId !== 'string' || !id.test(body.projectId))) return fail(res, 400, "Invalid 'projectId'");
  if ('tenant' in body && (typeof body.tenant !== 'string' || !id.test(body.tenant))) return fail(res, 400, "Invalid 'tenant'");
  if ('accessKey' in body && (typeof body.accessKey !== 'string' || !/^[\x21-\x7e]{1,1024}$/.test(body.accessKey))) return fail(res, 400, "Invalid 'accessKey'");
  if ('scopes' in body && (!Array.isArray(body.scopes) || body.scopes.length > 32 ||
    !body.scopes.every((s) => typeof s === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/.test(s)))) return fail(res, 400, "Invalid 'scopes'");
  const projectId = body.projectId || PROJECT;
  const key = KEYS[body.accessKey || 'dev-admin-key'];
  await new Promise((r) => setTimeout(r, 150)); // look like a network round trip
  if (projectId !== PROJECT || !key) return fail(res, 401, 'Authentication failed: invalid access key or project');
  if (key.error) return fail(res, 401, `Authentication failed: ${key.error}`);
  if (body.tenant && !(key.tenants && key.tenants[body.tenant])) {
    return fail(res, 400, `Identity provider rejected the request: access key is not a member of tenant '${body.tenant}'`);
  }
  const now = Math.floor(Date.now() / 1000);
  const payload = { amr: ['accessKey'], drn: 'DS', exp: now + ttl, iat: now, iss: `https://api.descope.com/v1/apps/${PROJECT}`,
    sub: key.id, roles: key.roles, permissions: key.permissions };
  if (key.tenants) payload.tenants = key.tenants;
  if (body.tenant) payload.dct = body.tenant;
  const all = grants(payload);
  const scopes = body.scopes && body.scopes.length ? body.scopes : null;
  if (scopes) {
    const missing = scopes.find((s) => !all.includes(s));
    if (missing) return fail(res, 403, `Scope not granted to this access key: '${missing}'`);
    payload.nsec = { scope: scopes.join(' ') };
  }
  const header = { alg: 'RS256', kid: KID, typ: 'JWT' };
  const jwt = sign(header, payload);
  send(res, 200, { success: true, jwt, decodedHeader: header, decodedPayload: payload, expiresAt: payload.exp, scopes: grants(payload) });
}

function api(req, res, name) {
  const m = /^bearer +(\S+)$/i.exec(req.headers.authorization || '');
  if (!m) return fail(res, 401, 'Missing or invalid Authorization header', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  let claims;
  try { claims = verify(m[1]); } catch (e) {
    return fail(res, 401, `JWT verification failed: ${e.message}`, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  }
  const need = { protected: null, user: 'read:data', admin: 'admin' }[name];
  if (need && !grants(claims).includes(need)) {
    return fail(res, 403, `Missing required scope: '${need}'`, { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${need}"` });
  }
  const msg = { protected: 'Protected', user: 'User', admin: 'Admin' }[name];
  send(res, 200, { success: true, message: `${msg} API call succeeded!`, claims });
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.json': 'application/json', '.png': 'image/png' };

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const url = new URL(req.url, 'http://x');
    const raw = Buffer.concat(chunks).toString();
    try {
      if (req.method === 'POST' && url.pathname === '/m2m/token') return await token(req, res, raw);
      const am = /^\/api\/(protected|user|admin)$/.exec(url.pathname);
      if (req.method === 'POST' && am) return api(req, res, am[1]);
      if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'Method not allowed');
      const sec = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };
      if (url.pathname === '/config.json') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...sec });
        return res.end(JSON.stringify({ projectId: PROJECT, apiBaseUrl: '', demoAccessKeyHint: 'dev-reader-key',
          demoAccessKeys: [
            { key: 'dev-admin-key', label: 'admin + read:data + write:data' },
            { key: 'dev-reader-key', label: 'user + read:data' },
            { key: 'dev-nogrants-key', label: 'no grants' },
            { key: 'dev-tenant-key', label: 'admin in tenant T2Acme' },
            { key: 'dev-expired-key', label: 'expired' },
            { key: 'dev-hostile-key', label: 'hostile claims (XSS probe)' },
          ] }));
      }
      const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname.slice(1));
      const file = path.resolve(uiDir, rel);
      if (!file.startsWith(uiDir + path.sep)) return fail(res, 404, 'Not found');
      const data = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache', ...sec });
      res.end(data);
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'EISDIR') return fail(res, 404, 'Not found');
      console.error(e);
      fail(res, 500, 'Internal error');
    }
  });
});
server.listen(port, '127.0.0.1', () => {
  console.log(`READY http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
