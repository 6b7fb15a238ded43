// Browser end-to-end test of the web page (docs/contract.md section 5) against the real local stack.
//
//   npm ci --prefix tests && node --test tests/e2e/
//
// The stack: env M2M_BASE_URL (e.g. http://127.0.0.1:9000, page at "/", API on the same origin), or else the
// test starts `bash scripts/local-stack.sh` itself, waits for its "READY <base-url>" line and stops its whole
// process group afterwards. The browser is Debian's chromium (env CHROMIUM_PATH, default /usr/bin/chromium),
// driven by playwright-core; nothing is downloaded.
//
// Screenshots go to tests/artifacts/screenshots/ (and also docs/screenshots/ when UPDATE_SCREENSHOTS=1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import * as localStack from './stack.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const repoRoot = path.resolve(here, '..', '..');
const artifacts = path.join(repoRoot, 'tests', 'artifacts', 'screenshots');
const docsShots = path.join(repoRoot, 'docs', 'screenshots');
const uiDir = path.join(repoRoot, 'ui');
// Every script the page has: the classic theme.js, the entry module app.js and the modules under js/.
const UI_SCRIPTS = [
  ...readdirSync(uiDir).filter((f) => f.endsWith('.js')),
  ...readdirSync(path.join(uiDir, 'js')).filter((f) => f.endsWith('.js')).map((f) => `js/${f}`),
].sort();
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const PROJECT = 'P2LocalDevProject';
const HOSTILE = ['<img src=x onerror=alert(1)>', '<img src=x onerror=alert(2)>', '<script>alert(3)</script>'];
const ALL_KEYS = ['dev-admin-key', 'dev-reader-key', 'dev-nogrants-key', 'dev-expired-key', 'dev-disabled-key',
  'dev-tenant-key', 'dev-hostile-key', 'this-is-not-a-valid-key'];

let baseUrl = process.env.M2M_BASE_URL ? process.env.M2M_BASE_URL.replace(/\/+$/, '') : '';
let browser = null;
let profileDir = null;

// ---------------------------------------------------------------------------------------------------------
// Stack and browser

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  if (!baseUrl) baseUrl = await localStack.start();
  profileDir = mkdtempSync(path.join(tmpdir(), 'm2m-e2e-chromium-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...ARGS, `--disk-cache-dir=${path.join(profileDir, 'cache')}`],
  });
});

after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    await localStack.stop();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** A fresh context + page that records every console error, page error, dialog and CSP violation. */
async function openPage(t, { viewport = { width: 1280, height: 900 }, colorScheme = 'light', reducedMotion = 'no-preference' } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, reducedMotion });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
  const page = await context.newPage();
  const problems = [];
  const apiErrorStatuses = new Set();
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (r.status() >= 400 && (url.pathname === '/m2m/token' || url.pathname.startsWith('/api/'))) apiErrorStatuses.add(r.status());
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // Chromium logs every non-2xx fetch as "Failed to load resource"; the API's own 4xx answers are expected
    // here (the tests assert them). Anything else (a missing file, a CSP violation, an exception) fails.
    const m = /^Failed to load resource: the server responded with a status of (\d+)/.exec(msg.text());
    if (m && apiErrorStatuses.has(Number(m[1]))) return;
    problems.push(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('dialog', async (dialog) => {
    problems.push(`dialog fired (${dialog.type()}): ${dialog.message()}`);
    await dialog.dismiss().catch(() => {});
  });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.setDefaultTimeout(20000);
  const finish = async () => {
    const csp = await page.evaluate(() => window.__cspViolations).catch(() => []);
    await context.close();
    assert.deepEqual(csp, [], 'no Content-Security-Policy violations');
    assert.deepEqual(problems, [], 'no console errors, page errors or dialogs');
  };
  t.after?.(() => context.close().catch(() => {}));
  return { context, page, problems, finish };
}

async function load(page) {
  const res = await page.goto(`${baseUrl}/`, { waitUntil: 'load' });
  assert.equal(res.status(), 200, 'the page is served');
  await page.waitForFunction(() => document.documentElement.classList.contains('is-ready'));
  return res;
}

