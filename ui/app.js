// Descope M2M Token Playground — page logic.
//
// Safety rules kept throughout this file:
//  * Every piece of text that comes from a token, an API response or config.json is put into the page with
//    textContent / text nodes. Nothing in this file ever parses a string as HTML.
//  * The access key and the token live only in memory (the `state` object below). Only the colour theme is
//    written to localStorage.
//  * No inline scripts, no eval, no style attributes: the page runs under script-src 'self'; style-src 'self'.

const THEME_KEY = 'm2m-theme';
const ENDPOINTS = {
  protected: { path: '/api/protected', requires: null },
  user: { path: '/api/user', requires: 'read:data' },
  admin: { path: '/api/admin', requires: 'admin' },
};
const STATUS_TEXT = {
  0: 'Network error', 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

const state = {
  apiBase: '',
  lastRequest: null, // body of the last successful token request (memory only, for "Get a new token")
  token: null, // { jwt, header, payload, expiresAt, scopes }
  timer: 0,
  expiredAnnounced: false,
  busy: false,
};

const $ = (id) => document.getElementById(id);
const reducedMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches;
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const strings = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
const unique = (list) => [...new Set(list)];

/** Creates an element with an optional class and text (always as text, never parsed as HTML). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// ---------------------------------------------------------------------------------------------------------
// Theme

function effectiveTheme() {
  const set = document.documentElement.dataset.theme;
  if (set === 'dark' || set === 'light') return set;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function syncThemeButton() {
  $('theme-toggle').setAttribute('aria-pressed', String(effectiveTheme() === 'dark'));
}

function initTheme() {
  syncThemeButton();
  $('theme-toggle').addEventListener('click', () => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    try {
      window.localStorage.setItem(THEME_KEY, next);
    } catch {
      /* private mode: the toggle still works for this visit */
    }
    syncThemeButton();
  });
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', syncThemeButton);
}

// ---------------------------------------------------------------------------------------------------------
// Configuration

