// Calls to the token function and the protected APIs: always POST, JSON, no cookies, no referrer, no cache.
import { isObject } from './values.js';

const STATUS_TEXT = {
  0: 'Network error', 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

// Where the API lives: "" (this page's origin) until config.json names another base.
let apiBase = '';

export function setApiBase(base) {
  apiBase = base;
}

/** Resolves with { status, ok, ms, data } (status 0 and networkError when nothing answered); never rejects. */
export async function post(path, { body, token } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method: 'POST', headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (token) headers.Authorization = `Bearer ${token}`;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(apiBase + path, init);
    const text = await res.text();
    let data = null;
    try {
      data = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, ok: res.ok, ms: elapsed(), data };
  } catch (err) {
    return { status: 0, ok: false, ms: elapsed(), data: null, networkError: String(err && err.message ? err.message : err) };
  }
}

/** The server's own error message, or a description of what went wrong on the way. */
export function errorMessage(result) {
  if (result.status === 0) {
    return `Could not reach the server (${result.networkError || 'network error'}). Check your connection and the API address.`;
  }
  if (isObject(result.data) && typeof result.data.error === 'string' && result.data.error) return result.data.error;
  return `Unexpected response (HTTP ${result.status}).`;
}

export const statusLabel = (code) => (code ? `${code} ${STATUS_TEXT[code] || ''}`.trim() : STATUS_TEXT[0]);