async function fillRequest(page, { accessKey, scopes = [], tenant = '', custom = '' }) {
  await page.getByLabel('Access key', { exact: true }).fill(accessKey);
  for (const s of ['read:data', 'write:data', 'admin', 'user:profile']) {
    await page.getByRole('checkbox', { name: s, exact: true }).setChecked(scopes.includes(s));
  }
  await page.getByLabel('Custom scopes').fill(custom);
  await page.getByLabel(/^Tenant/).fill(tenant);
}

async function getToken(page, opts) {
  await fillRequest(page, opts);
  const response = page.waitForResponse((r) => r.url().endsWith('/m2m/token'));
  await page.getByRole('button', { name: 'Get M2M Token' }).click();
  return (await response).status();
}

async function callApi(page, name, label) {
  const response = page.waitForResponse((r) => r.url().endsWith(`/api/${name}`));
  await page.getByRole('button', { name: label }).click();
  const status = (await response).status();
  const result = page.locator(`#result-${name} .result`);
  await result.waitFor();
  return { status, result };
}

/** Neither the access keys nor the token may be kept anywhere persistent. */
async function assertNothingPersisted(page, context, secrets) {
  const stored = await page.evaluate(() => {
    const dump = (s) => Object.keys(s).map((k) => `${k}=${s.getItem(k)}`).join('\n');
    return { local: dump(localStorage), session: dump(sessionStorage), cookie: document.cookie,
      localKeys: Object.keys(localStorage) };
  });
  const cookies = JSON.stringify(await context.cookies());
  for (const secret of secrets.filter(Boolean)) {
    assert.ok(!stored.local.includes(secret), `localStorage must not contain ${secret.slice(0, 16)}…`);
    assert.ok(!stored.session.includes(secret), `sessionStorage must not contain ${secret.slice(0, 16)}…`);
    assert.ok(!stored.cookie.includes(secret) && !cookies.includes(secret), `cookies must not contain ${secret.slice(0, 16)}…`);
  }
  for (const key of stored.localKeys) assert.equal(key, 'm2m-theme', 'only the theme is stored');
}