async function loadConfig() {
  try {
    const res = await fetch('config.json', { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) return {};
    const data = await res.json();
    return isObject(data) ? data : {};
  } catch {
    return {};
  }
}

/** "" means same origin; otherwise an absolute http(s) URL, without trailing slash. */
function normalizeApiBase(value) {
  if (typeof value !== 'string' || value.trim() === '') return { base: '', ok: true };
  try {
    const url = new URL(value.trim());
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return { base: '', ok: false };
    return { base: (url.origin + url.pathname).replace(/\/+$/, ''), ok: true };
  } catch {
    return { base: '', ok: false };
  }
}

function applyConfig(config) {
  if (typeof config.projectId === 'string' && config.projectId.trim()) {
    $('project-id').value = config.projectId.trim();
  } else {
    $('project-id').placeholder = "server's default project";
  }

  const api = normalizeApiBase(config.apiBaseUrl);
  state.apiBase = api.base;
  if (!api.ok) setStatus('config.json has an invalid apiBaseUrl; calling this page\'s own origin instead.');

  const hint = typeof config.demoAccessKeyHint === 'string' ? config.demoAccessKeyHint.trim() : '';
  const listed = Array.isArray(config.demoAccessKeys) ? config.demoAccessKeys : [];
  const demo = [];
  for (const item of listed) {
    if (isObject(item) && typeof item.key === 'string' && item.key.trim()) {
      demo.push({ key: item.key.trim(), label: typeof item.label === 'string' ? item.label : '' });
    } else if (typeof item === 'string' && item.trim()) {
      demo.push({ key: item.trim(), label: '' });
    }
  }
  if (hint && !demo.some((d) => d.key === hint)) demo.unshift({ key: hint, label: 'suggested' });
  if (hint) $('access-key').placeholder = `e.g. ${hint}`;
  else $('access-key').placeholder = 'your access key';

  if (demo.length) {
    const list = $('demo-keys').querySelector('ul');
    list.replaceChildren();
    for (const { key, label } of demo.slice(0, 20)) {
      const li = el('li');
      const btn = el('button', 'chip');
      btn.type = 'button';
      btn.dataset.key = key;
      btn.setAttribute('aria-pressed', 'false');
      btn.append(el('span', 'chip-key', key));
      if (label) btn.append(el('span', 'chip-label', label));
      btn.addEventListener('click', () => {
        $('access-key').value = key;
        syncDemoChips();
        $('access-key').focus();
      });
      li.append(btn);
      list.append(li);
    }
    $('demo-keys').hidden = false;
  }
}

function syncDemoChips() {
  const value = $('access-key').value.trim();
  for (const chip of $('demo-keys').querySelectorAll('.chip')) {
    chip.setAttribute('aria-pressed', String(chip.dataset.key === value));
  }
}

// ---------------------------------------------------------------------------------------------------------
// HTTP

async function post(path, { body, token } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method: 'POST', headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (token) headers.Authorization = `Bearer ${token}`;
  const started = performance.now();
  try {
    const res = await fetch(state.apiBase + path, init);
    const text = await res.text();
    const ms = Math.round(performance.now() - started);
    let data = null;
    try {
      data = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, ok: res.ok, ms, data };
  } catch (err) {
    return { status: 0, ok: false, ms: Math.round(performance.now() - started), data: null, networkError: String(err && err.message ? err.message : err) };
  }
}

function errorMessage(result) {
  if (result.status === 0) {
    return `Could not reach the server (${result.networkError || 'network error'}). Check your connection and the API address.`;
  }
  if (isObject(result.data) && typeof result.data.error === 'string' && result.data.error) return result.data.error;
  return `Unexpected response (HTTP ${result.status}).`;
}

const statusLabel = (code) => (code ? `${code} ${STATUS_TEXT[code] || ''}`.trim() : STATUS_TEXT[0]);

// ---------------------------------------------------------------------------------------------------------
// Token request

function readForm() {
  const body = {};
  const projectId = $('project-id').value.trim();
  const accessKey = $('access-key').value.trim();
  const tenant = $('tenant').value.trim();
  const checked = [...document.querySelectorAll('input[name="scope"]:checked')].map((c) => c.value);
  const custom = $('custom-scopes').value.split(/\s+/).filter(Boolean);
  const scopes = unique([...checked, ...custom]);
  if (projectId) body.projectId = projectId;
  if (accessKey) body.accessKey = accessKey;
  if (scopes.length) body.scopes = scopes;
  if (tenant) body.tenant = tenant;
  return body;
}

function setStatus(text) {
  $('token-status').textContent = text;
}

function setBusy(button, busy) {
  button.classList.toggle('is-loading', busy);
  if (busy) button.setAttribute('aria-busy', 'true');
  else button.removeAttribute('aria-busy');
}

function showError(message) {
  const box = $('token-error');
  box.hidden = false;
  $('token-error-text').textContent = message;
  box.classList.remove('shake');
  if (!reducedMotion()) {
    void box.offsetWidth; // restart the animation
    box.classList.add('shake');
  }
}

function hideError() {
  $('token-error').hidden = true;
  $('token-error-text').textContent = '';
  $('token-error').classList.remove('shake');
}

async function requestToken(body, button) {
  if (state.busy) return;
  state.busy = true;
  const getBtn = $('get-token');
  const renewBtn = $('renew-token');
  setBusy(button, true);
  getBtn.disabled = true;
  renewBtn.disabled = true;
  $('token-form').setAttribute('aria-busy', 'true');
  hideError();
  setStatus('Exchanging the access key for a token…');

  const result = await post('/m2m/token', { body });

  state.busy = false;
  setBusy(button, false);
  getBtn.disabled = false;
  $('token-form').removeAttribute('aria-busy');

  const data = result.data;
  if (result.ok && isObject(data) && data.success === true && typeof data.jwt === 'string') {
    state.lastRequest = body;
    showToken(data);
    const sub = typeof state.token.payload.sub === 'string' ? ` for ${state.token.payload.sub}` : '';
    setStatus(`Token received${sub} in ${result.ms} ms.`);
  } else {
    setStatus('');
    const code = result.status ? `${statusLabel(result.status)}: ` : '';
    showError(`${code}${errorMessage(result)}`);
  }
  renewBtn.disabled = state.lastRequest === null;
}

// ---------------------------------------------------------------------------------------------------------
// Token display

function decodeSegment(segment) {
  try {
    const b64 = segment.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const value = JSON.parse(new TextDecoder().decode(bytes));
    return isObject(value) ? value : {};
  } catch {
    return {};
  }
}

/** Requested scopes: nsec.scope, or a top-level scope/scopes claim (string or array). */
function requestedScopes(payload) {
  const parse = (v) => (typeof v === 'string' ? v.split(' ').filter(Boolean) : strings(v));
  const sources = [];
  let list = [];
  if (isObject(payload.nsec) && payload.nsec.scope !== undefined) {
    sources.push('nsec.scope');
    list = list.concat(parse(payload.nsec.scope));
  }
  for (const name of ['scope', 'scopes']) {
    if (payload[name] !== undefined) {
      sources.push(name);
      list = list.concat(parse(payload[name]));
    }
  }
  return { present: sources.length > 0, sources, list: unique(list) };
}

/** Same rule as the server (docs/contract.md section 4); used only if the response lacks `scopes`. */
function computeGrants(payload) {
  let grants = [...strings(payload.roles), ...strings(payload.permissions)];
  const tenant = currentTenant(payload);
  if (tenant) grants = grants.concat(strings(tenant.claims.roles), strings(tenant.claims.permissions));
  grants = unique(grants);
  const req = requestedScopes(payload);
  return req.present ? grants.filter((g) => req.list.includes(g)) : grants;
}

function currentTenant(payload) {
  if (typeof payload.dct !== 'string' || !isObject(payload.tenants)) return null;
  const own = Object.prototype.hasOwnProperty.call(payload.tenants, payload.dct);
  const claims = own && isObject(payload.tenants[payload.dct]) ? payload.tenants[payload.dct] : {};
  return { id: payload.dct, claims };
}

function showToken(data) {
  const jwt = data.jwt;
  const parts = jwt.split('.');
  const header = isObject(data.decodedHeader) ? data.decodedHeader : decodeSegment(parts[0] || '');
  const payload = isObject(data.decodedPayload) ? data.decodedPayload : decodeSegment(parts[1] || '');
  let expiresAt = Number(data.expiresAt);
  if (!Number.isFinite(expiresAt)) expiresAt = Number(payload.exp);
  const fromServer = Array.isArray(data.scopes);
  const scopes = fromServer ? unique(strings(data.scopes)) : computeGrants(payload);
  state.token = { jwt, header, payload, expiresAt: Number.isFinite(expiresAt) ? expiresAt : null, scopes, fromServer };
  state.expiredAnnounced = false;

  renderJwt(parts);
  renderMeta(payload);
  renderBadges(payload, scopes, fromServer);
  $('decoded-header').replaceChildren(renderJson(header));
  $('decoded-payload').replaceChildren(renderJson(payload));
  $('copy-label').textContent = 'Copy';

  for (const name of Object.keys(ENDPOINTS)) $(`result-${name}`).replaceChildren();

  $('token-empty').hidden = true;
  $('token-view').hidden = false;
  startCountdown();
  updateExpectations();

  const card = document.querySelector('.token-card');
  if (card.getBoundingClientRect().top > window.innerHeight) {
    card.scrollIntoView({ behavior: reducedMotion() ? 'auto' : 'smooth', block: 'start' });
  }
}

function renderJwt(parts) {
  const classes = ['jwt-header', 'jwt-payload', 'jwt-signature'];
  const frag = document.createDocumentFragment();
  parts.forEach((part, i) => {
    if (i > 0) frag.append(el('span', 'jwt-dot', '.'));
    frag.append(el('span', classes[i] || 'jwt-extra', part));
  });
  $('jwt').replaceChildren(frag);
}

function timeNode(seconds) {
  const n = Number(seconds);
  if (!Number.isFinite(n)) return document.createTextNode('—');
  const date = new Date(n * 1000);
  if (Number.isNaN(date.getTime())) return document.createTextNode('—');
  const t = el('time', '', date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }));
  t.dateTime = date.toISOString();
  t.title = date.toISOString();
  return t;
}

