// config.json beside the page: the default project, the API's base URL and (locally) demo keys. A missing or
// malformed file, or a malformed field, falls back to defaults: the page still works on its own origin.
import { isObject } from './values.js';

const MAX_DEMO_KEYS = 20;

async function fetchConfig() {
  try {
    const res = await fetch('config.json', { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) return {};
    const data = await res.json();
    return isObject(data) ? data : {};
  } catch {
    return {};
  }
}

/** "" means same origin; otherwise an absolute http(s) URL without trailing slash. */
function apiBase(value) {
  if (typeof value !== 'string' || value.trim() === '') return { base: '', ok: true };
  try {
    const url = new URL(value.trim());
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return { base: '', ok: false };
    return { base: (url.origin + url.pathname).replace(/\/+$/, ''), ok: true };
  } catch {
    return { base: '', ok: false };
  }
}

/** Demo keys as { key, label }: listed ones (objects or bare strings), the hint first when not listed. */
function demoKeys(listed, hint) {
  const keys = [];
  for (const item of Array.isArray(listed) ? listed : []) {
    if (isObject(item) && typeof item.key === 'string' && item.key.trim()) {
      keys.push({ key: item.key.trim(), label: typeof item.label === 'string' ? item.label : '' });
    } else if (typeof item === 'string' && item.trim()) {
      keys.push({ key: item.trim(), label: '' });
    }
  }
  if (hint && !keys.some((d) => d.key === hint)) keys.unshift({ key: hint, label: 'suggested' });
  return keys.slice(0, MAX_DEMO_KEYS);
}

/** Resolves with { projectId, apiBase, apiBaseValid, keyHint, demoKeys }, whatever config.json holds. */
export async function loadConfig() {
  const config = await fetchConfig();
  const api = apiBase(config.apiBaseUrl);
  const hint = typeof config.demoAccessKeyHint === 'string' ? config.demoAccessKeyHint.trim() : '';
  return {
    projectId: typeof config.projectId === 'string' ? config.projectId.trim() : '',
    apiBase: api.base,
    apiBaseValid: api.ok,
    keyHint: hint,
    demoKeys: demoKeys(config.demoAccessKeys, hint),
  };
}