async function screenshot(page, name) {
  const file = path.join(artifacts, name);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(docsShots, { recursive: true });
    await copyFile(file, path.join(docsShots, name));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tests

test('page loads under its CSP, fields labelled, project id and demo keys from config.json', async (t) => {
  const { page, finish } = await openPage(t);
  const scripts = new Set();
  page.on('response', (r) => {
    if (r.request().resourceType() === 'script') scripts.add(new URL(r.url()).pathname.replace(/^\//, ''));
  });
  const res = await load(page);
  assert.deepEqual([...scripts].sort(), UI_SCRIPTS, 'the page loads every script in ui/ (none missing, none unused)');
  const preloaded = await page.locator('link[rel="modulepreload"]').evaluateAll((links) => links.map((l) => l.getAttribute('href')));
  assert.deepEqual(preloaded.sort(), UI_SCRIPTS.filter((f) => f.startsWith('js/')), 'every module is preloaded');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('skip-link')), true, 'Tab reaches the skip link first');
  await page.keyboard.press('Tab');
  const focus = await page.evaluate(() => {
    const cs = getComputedStyle(document.activeElement);
    return { id: document.activeElement.id, outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
  });
  assert.equal(focus.id, 'theme-toggle');
  assert.ok(focus.outline !== 'none' && focus.width >= 2, `keyboard focus is visible (${JSON.stringify(focus)})`);

  const config = await page.evaluate(async () => (await fetch('config.json', { cache: 'no-store' })).json());
  assert.equal(typeof config, 'object');
  const projectField = page.getByLabel('Project ID');
  assert.equal(await projectField.inputValue(), typeof config.projectId === 'string' ? config.projectId : '');
  if (typeof config.projectId === 'string' && config.projectId) assert.equal(config.projectId, PROJECT);

  // One policy, from infra/content-security-policy.txt, sent as a header by whatever serves the page (the
  // local page server here, CloudFront in AWS); the page carries no copy of its own.
  const policy = (await readFile(path.join(repoRoot, 'infra', 'content-security-policy.txt'), 'utf8'))
    .trim().replace('${ApiOrigin}', '');
  assert.equal(res.headers()['content-security-policy'], policy);
  assert.equal(await page.locator('meta[http-equiv="Content-Security-Policy"]').count(), 0);

  // The access key is masked, with a show/hide toggle, and is no password field: a browser offers to save a
  // submitted password field in its password manager, and autocomplete is off.
  const key = page.getByLabel('Access key', { exact: true });
  const masking = () => key.evaluate((el) => getComputedStyle(el).getPropertyValue('-webkit-text-security'));
  assert.equal(await key.getAttribute('type'), 'text');
  assert.equal(await key.getAttribute('autocomplete'), 'off');
  assert.equal(await page.locator('input[type="password"]').count(), 0);
  assert.equal(await masking(), 'disc');
  await page.getByRole('button', { name: 'Show access key' }).click();
  assert.equal(await masking(), 'none');
  await page.getByRole('button', { name: 'Hide access key' }).click();
  assert.equal(await masking(), 'disc');

  // Demo keys, when config.json lists them, are clickable suggestions.
  const demo = Array.isArray(config.demoAccessKeys) ? config.demoAccessKeys.filter((d) => d && typeof d.key === 'string') : [];
  if (demo.length) {
    await page.locator(`#demo-keys .chip[data-key="${demo[0].key}"]`).click();
    assert.equal(await key.inputValue(), demo[0].key);
  } else if (typeof config.demoAccessKeyHint === 'string' && config.demoAccessKeyHint) {
    await page.locator(`#demo-keys .chip[data-key="${config.demoAccessKeyHint}"]`).click();
    assert.equal(await key.inputValue(), config.demoAccessKeyHint);
  }

  // Every form control has a label and every interactive element is keyboard reachable.
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((i) => i.labels.length === 0 && !i.getAttribute('aria-label') && !i.getAttribute('aria-labelledby'))
    .map((i) => i.id || i.name));
  assert.deepEqual(unlabelled, []);
  const unreachable = await page.evaluate(() => [...document.querySelectorAll('button, input, a[href], summary')]
    .filter((e) => e.tabIndex < 0).map((e) => e.id || e.textContent.trim()));
  assert.deepEqual(unreachable, []);

  // No innerHTML-style sinks anywhere in the page's scripts.
  for (const file of UI_SCRIPTS) {
    const src = await (await page.request.get(`${baseUrl}/${file}`)).text();
    assert.doesNotMatch(src, /\.innerHTML\s*=|insertAdjacentHTML|outerHTML\s*=|document\.write|\beval\(|new Function\(/, file);
  }
  await finish();
});

test('reader key: token with read:data, decoded parts, countdown, copy, the three APIs, new token', async (t) => {
  const { page, context, finish } = await openPage(t);
  await load(page);
  const requests = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/m2m/token')) requests.push(r.postDataJSON());
  });

  assert.equal(await getToken(page, { accessKey: 'dev-reader-key', scopes: ['read:data'] }), 200);
  assert.deepEqual(requests[0].scopes, ['read:data']);
  assert.equal(requests[0].accessKey, 'dev-reader-key');
  assert.ok(!('tenant' in requests[0]), 'an empty tenant is not sent');

  await page.locator('#token-view').waitFor();
  const jwt = await page.locator('#jwt').textContent();
  const parts = jwt.split('.');
  assert.equal(parts.length, 3);
  for (const [i, cls] of ['jwt-header', 'jwt-payload', 'jwt-signature'].entries()) {
    assert.equal(await page.locator(`#jwt .${cls}`).textContent(), parts[i]);
  }
  const colours = await page.evaluate(() => ['jwt-header', 'jwt-payload', 'jwt-signature']
    .map((c) => getComputedStyle(document.querySelector(`#jwt .${c}`)).color));
  assert.equal(new Set(colours).size, 3, 'the three parts have three colours');

  const header = JSON.parse(await page.locator('#decoded-header').textContent());
  assert.equal(header.alg, 'RS256');
  assert.equal(typeof header.kid, 'string');
  assert.ok(header.kid.length > 0);
  assert.ok(await page.locator('#decoded-header .j-key').count() > 0, 'the header JSON is highlighted');
  const payload = JSON.parse(await page.locator('#decoded-payload').textContent());
  assert.equal(payload.sub, 'K2LocalReader');
  assert.ok(await page.locator('#decoded-payload .j-str').count() > 0, 'the payload JSON is highlighted');
  assert.equal((await page.locator('#meta-sub').textContent()).trim(), 'K2LocalReader');
  assert.match(await page.locator('#meta-iat time').getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/);
  assert.equal(await page.locator('#meta-exp time').getAttribute('datetime'), new Date(payload.exp * 1000).toISOString());

  const badges = page.locator('#badges');
  await assert.doesNotReject(badges.getByText('read:data', { exact: true }).first().waitFor());
  const grants = await page.locator('.badge-group-grant .badge').allTextContents();
  assert.deepEqual(grants, ['read:data']);

  // Countdown ticks.
  const first = await page.locator('#countdown-value').textContent();
  assert.match(first, /^expires in /);
  await page.waitForTimeout(1600);
  const second = await page.locator('#countdown-value').textContent();
  assert.notEqual(second, first, 'the countdown moves');

  // Copy button puts the exact token on the clipboard.
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.getByRole('button', { name: 'Copied' }).waitFor();
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(clip, jwt);

  // The three APIs.
  const p = await callApi(page, 'protected', 'Try Protected API');
  assert.equal(p.status, 200);
  assert.match(await p.result.textContent(), /200/);
  assert.match(await p.result.textContent(), /Protected API call succeeded!/);
  assert.match(await p.result.locator('.latency').textContent(), /^\d+ ms$/);
  await p.result.locator('summary').click();
  assert.match(await p.result.locator('pre').textContent(), /K2LocalReader/);

  const u = await callApi(page, 'user', 'Try User API (requires read:data)');
  assert.equal(u.status, 200);
  assert.match(await u.result.textContent(), /200/);
  assert.match(await u.result.textContent(), /User API call succeeded!/);

  const a = await callApi(page, 'admin', 'Try Admin API (requires admin)');
  assert.equal(a.status, 403);
  const adminText = await a.result.textContent();
  assert.match(adminText, /403/);
  assert.match(adminText, /Missing required scope: 'admin'/);
  assert.match(await a.result.locator('.latency').textContent(), /^\d+ ms$/);

  // "Get a new token" repeats the last request even after the form changed.
  await page.getByLabel('Access key', { exact: true }).fill('');
  await page.getByRole('checkbox', { name: 'read:data', exact: true }).uncheck();
  const renewed = page.waitForResponse((r) => r.url().endsWith('/m2m/token'));
  await page.getByRole('button', { name: 'Get a new token' }).click();
  assert.equal((await renewed).status(), 200);
  assert.deepEqual(requests[1], requests[0]);
  await page.getByText(/Token received for K2LocalReader/).waitFor();
  assert.equal(await page.locator('#result-admin .result').count(), 0, 'old API results are cleared');

  await assertNothingPersisted(page, context, ['dev-reader-key', jwt, parts[2]]);
  await finish();
});

test('asking for a scope the key lacks shows the 403 (form sent with Enter, reduced motion: no shake)', async (t) => {
  const { page, context, finish } = await openPage(t, { reducedMotion: 'reduce' });
  await load(page);
  await fillRequest(page, { accessKey: 'dev-reader-key', scopes: ['admin'] });
  const response = page.waitForResponse((r) => r.url().endsWith('/m2m/token'));
  await page.getByLabel('Access key', { exact: true }).press('Enter');
  assert.equal((await response).status(), 403);
  const error = page.locator('#token-error');
  await error.waitFor();
  assert.equal(await error.evaluate((e) => e.classList.contains('shake')), false, 'no shaking with reduced motion');
  assert.match(await error.textContent(), /403/);
  assert.match(await error.textContent(), /Scope not granted to this access key: 'admin'/);
  assert.equal(await page.getByRole('alert').count(), 1, 'the error is announced');
  assert.equal(await page.locator('#token-view').isVisible(), false);
  await assertNothingPersisted(page, context, ['dev-reader-key']);
  await finish();
});

test('a wrong access key shows the 401 error (and it shakes)', async (t) => {
  const { page, context, finish } = await openPage(t);
  await load(page);
  // Hold the request a moment to see the spinner.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route('**/m2m/token', async (route) => {
    await held;
    await route.continue();
  });
  await fillRequest(page, { accessKey: 'this-is-not-a-valid-key' });
  const response = page.waitForResponse((r) => r.url().endsWith('/m2m/token'));
  await page.getByRole('button', { name: 'Get M2M Token' }).click();
  const button = page.locator('#get-token');
  await page.locator('#get-token.is-loading .spinner').waitFor({ state: 'visible' });
  assert.equal(await button.getAttribute('aria-busy'), 'true');
  assert.equal(await button.isDisabled(), true, 'no double submit while waiting');
  assert.match(await page.locator('#token-status').textContent(), /Exchanging/);
  release();
  assert.equal((await response).status(), 401);
  await page.locator('#get-token:not(.is-loading)').waitFor();
  const error = page.locator('#token-error');
  await error.waitFor();
  assert.match(await error.textContent(), /401/);
  assert.match(await error.textContent(), /Authentication failed: /);
  assert.equal(await error.evaluate((e) => e.classList.contains('shake') || getComputedStyle(e).animationName !== 'none'), true);
  await assertNothingPersisted(page, context, ['this-is-not-a-valid-key']);
  await finish();
});