function renderMeta(payload) {
  $('meta-sub').textContent = typeof payload.sub === 'string' ? payload.sub : '—';
  $('meta-iat').replaceChildren(timeNode(payload.iat));
  $('meta-exp').replaceChildren(timeNode(state.token.expiresAt ?? payload.exp));
  $('meta-iss').textContent = typeof payload.iss === 'string' ? payload.iss : '—';
}

function badgeGroup(title, items, { note, emptyText = 'none', variant = '', explain } = {}) {
  const group = el('div', `badge-group${variant ? ` badge-group-${variant}` : ''}`);
  const head = el('p', 'badge-title', title);
  if (note) head.append(el('span', 'badge-note', ` ${note}`));
  group.append(head);
  const list = el('ul', 'badges');
  if (items.length === 0) {
    list.append(el('li', 'badge badge-empty', emptyText));
  } else {
    for (const item of items) list.append(el('li', `badge${variant ? ` badge-${variant}` : ''}`, item));
  }
  group.append(list);
  if (explain) group.append(el('p', 'badge-explain', explain));
  return group;
}

function renderBadges(payload, grants, fromServer) {
  const box = $('badges');
  const groups = [];
  groups.push(badgeGroup('Roles', strings(payload.roles)));
  groups.push(badgeGroup('Permissions', strings(payload.permissions)));

  const tenant = currentTenant(payload);
  const dct = typeof payload.dct === 'string' ? payload.dct : null;
  groups.push(badgeGroup('Current tenant', dct ? [dct] : [], { note: '(dct)', emptyText: 'none', variant: 'tenant' }));
  if (dct) {
    const tRoles = tenant ? strings(tenant.claims.roles) : [];
    const tPerms = tenant ? strings(tenant.claims.permissions) : [];
    groups.push(badgeGroup('Tenant roles', tRoles, { note: `(${dct})` }));
    groups.push(badgeGroup('Tenant permissions', tPerms, { note: `(${dct})` }));
  }
  const others = isObject(payload.tenants) ? Object.keys(payload.tenants).filter((t) => t !== dct) : [];
  if (others.length) {
    groups.push(badgeGroup('Other tenants', others, {
      note: '(not counted)', variant: 'muted',
      explain: dct ? 'Only the current tenant\'s roles and permissions count.'
        : 'No current tenant: ask for one in the Tenant field to use its roles and permissions.',
    }));
  }

  const req = requestedScopes(payload);
  groups.push(badgeGroup('Requested scopes', req.list, {
    note: `(${req.present ? req.sources.join(', ') : 'nsec.scope'})`,
    emptyText: req.present ? 'none' : 'none requested — no narrowing',
    variant: 'scope',
  }));
  groups.push(badgeGroup('Effective grants', grants, {
    note: fromServer ? '(from the token function)' : '(computed in the page)',
    emptyText: 'none',
    variant: 'grant',
    explain: req.present
      ? 'Trusted roles and permissions, narrowed to the requested scopes.'
      : 'Roles and permissions of the key and of its current tenant.',
  }));
  box.replaceChildren(...groups);
}

