// The one piece of shared state: the token on screen, whether it is the answer to the latest request, and the
// request that produced it (for "Get a new token"). Memory only, never stored. Only this module changes it;
// the views subscribe and render from it.

let snapshot = Object.freeze({
  token: null, // see tokenFromResponse in jwt.js
  previous: false, // true when a later request failed: the token on screen is the earlier success's
  lastRequest: null, // body of the last successful token request
  receivedAt: null, // Date the token on screen arrived
});
const listeners = new Set();

export const current = () => snapshot;

/** listener(snapshot, change): change is 'token' (a new token) or 'previous' (a later request failed). */
export function subscribe(listener) {
  listeners.add(listener);
}

function publish(change, fields) {
  snapshot = Object.freeze({ ...snapshot, ...fields });
  for (const listener of listeners) listener(snapshot, change);
}

export function tokenReceived(token, request) {
  publish('token', { token, previous: false, lastRequest: request, receivedAt: new Date() });
}

/** A request failed: the token on screen, if any, no longer answers the person's latest request. */
export function requestFailed() {
  if (snapshot.token && !snapshot.previous) publish('previous', { previous: true });
}