test('after a failed request the previous token is marked as the previous one, API calls off', async (t) => {
  const { page, context, finish } = await openPage(t);
  await load(page);
  const apis = [['protected', 'Try Protected API'], ['user', 'Try User API (requires read:data)'],
    ['admin', 'Try Admin API (requires admin)']];
  assert.equal(await getToken(page, { accessKey: 'dev-reader-key', scopes: ['read:data'] }), 200);
  await page.locator('#token-view').waitFor();
  const jwt = await page.locator('#jwt').textContent();
  assert.equal((await callApi(page, 'user', apis[1][1])).status, 200);
  assert.equal(await page.locator('#token-previous').isVisible(), false, 'a fresh token is not marked');
  assert.equal(await page.getByRole('heading', { name: 'Your token', exact: true }).count(), 1);

  // A new exchange with a bad key fails: the earlier token must not pass for the new key's.
  assert.equal(await getToken(page, { accessKey: 'this-is-not-a-valid-key', scopes: ['read:data'] }), 401);
  await page.locator('#token-error').waitFor();
  const notice = page.locator('#token-previous');
  await notice.waitFor();
  assert.match(await notice.textContent(), /Previous token — the last request failed/);
  assert.match(await notice.textContent(), /for K2LocalReader, by an earlier request/);
  assert.equal(await page.getByRole('heading', { name: 'Previous token', exact: true }).count(), 1);
  assert.equal(await page.getByRole('heading', { name: 'Your token', exact: true }).count(), 0);
  assert.match(await page.locator('#countdown-value').textContent(), /^previous token · expires in /);
  assert.match(await page.locator('#countdown').getAttribute('class'), /pill-previous/);
  assert.match(await page.locator('#token-status').textContent(), /No new token: the token shown is the previous one/);
  assert.equal(await page.locator('#jwt').textContent(), jwt, 'the earlier token is what is shown');
  for (const [name, label] of apis) {
    assert.equal(await page.getByRole('button', { name: label }).isDisabled(), true, `${label} is off`);
    assert.match(await page.locator(`#expect-${name}`).textContent(), /the last token request failed/);
  }
  assert.equal(await page.locator('#result-user .result').count(), 0, "the earlier token's API results are gone");
  assert.ok(!(await page.locator('body').textContent()).includes('this-is-not-a-valid-key'), 'the failed key is not echoed');

  // "Get a new token" repeats the last successful request: a fresh token, no longer marked.
  const renewed = page.waitForResponse((r) => r.url().endsWith('/m2m/token'));
  await page.getByRole('button', { name: 'Get a new token' }).click();
  assert.equal((await renewed).status(), 200);
  await page.getByRole('heading', { name: 'Your token', exact: true }).waitFor();
  assert.equal(await notice.isVisible(), false);
  assert.match(await page.locator('#countdown-value').textContent(), /^expires in /);
  assert.equal(await page.locator('#token-error').isVisible(), false);
  for (const [name, label] of apis) {
    assert.equal(await page.getByRole('button', { name: label }).isDisabled(), false, `${label} is on again`);
    assert.doesNotMatch(await page.locator(`#expect-${name}`).textContent(), /failed/);
  }
  assert.equal((await callApi(page, 'user', apis[1][1])).status, 200);
  await assertNothingPersisted(page, context, ['dev-reader-key', 'this-is-not-a-valid-key', jwt]);
  await finish();
});

