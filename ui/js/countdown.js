// The token's live expiry countdown, turning to "expired"; labelled as the previous token's when a later
// request failed.
import { $ } from './dom.js';
import { current, subscribe } from './session.js';

const TICK_MS = 250;
let timer = 0;
let expiredAnnounced = false;
let onExpire = () => {};

function formatDuration(total) {
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, '0');
  if (h > 0) return `${h}h ${two(m)}m ${two(s)}s`;
  if (m > 0) return `${m}m ${two(s)}s`;
  return `${s}s`;
}

/** { text, variant } for a token (or none) at this moment. */
function reading(token) {
  if (!token) return { text: 'no token', variant: 'muted' };
  if (token.expiresAt === null) return { text: 'no expiry claim', variant: 'warn' };
  const left = Math.ceil(token.expiresAt - Date.now() / 1000);
  if (left <= 0) return { text: 'expired', variant: 'expired' };
  return { text: `expires in ${formatDuration(left)}`, variant: left <= 60 ? 'warn' : 'ok' };
}

function tick() {
  const { token, previous } = current();
  const { text: left, variant } = reading(token);
  const text = token && previous ? `previous token · ${left}` : left;
  const value = $('countdown-value');
  if (value.textContent !== text) value.textContent = text;
  const cls = `pill pill-${variant}${token && previous ? ' pill-previous' : ''}`;
  if ($('countdown').className !== cls) $('countdown').className = cls;
  if (variant === 'expired') {
    window.clearInterval(timer);
    timer = 0;
    if (!expiredAnnounced) {
      expiredAnnounced = true;
      onExpire();
    }
  }
}

function restart() {
  window.clearInterval(timer);
  expiredAnnounced = false;
  timer = window.setInterval(tick, TICK_MS);
  tick();
}

/** expired: called once when the token on screen expires. */
export function initCountdown({ expired }) {
  onExpire = expired;
  subscribe((_, change) => (change === 'token' ? restart() : tick()));
  tick();
}