// ---------------------------------------------------------------------------------------------------------
// JSON highlighting (DOM nodes + textContent only)

function renderJson(value) {
  const frag = document.createDocumentFragment();
  writeJson(frag, value, 0);
  return frag;
}

function writeJson(out, value, depth) {
  const pad = (d) => '  '.repeat(d);
  const punc = (t) => out.append(el('span', 'j-punc', t));
  if (value === null) {
    out.append(el('span', 'j-null', 'null'));
  } else if (typeof value === 'string') {
    out.append(el('span', 'j-str', JSON.stringify(value)));
  } else if (typeof value === 'number') {
    out.append(el('span', 'j-num', Number.isFinite(value) ? String(value) : 'null'));
  } else if (typeof value === 'boolean') {
    out.append(el('span', 'j-bool', String(value)));
  } else if (Array.isArray(value)) {
    if (value.length === 0) return punc('[]');
    punc('[');
    value.forEach((item, i) => {
      out.append(document.createTextNode(`\n${pad(depth + 1)}`));
      writeJson(out, item, depth + 1);
      if (i < value.length - 1) punc(',');
    });
    out.append(document.createTextNode(`\n${pad(depth)}`));
    punc(']');
  } else if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return punc('{}');
    punc('{');
    keys.forEach((key, i) => {
      out.append(document.createTextNode(`\n${pad(depth + 1)}`));
      out.append(el('span', 'j-key', JSON.stringify(key)));
      punc(': ');
      writeJson(out, value[key], depth + 1);
      if (i < keys.length - 1) punc(',');
    });
    out.append(document.createTextNode(`\n${pad(depth)}`));
    punc('}');
  } else {
    out.append(el('span', 'j-null', 'null'));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Countdown

function formatDuration(total) {
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, '0');
  if (h > 0) return `${h}h ${two(m)}m ${two(s)}s`;
  if (m > 0) return `${m}m ${two(s)}s`;
  return `${s}s`;
}

