// The request form's status line (announced politely) and its error box (an alert that shakes unless the
// person prefers reduced motion).
import { $, reducedMotion } from './dom.js';

export function setStatus(text) {
  $('token-status').textContent = text;
}

export function showError(message) {
  const box = $('token-error');
  box.hidden = false;
  $('token-error-text').textContent = message;
  box.classList.remove('shake');
  if (!reducedMotion()) {
    void box.offsetWidth; // restart the animation
    box.classList.add('shake');
  }
}

export function hideError() {
  const box = $('token-error');
  box.hidden = true;
  $('token-error-text').textContent = '';
  box.classList.remove('shake');
}

export function initErrorBox() {
  $('token-error').addEventListener('animationend', () => $('token-error').classList.remove('shake'));
}
