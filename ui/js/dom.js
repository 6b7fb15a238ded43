// DOM helpers. Text always goes in as text (textContent, text nodes): nothing in the page's scripts ever
// parses a string as HTML.

export const $ = (id) => document.getElementById(id);

export const reducedMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches;

/** Creates an element with an optional class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** Shows a button's spinner and marks it busy for assistive technology. */
export function setBusy(button, busy) {
  button.classList.toggle('is-loading', busy);
  if (busy) button.setAttribute('aria-busy', 'true');
  else button.removeAttribute('aria-busy');
}

/** A <time> for unix seconds, in local time, or a dash when the value is not a usable time. */
export function timeNode(seconds) {
  const n = Number(seconds);
  const date = new Date(n * 1000);
  if (!Number.isFinite(n) || Number.isNaN(date.getTime())) return document.createTextNode('—');
  const t = el('time', '', date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }));
  t.dateTime = date.toISOString();
  t.title = date.toISOString();
  return t;
}