test('effective grants are the token function\'s answer: when it reports none, the page computes none', async (t) => {
  const { page, context, finish } = await openPage(t);
  // The token function's real answer with its `scopes` (the effective grants) taken out.
  const reported = [];
  await context.route(`${baseUrl}/m2m/token`, async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    reported.push(body.scopes);
    delete body.scopes;
    return route.fulfill({ response, json: body });
  });
  await load(page);
  assert.equal(await getToken(page, { accessKey: 'dev-admin-key', scopes: ['read:data', 'admin'] }), 200);
  assert.deepEqual(reported, [['admin', 'read:data']], 'the real answer carried the grants');
  await page.locator('#token-view').waitFor();
  const roles = page.locator('#badges .badge-group').filter({ has: page.getByText('Roles', { exact: true }) });
  assert.ok((await roles.locator('.badge').allTextContents()).includes('admin'), 'the claims are shown');
  const grants = page.locator('.badge-group-grant');
  assert.deepEqual(await grants.locator('.badge').allTextContents(), ['not reported by the token function']);
  assert.match(await grants.textContent(), /does not guess/);
  assert.match(await page.locator('#expect-user').textContent(), /grants not reported/);
  assert.match(await page.locator('#expect-admin').textContent(), /grants not reported/);
  // The API, not the page, decides.
  assert.equal((await callApi(page, 'admin', 'Try Admin API (requires admin)')).status, 200);
  await finish();
});

