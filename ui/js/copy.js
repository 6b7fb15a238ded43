// The copy button: the exact token to the clipboard, or, where the clipboard is unavailable, the token
// selected so the person can copy it themselves.
import { $, el } from './dom.js';
import { current } from './session.js';

const RESET_MS = 2000;
let resetTimer = 0;

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

function selectToken() {
  const range = document.createRange();
  range.selectNodeContents($('jwt'));
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

async function onCopy() {
  const { token } = current();
  if (!token) return;
  const button = $('copy-jwt');
  const ok = await copyText(token.jwt);
  button.focus();
  if (!ok) selectToken();
  $('copy-label').textContent = ok ? 'Copied' : 'Press Ctrl+C';
  $('copy-status').textContent = ok ? 'Token copied to the clipboard.' : 'Copying failed; the token is selected, press Ctrl+C (or ⌘C) to copy it.';
  button.classList.toggle('is-done', ok);
  window.clearTimeout(resetTimer);
  resetTimer = window.setTimeout(() => {
    $('copy-label').textContent = 'Copy';
    $('copy-status').textContent = '';
    button.classList.remove('is-done');
  }, RESET_MS);
}

export function initCopy() {
  $('copy-jwt').addEventListener('click', onCopy);
}
