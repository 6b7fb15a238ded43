// The token function's answer, read into what the page shows. The page decodes the JWT only to display it:
// whether it verifies and what it grants are the server's answers, never recomputed here.
import { isObject, strings, unique } from './values.js';

function decodeSegment(segment) {
  try {
    const b64 = segment.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const value = JSON.parse(new TextDecoder().decode(bytes));
    return isObject(value) ? value : {};
  } catch {
    return {};
  }
}

/** A successful answer ({ success: true, jwt, ... }), or null for anything else. */
export function tokenFromResponse(data) {
  if (!isObject(data) || data.success !== true || typeof data.jwt !== 'string') return null;
  const parts = data.jwt.split('.');
  const header = isObject(data.decodedHeader) ? data.decodedHeader : decodeSegment(parts[0] || '');
  const payload = isObject(data.decodedPayload) ? data.decodedPayload : decodeSegment(parts[1] || '');
  let expiresAt = Number(data.expiresAt);
  if (!Number.isFinite(expiresAt)) expiresAt = Number(payload.exp);
  return {
    jwt: data.jwt,
    parts,
    header,
    payload,
    expiresAt: Number.isFinite(expiresAt) ? expiresAt : null,
    // The effective grants as the token function computed them (docs/contract.md section 4); null when the
    // answer does not carry them: the page then says so rather than guessing.
    grants: Array.isArray(data.scopes) ? unique(strings(data.scopes)) : null,
  };
}

export const subjectOf = (token) => (typeof token.payload.sub === 'string' ? token.payload.sub : null);

export const isExpired = (token) => !!token && token.expiresAt !== null && token.expiresAt * 1000 <= Date.now();
