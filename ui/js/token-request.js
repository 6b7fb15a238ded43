// "Get M2M Token" and "Get a new token": one exchange at a time, a spinner while it runs, then either a new
// token in the session or the error (and the token on screen, if any, marked as the previous one).
import { $, setBusy } from './dom.js';
import { readForm } from './form.js';
import { errorMessage, post, statusLabel } from './http.js';
import { subjectOf, tokenFromResponse } from './jwt.js';
import { current, requestFailed, tokenReceived } from './session.js';
import { hideError, setStatus, showError } from './status.js';

let busy = false;

function setWaiting(button, waiting) {
  busy = waiting;
  setBusy(button, waiting);
  $('get-token').disabled = waiting;
  $('renew-token').disabled = waiting || current().lastRequest === null;
  if (waiting) $('token-form').setAttribute('aria-busy', 'true');
  else $('token-form').removeAttribute('aria-busy');
}

async function requestToken(body, button) {
  if (busy) return;
  setWaiting(button, true);
  hideError();
  setStatus('Exchanging the access key for a token…');
  const result = await post('/m2m/token', { body });
  const token = result.ok ? tokenFromResponse(result.data) : null;
  if (token) {
    tokenReceived(token, body);
    const sub = subjectOf(token);
    setStatus(`Token received${sub ? ` for ${sub}` : ''} in ${result.ms} ms.`);
  } else {
    requestFailed();
    setStatus(current().token ? 'No new token: the token shown is the previous one.' : '');
    showError(`${result.status ? `${statusLabel(result.status)}: ` : ''}${errorMessage(result)}`);
  }
  setWaiting(button, false);
}

export function initTokenRequest() {
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    requestToken(readForm(), $('get-token'));
  });
  $('renew-token').addEventListener('click', () => {
    const { lastRequest } = current();
    if (lastRequest) requestToken(lastRequest, $('renew-token'));
  });
}