test('hostile claims render as text, never as HTML', async (t) => {
  const { page, context, finish } = await openPage(t);
  await load(page);
  assert.equal(await getToken(page, { accessKey: 'dev-hostile-key' }), 200);
  await page.locator('#token-view').waitFor();
  await page.getByRole('button', { name: 'Try Protected API' }).click();
  await page.locator('#result-protected .result').waitFor();
  await page.locator('#result-protected summary').click();

  const main = page.locator('#main');
  for (const s of HOSTILE) {
    // Shown as visible text in the badges and/or the decoded payload.
    await assert.doesNotReject(main.getByText(s, { exact: false }).first().waitFor({ state: 'visible' }), s);
  }
  const roles = page.locator('#badges .badge-group').filter({ has: page.getByText('Roles', { exact: true }) });
  assert.deepEqual(await roles.locator('.badge').allTextContents(), [HOSTILE[0]], 'the hostile role is a text badge');
  assert.equal(await page.locator('#main img, #main script, #token-view iframe').count(), 0, 'no injected elements');
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined');
  await assertNothingPersisted(page, context, ['dev-hostile-key']);
  await screenshot(page, 'hostile.png');
  await finish();
});

test('light and dark screenshots; dark mode toggle is remembered, the token is not', async (t) => {
  const { page, context, finish } = await openPage(t, { colorScheme: 'light' });
  await load(page);
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const isDark = (rgb) => {
    const [r, g, b] = rgb.match(/\d+/g).map(Number);
    return r + g + b < 150;
  };
  assert.equal(isDark(await bg()), false, 'light by default with a light system theme');

  assert.equal(await getToken(page, { accessKey: 'dev-admin-key', scopes: ['read:data', 'admin'] }), 200);
  await page.locator('#token-view').waitFor();
  for (const [name, label] of [['protected', 'Try Protected API'], ['user', 'Try User API (requires read:data)'],
    ['admin', 'Try Admin API (requires admin)']]) {
    const r = await callApi(page, name, label);
    assert.equal(r.status, 200, `${name} answers 200 for the admin key`);
  }
  const jwt = await page.locator('#jwt').textContent();
  await screenshot(page, 'light.png');

  const toggle = page.getByRole('button', { name: 'Dark mode' });
  assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
  assert.equal(isDark(await bg()), true, 'dark after the toggle');
  await screenshot(page, 'dark.png');

  await page.reload({ waitUntil: 'load' });
  await page.waitForFunction(() => document.documentElement.classList.contains('is-ready'));
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  assert.equal(isDark(await bg()), true, 'still dark after a reload');
  assert.equal(await page.locator('#token-view').isVisible(), false, 'the token is gone after a reload');
  assert.equal(await page.getByLabel('Access key', { exact: true }).inputValue(), '', 'the access key is gone after a reload');
  await assertNothingPersisted(page, context, ['dev-admin-key', jwt]);

  await page.getByRole('button', { name: 'Dark mode' }).click();
  assert.equal(isDark(await bg()), false, 'back to light');
  await finish();
});

