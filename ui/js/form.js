// The request form: defaults from config.json, demo key suggestions, the masked access key, and reading the
// form into a token request body (empty fields left out, so the server's defaults apply).
import { $, el } from './dom.js';
import { unique } from './values.js';

const SCOPE_CHECKBOXES = 'input[name="scope"]:checked';

function syncDemoChips() {
  const value = $('access-key').value.trim();
  for (const chip of $('demo-keys').querySelectorAll('.chip')) {
    chip.setAttribute('aria-pressed', String(chip.dataset.key === value));
  }
}

function demoChip({ key, label }) {
  const button = el('button', 'chip');
  button.type = 'button';
  button.dataset.key = key;
  button.setAttribute('aria-pressed', 'false');
  button.append(el('span', 'chip-key', key));
  if (label) button.append(el('span', 'chip-label', label));
  button.addEventListener('click', () => {
    $('access-key').value = key;
    syncDemoChips();
    $('access-key').focus();
  });
  const item = el('li');
  item.append(button);
  return item;
}

/** Fills in what config.json provides (see config.js). */
export function applyConfig({ projectId, keyHint, demoKeys }) {
  if (projectId) $('project-id').value = projectId;
  else $('project-id').placeholder = "server's default project";
  $('access-key').placeholder = keyHint ? `e.g. ${keyHint}` : 'your access key';
  if (demoKeys.length) {
    $('demo-keys').querySelector('ul').replaceChildren(...demoKeys.map(demoChip));
    $('demo-keys').hidden = false;
  }
}

export function initForm() {
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
}

export function readForm() {
  const body = {};
  const projectId = $('project-id').value.trim();
  const accessKey = $('access-key').value.trim();
  const tenant = $('tenant').value.trim();
  const checked = [...document.querySelectorAll(SCOPE_CHECKBOXES)].map((c) => c.value);
  const scopes = unique([...checked, ...$('custom-scopes').value.split(/\s+/).filter(Boolean)]);
  if (projectId) body.projectId = projectId;
  if (accessKey) body.accessKey = accessKey;
  if (scopes.length) body.scopes = scopes;
  if (tenant) body.tenant = tenant;
  return body;
}