function isExpired() {
  return !!state.token && state.token.expiresAt !== null && state.token.expiresAt * 1000 <= Date.now();
}

function tick() {
  const pill = $('countdown');
  const value = $('countdown-value');
  const token = state.token;
  let text;
  let variant;
  if (!token) {
    text = 'no token';
    variant = 'muted';
  } else if (token.expiresAt === null) {
    text = 'no expiry claim';
    variant = 'warn';
  } else {
    const left = Math.ceil(token.expiresAt - Date.now() / 1000);
    if (left <= 0) {
      text = 'expired';
      variant = 'expired';
    } else {
      text = `expires in ${formatDuration(left)}`;
      variant = left <= 60 ? 'warn' : 'ok';
    }
  }
  if (value.textContent !== text) value.textContent = text;
  const cls = `pill pill-${variant}`;
  if (pill.className !== cls) pill.className = cls;
  if (variant === 'expired') {
    window.clearInterval(state.timer);
    state.timer = 0;
    if (!state.expiredAnnounced) {
      state.expiredAnnounced = true;
      setStatus('The token has expired. Choose “Get a new token” for a fresh one.');
      updateExpectations();
    }
  }
}

function startCountdown() {
  window.clearInterval(state.timer);
  state.timer = window.setInterval(tick, 250);
  tick();
}

// ---------------------------------------------------------------------------------------------------------
// Protected APIs

function updateExpectations() {
  for (const [name, { requires }] of Object.entries(ENDPOINTS)) {
    const node = $(`expect-${name}`);
    let text = '';
    let cls = 'api-expect';
    if (!state.token) {
      text = 'no token yet: expect 401';
      cls += ' expect-muted';
    } else if (isExpired()) {
      text = 'token expired: expect 401';
      cls += ' expect-bad';
    } else if (!requires) {
      text = '✓ any valid token';
      cls += ' expect-good';
    } else if (state.token.scopes.includes(requires)) {
      text = `✓ token grants ${requires}`;
      cls += ' expect-good';
    } else {
      text = `✗ no ${requires} grant: expect 403`;
      cls += ' expect-bad';
    }
    node.textContent = text;
    node.className = cls;
  }
}

