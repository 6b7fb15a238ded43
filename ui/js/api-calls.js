// The three protected APIs: what to expect from each with the token on screen, and the calls themselves with
// status, latency, the message and claims, or the error and why.
import { $, el, setBusy } from './dom.js';
import { errorMessage, post, statusLabel } from './http.js';
import { isExpired } from './jwt.js';
import { renderJson } from './json-view.js';
import { current, subscribe } from './session.js';
import { isObject } from './values.js';

const ENDPOINTS = {
  protected: { path: '/api/protected', requires: null },
  user: { path: '/api/user', requires: 'read:data' },
  admin: { path: '/api/admin', requires: 'admin' },
};
const inFlight = new Set();

/** [text, tone] saying what a call would answer, from the token on screen and the server's grants. */
function expectation({ token, previous }, requires) {
  if (!token) return ['no token yet: expect 401', 'muted'];
  if (previous) return ['off: the last token request failed', 'muted'];
  if (isExpired(token)) return ['token expired: expect 401', 'bad'];
  if (!requires) return ['✓ any valid token', 'good'];
  if (token.grants === null) return [`needs ${requires}: grants not reported`, 'muted'];
  if (token.grants.includes(requires)) return [`✓ token grants ${requires}`, 'good'];
  return [`✗ no ${requires} grant: expect 403`, 'bad'];
}

/** Re-reads the session: the expectations, and the buttons (off while the token on screen is a previous one). */
export function refreshExpectations() {
  const snapshot = current();
  for (const [name, { requires }] of Object.entries(ENDPOINTS)) {
    const [text, tone] = expectation(snapshot, requires);
    const node = $(`expect-${name}`);
    node.textContent = text;
    node.className = `api-expect expect-${tone}`;
    $(`api-${name}`).disabled = snapshot.previous || inFlight.has(name);
  }
}

function why(result, token, requires) {
  if (!token) return 'No token yet: the call was sent without an Authorization header.';
  if (result.status === 403 && requires) {
    if (token.grants === null) return `This endpoint needs the grant “${requires}”; the token function did not report this token's grants.`;
    return `This endpoint needs the grant “${requires}”. The token's effective grants: ${token.grants.length ? token.grants.join(', ') : 'none'}.`;
  }
  if (result.status === 401 && isExpired(token)) return 'The token has expired.';
  return '';
}

function resultCard(name, result, token, requires) {
  const ok = result.ok && isObject(result.data) && result.data.success === true;
  const card = el('div', `result ${ok ? 'result-ok' : 'result-error'}`);
  const head = el('div', 'result-head');
  const tone = result.status >= 200 && result.status < 300 ? 'ok' : result.status >= 500 || result.status === 0 ? 'bad' : 'warn';
  const status = el('span', `status-code status-${tone}`, statusLabel(result.status));
  status.dataset.status = String(result.status);
  head.append(status, el('span', 'latency', `${result.ms} ms`), el('span', 'result-time', new Date().toLocaleTimeString()));
  card.append(head);
  if (!ok) {
    card.append(el('p', 'result-message', errorMessage(result)));
    const reason = why(result, token, requires);
    if (reason) card.append(el('p', 'result-why', reason));
    return card;
  }
  card.append(el('p', 'result-message', typeof result.data.message === 'string' ? result.data.message : 'Succeeded.'));
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
  return card;
}

async function tryApi(name, button) {
  const { path, requires } = ENDPOINTS[name];
  const { token, previous } = current();
  if (previous) return;
  inFlight.add(name);
  setBusy(button, true);
  refreshExpectations();
  const result = await post(path, { token: token ? token.jwt : null });
  inFlight.delete(name);
  setBusy(button, false);
  refreshExpectations();
  // An answer about a token that is no longer the one on screen would be mistaken for the new one's.
  if (current().token !== token || current().previous) return;
  $(`result-${name}`).replaceChildren(resultCard(name, result, token, requires));
}

export function initApiCalls() {
  for (const button of document.querySelectorAll('.api-btn')) {
    button.addEventListener('click', () => tryApi(button.dataset.endpoint, button));
  }
  subscribe(() => {
    // Results belong to the token they were made with: a new token, or a failed request, clears them.
    for (const name of Object.keys(ENDPOINTS)) $(`result-${name}`).replaceChildren();
    refreshExpectations();
  });
  refreshExpectations();
}
