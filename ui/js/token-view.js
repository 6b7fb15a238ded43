// The token card: the raw JWT coloured by part, subject and times, the badges, the decoded header and payload.
// When a later request fails, the card stays but is marked as the previous token, so nobody takes it for the
// answer to the request that failed.
import { $, el, reducedMotion, timeNode } from './dom.js';
import { renderBadges } from './badges.js';
import { renderJson } from './json-view.js';
import { subjectOf } from './jwt.js';
import { subscribe } from './session.js';

const PART_CLASSES = ['jwt-header', 'jwt-payload', 'jwt-signature'];

function renderJwt(parts) {
  const frag = document.createDocumentFragment();
  parts.forEach((part, i) => {
    if (i > 0) frag.append(el('span', 'jwt-dot', '.'));
    frag.append(el('span', PART_CLASSES[i] || 'jwt-extra', part));
  });
  $('jwt').replaceChildren(frag);
}

function renderMeta({ payload, expiresAt }) {
  $('meta-sub').textContent = typeof payload.sub === 'string' ? payload.sub : '—';
  $('meta-iat').replaceChildren(timeNode(payload.iat));
  $('meta-exp').replaceChildren(timeNode(expiresAt ?? payload.exp));
  $('meta-iss').textContent = typeof payload.iss === 'string' ? payload.iss : '—';
}

function setPrevious(previous) {
  document.querySelector('.token-card').classList.toggle('is-previous', previous);
  $('token-title').textContent = previous ? 'Previous token' : 'Your token';
  $('token-previous').hidden = !previous;
}

function showToken({ token }) {
  renderJwt(token.parts);
  renderMeta(token);
  renderBadges(token);
  $('decoded-header').replaceChildren(renderJson(token.header));
  $('decoded-payload').replaceChildren(renderJson(token.payload));
  $('copy-label').textContent = 'Copy';
  setPrevious(false);
  $('token-empty').hidden = true;
  $('token-view').hidden = false;

  const card = document.querySelector('.token-card');
  if (card.getBoundingClientRect().top > window.innerHeight) {
    card.scrollIntoView({ behavior: reducedMotion() ? 'auto' : 'smooth', block: 'start' });
  }
}

function markPrevious({ token, receivedAt }) {
  const sub = subjectOf(token);
  const when = receivedAt.toLocaleTimeString();
  $('token-previous-text').textContent = `This is the token received at ${when}${sub ? ` for ${sub}` : ''}, `
    + 'by an earlier request. The request that just failed got no token. The API buttons stay off until a request succeeds.';
  setPrevious(true);
}

export function initTokenView() {
  subscribe((snapshot, change) => (change === 'token' ? showToken(snapshot) : markPrevious(snapshot)));
}