async function tryApi(name, button) {
  const { path, requires } = ENDPOINTS[name];
  const out = $(`result-${name}`);
  setBusy(button, true);
  button.disabled = true;
  const token = state.token ? state.token.jwt : null;
  const result = await post(path, { token });
  setBusy(button, false);
  button.disabled = false;

  const ok = result.ok && isObject(result.data) && result.data.success === true;
  const card = el('div', `result ${ok ? 'result-ok' : 'result-error'}`);
  const head = el('div', 'result-head');
  const codeClass = result.status >= 200 && result.status < 300 ? 'ok' : result.status >= 500 || result.status === 0 ? 'bad' : 'warn';
  const status = el('span', `status-code status-${codeClass}`, statusLabel(result.status));
  status.dataset.status = String(result.status);
  head.append(status, el('span', 'latency', `${result.ms} ms`), el('span', 'result-time', new Date().toLocaleTimeString()));
  card.append(head);

  if (ok) {
    const msg = typeof result.data.message === 'string' ? result.data.message : 'Succeeded.';
    card.append(el('p', 'result-message', msg));
    if (result.data.claims !== undefined) {
      const details = el('details', 'claims');
      const count = isObject(result.data.claims) ? Object.keys(result.data.claims).length : 0;
      details.append(el('summary', '', `Claims the API verified (${count})`));
      const pre = el('pre', 'json');
      pre.tabIndex = 0;
      pre.setAttribute('role', 'region');
      pre.setAttribute('aria-label', `Claims returned by the ${name} API`);
      pre.append(renderJson(result.data.claims));
      details.append(pre);
      card.append(details);
    }
  } else {
    card.append(el('p', 'result-message', errorMessage(result)));
    let why = '';
    if (!token) why = 'No token yet: the call was sent without an Authorization header.';
    else if (result.status === 403 && requires) {
      const have = state.token.scopes.length ? state.token.scopes.join(', ') : 'none';
      why = `This endpoint needs the grant “${requires}”. The token's effective grants: ${have}.`;
    } else if (result.status === 401 && isExpired()) why = 'The token has expired.';
    if (why) card.append(el('p', 'result-why', why));
  }
  out.replaceChildren(card);
}

// ---------------------------------------------------------------------------------------------------------
// Copy

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      /* fall through to the legacy path */
    }
  }
  const area = el('textarea', 'offscreen');
  area.value = text;
  area.setAttribute('readonly', '');
  area.setAttribute('aria-hidden', 'true');
  area.tabIndex = -1;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

let copyReset = 0;
async function onCopy() {
  if (!state.token) return;
  const button = $('copy-jwt');
  const ok = await copyText(state.token.jwt);
  button.focus();
  if (!ok) {
    const range = document.createRange();
    range.selectNodeContents($('jwt'));
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  $('copy-label').textContent = ok ? 'Copied' : 'Press Ctrl+C';
  $('copy-status').textContent = ok ? 'Token copied to the clipboard.' : 'Copying failed; the token is selected, press Ctrl+C (or ⌘C) to copy it.';
  button.classList.toggle('is-done', ok);
  window.clearTimeout(copyReset);
  copyReset = window.setTimeout(() => {
    $('copy-label').textContent = 'Copy';
    $('copy-status').textContent = '';
    button.classList.remove('is-done');
  }, 2000);
}

// ---------------------------------------------------------------------------------------------------------
// Wiring

function init() {
  initTheme();

  $('toggle-key').addEventListener('click', () => {
    // A text field masked by CSS rather than type=password: browsers offer to save any submitted password
    // field, and an access key must never land in a password manager.
    const input = $('access-key');
    const show = input.classList.contains('masked');
    input.classList.toggle('masked', !show);
    $('toggle-key').textContent = show ? 'Hide' : 'Show';
    $('toggle-key').setAttribute('aria-label', show ? 'Hide access key' : 'Show access key');
  });
  $('access-key').addEventListener('input', syncDemoChips);

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    requestToken(readForm(), $('get-token'));
  });
  $('renew-token').addEventListener('click', () => {
    if (state.lastRequest) requestToken(state.lastRequest, $('renew-token'));
  });
  $('token-error').addEventListener('animationend', () => $('token-error').classList.remove('shake'));
  $('copy-jwt').addEventListener('click', onCopy);
  for (const button of document.querySelectorAll('.api-btn')) {
    button.addEventListener('click', () => tryApi(button.dataset.endpoint, button));
  }
  updateExpectations();
  tick();

  loadConfig().then((config) => {
    applyConfig(config);
    document.documentElement.classList.add('is-ready');
  });
}

init();