test('system dark preference is followed without a stored choice', async (t) => {
  const { page, finish } = await openPage(t, { colorScheme: 'dark' });
  await load(page);
  const rgb = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = rgb.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 150, `dark background expected, got ${rgb}`);
  assert.equal(await page.getByRole('button', { name: 'Dark mode' }).getAttribute('aria-pressed'), 'true');
  await finish();
});

test('phone width (390 px): no horizontal scroll, long token wraps', async (t) => {
  const { page, context, finish } = await openPage(t, { viewport: { width: 390, height: 844 } });
  await load(page);
  const width = () => page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(await width() <= 390, 'empty page fits');
  assert.equal(await getToken(page, { accessKey: 'dev-tenant-key', scopes: ['read:data'], tenant: 'T2Acme' }), 200);
  await page.locator('#token-view').waitFor();
  assert.equal(await page.locator('#badges .badge-tenant').textContent(), 'T2Acme');
  const u = await callApi(page, 'user', 'Try User API (requires read:data)');
  assert.equal(u.status, 200);
  const a = await callApi(page, 'admin', 'Try Admin API (requires admin)');
  assert.equal(a.status, 403);
  await a.result.textContent();
  await page.locator('#result-user summary').click();
  assert.ok(await width() <= 390, `no horizontal scroll at 390 px (scrollWidth ${await width()})`);
  const jwtBox = await page.locator('#jwt').boundingBox();
  assert.ok(jwtBox.x + jwtBox.width <= 390, 'the JWT wraps inside the viewport');

  await getToken(page, { accessKey: 'dev-nope-key-that-is-wrong' });
  await page.locator('#token-error').waitFor();
  assert.ok(await width() <= 390, 'the error fits too');
  await page.getByLabel('Access key', { exact: true }).fill('');
  await page.locator('#token-error').evaluate((e) => e.classList.remove('shake'));
  await screenshot(page, 'phone-390.png');
  await assertNothingPersisted(page, context, ['dev-tenant-key']);
  await finish();
});

