// A page on another origin calls the API from headless Chromium: the browser sends a CORS preflight (OPTIONS)
// before each JSON POST, the preflight reaches the functions (the watch router routes OPTIONS, as both
// templates do), and only origins in CORS_ALLOWED_ORIGINS get an answer the browser lets the page read.
//
// The allowed origin is http://127.0.0.1:$M2M_SECOND_ORIGIN_PORT (scripts/test.sh starts the stack with
// M2M_CORS_ORIGINS set to it); without M2M_BASE_URL the test starts the stack itself with that setting.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import * as localStack from './stack.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let baseUrl = process.env.M2M_BASE_URL ? process.env.M2M_BASE_URL.replace(/\/+$/, '') : '';
let browser = null;
let profileDir = null;
const servers = [];

/** A plain page (no CSP of its own) on 127.0.0.1:port, i.e. another origin than the API's. */
function pageServer(port) {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>another origin</title><p>another origin</p>');
    });
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      servers.push(server);
      resolve(`http://127.0.0.1:${server.address().port}`);
    });
  });
}

let allowedOrigin = '';
let otherOrigin = '';

before(async () => {
  const announced = Number(process.env.M2M_SECOND_ORIGIN_PORT || 0);
  allowedOrigin = await pageServer(announced);
  otherOrigin = await pageServer(0);
  if (!baseUrl) {
    process.env.M2M_CORS_ORIGINS = allowedOrigin;
    baseUrl = await localStack.start();
  } else if (!announced) {
    throw new Error('M2M_BASE_URL is set: also set M2M_SECOND_ORIGIN_PORT, the origin its CORS_ALLOWED_ORIGINS allows');
  }
  profileDir = mkdtempSync(path.join(tmpdir(), 'm2m-cors-chromium-'));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...ARGS, `--disk-cache-dir=${path.join(profileDir, 'cache')}`] });
});

after(async () => {
  try {
    if (browser) await browser.close();
    for (const server of servers) server.close();
  } finally {
    await localStack.stop();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  }
});

/** Runs the token request and a protected call from a page on `origin`; what the page could read. */
async function callFrom(origin) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  const result = await page.evaluate(async (api) => {
    const read = async (promise) => {
      try {
        const r = await promise;
        return { status: r.status, body: await r.json() };
      } catch (error) {
        return { blocked: String(error) };
      }
    };
    const token = await read(fetch(`${api}/m2m/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accessKey: 'dev-reader-key', scopes: ['read:data'] }),
    }));
    const jwt = token.body && token.body.jwt;
    const user = await read(fetch(`${api}/api/user`, {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt || 'none'}` },
    }));
    return { token, user };
  }, baseUrl);
  await context.close();
  return result;
}

test('a page on an allowed origin gets a token and calls a protected endpoint through preflights', async () => {
  // A JSON POST and an Authorization header are not CORS-safelisted: Chromium sends each a preflight first
  // and refuses the call unless the preflight's answer allows it, so these successes need both preflights.
  const { token, user } = await callFrom(allowedOrigin);
  assert.equal(token.status, 200, JSON.stringify(token));
  assert.equal(typeof token.body.jwt, 'string');
  assert.equal(user.status, 200, JSON.stringify(user));
  assert.equal(user.body.message, 'User API call succeeded!');
});

test('the preflight answer names the origin, the method and the headers, and nothing for others', async () => {
  for (const route of ['/m2m/token', '/api/protected', '/api/user', '/api/admin']) {
    const ask = (origin) => fetch(`${baseUrl}${route}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    const allowed = await ask(allowedOrigin);
    assert.ok([200, 204].includes(allowed.status), `${route}: ${allowed.status}`);
    assert.equal(allowed.headers.get('access-control-allow-origin'), allowedOrigin, route);
    assert.match(allowed.headers.get('access-control-allow-methods') || '', /POST/, route);
    assert.match(allowed.headers.get('access-control-allow-headers') || '', /authorization/i, route);
    assert.match(allowed.headers.get('vary') || '', /origin/i, route);
    const other = await ask(otherOrigin);
    assert.equal(other.headers.get('access-control-allow-origin'), null, route);
  }
});

test('a page on any other origin cannot read the answers', async () => {
  const { token, user } = await callFrom(otherOrigin);
  assert.ok(token.blocked, `the token answer was readable: ${JSON.stringify(token)}`);
  assert.ok(user.blocked, `the protected answer was readable: ${JSON.stringify(user)}`);
});