test('accessibility: no axe-core WCAG 2.1 A/AA violations in light and dark, with a token and results', async (t) => {
  const { page, finish } = await openPage(t);
  await load(page);
  assert.equal(await getToken(page, { accessKey: 'dev-reader-key', scopes: ['read:data'] }), 200);
  await page.locator('#token-view').waitFor();
  await callApi(page, 'protected', 'Try Protected API');
  await callApi(page, 'admin', 'Try Admin API (requires admin)');
  await page.locator('#result-protected summary').click();
  await getToken(page, { accessKey: 'dev-reader-key', scopes: ['admin'] }); // leaves an error message on screen
  await page.locator('#token-error').waitFor();
  await page.waitForTimeout(600); // let the shake finish

  // Injected through the DevTools protocol, so the page's own CSP stays as it is.
  await page.evaluate(await readFile(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const audit = async (theme) => {
    const result = await page.evaluate(() => window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }));
    const found = result.violations.map((v) => `${theme}: ${v.id}: ${v.help} -> ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    assert.deepEqual(found, [], `axe violations (${theme})`);
  };
  await audit('light');
  await page.getByRole('button', { name: 'Dark mode' }).click();
  await page.waitForTimeout(300);
  await audit('dark');
  await finish();
});

test('the countdown turns to "expired" (fake clock)', async (t) => {
  const { page, finish } = await openPage(t);
  await page.clock.install();
  await load(page);
  assert.equal(await getToken(page, { accessKey: 'dev-reader-key' }), 200);
  await page.locator('#token-view').waitFor();
  const payload = JSON.parse(await page.locator('#decoded-payload').textContent());
  assert.match(await page.locator('#countdown-value').textContent(), /^expires in /);
  const now = await page.evaluate(() => Date.now());
  await page.clock.fastForward(Math.max(0, payload.exp * 1000 - now) + 2000);
  await page.locator('#countdown-value', { hasText: /^expired$/ }).waitFor();
  assert.match(await page.locator('#countdown').getAttribute('class'), /pill-expired/);
  assert.match(await page.locator('#expect-protected').textContent(), /expired/);
  assert.match(await page.locator('#token-status').textContent(), /expired/);
  await finish();
});

test('apiBaseUrl in config.json sends the API calls to that origin (CORS)', async (t) => {
  const { page, context, finish } = await openPage(t);
  const apiOrigin = 'https://api.m2m-e2e.test';
  const seen = [];
  await context.route(`${baseUrl}/config.json`, (route) => route.fulfill({
    contentType: 'application/json',
    body: JSON.stringify({ projectId: PROJECT, apiBaseUrl: `${apiOrigin}/` }),
  }));
  // The page's policy as CloudFront sends it when the stack's PageApiBaseUrl names that origin (the
  // templates fill ${ApiOrigin} of infra/content-security-policy.txt from it, as config.json's apiBaseUrl).
  const policy = (await readFile(path.join(repoRoot, 'infra', 'content-security-policy.txt'), 'utf8'))
    .trim().replace('${ApiOrigin}', ` ${apiOrigin}`);
  await context.route(`${baseUrl}/`, async (route) => {
    const response = await route.fetch();
    return route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': policy } });
  });
  // Stand-in for API Gateway on another origin: forwards to the local stack and adds CORS headers.
  await context.route(`${apiOrigin}/**`, async (route) => {
    const request = route.request();
    const url = new URL(request.url());
    seen.push(`${request.method()} ${url.pathname}`);
    const cors = {
      'access-control-allow-origin': baseUrl,
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'authorization, content-type',
      vary: 'Origin',
    };
    if (request.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: cors });
    const response = await route.fetch({ url: `${baseUrl}${url.pathname}` });
    return route.fulfill({ response, headers: { ...response.headers(), ...cors } });
  });
  await load(page);
  assert.equal(await page.getByLabel('Project ID').inputValue(), PROJECT);
  assert.equal(await page.locator('#demo-keys').isVisible(), false, 'no demo keys without demoAccessKeys');
  assert.equal(await getToken(page, { accessKey: 'dev-reader-key', scopes: ['read:data'] }), 200);
  await page.locator('#token-view').waitFor();
  const u = await callApi(page, 'user', 'Try User API (requires read:data)');
  assert.equal(u.status, 200);
  assert.ok(seen.includes('POST /m2m/token') && seen.includes('POST /api/user'), seen.join(', '));
  await finish();
});

test('a missing or broken config.json does not break the page', async (t) => {
  for (const body of [null, 'not json', '[1,2]', '{"projectId": 7, "apiBaseUrl": "javascript:alert(1)", "demoAccessKeys": "x"}']) {
    const { page, context, problems, finish } = await openPage(t);
    await context.route(`${baseUrl}/config.json`, (route) => (body === null
      ? route.fulfill({ status: 404, contentType: 'application/json', body: '{"success":false,"error":"Not found"}' })
      : route.fulfill({ contentType: 'application/json', body })));
    await load(page);
    if (body === null) {
      // Chromium logs the 404 of config.json itself; that one is expected here.
      const i = problems.findIndex((p) => /status of 404/.test(p));
      if (i >= 0) problems.splice(i, 1);
    }
    assert.equal(await page.getByLabel('Project ID').inputValue(), '');
    assert.equal(await page.getByLabel('Project ID').getAttribute('placeholder'), "server's default project");
    // Without a project id the request leaves it out and the server's default applies.
    const sent = page.waitForRequest((r) => r.url().endsWith('/m2m/token'));
    const status = await getToken(page, { accessKey: 'dev-reader-key' });
    assert.ok(!('projectId' in (await sent).postDataJSON()), 'an empty project id is not sent');
    assert.ok([200, 400].includes(status), `token request answered ${status}`);
    await finish();
  }
});
