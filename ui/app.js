// Descope M2M Token Playground: the entry module. It only wires the page's parts together; each lives in a
// module of its own under js/ (native ES modules, no build step).
//
// Safety rules kept by every module:
//  * Text from a token, an API answer or config.json goes into the page as text (textContent, text nodes);
//    nothing parses a string as HTML.
//  * The access key and the token live only in memory (js/session.js). Only the colour theme is stored.
//  * No inline scripts, no eval, no style attributes: the page runs under script-src 'self'; style-src 'self'.
import { initApiCalls, refreshExpectations } from './js/api-calls.js';
import { loadConfig } from './js/config.js';
import { initCopy } from './js/copy.js';
import { initCountdown } from './js/countdown.js';
import { applyConfig, initForm } from './js/form.js';
import { setApiBase } from './js/http.js';
import { initErrorBox, setStatus } from './js/status.js';
import { initThemeToggle } from './js/theme-toggle.js';
import { initTokenRequest } from './js/token-request.js';
import { initTokenView } from './js/token-view.js';

initThemeToggle();
initForm();
initErrorBox();
initTokenView();
initCopy();
initApiCalls();
initCountdown({
  expired() {
    setStatus('The token has expired. Choose “Get a new token” for a fresh one.');
    refreshExpectations();
  },
});
initTokenRequest();

loadConfig().then((config) => {
  setApiBase(config.apiBase);
  applyConfig(config);
  if (!config.apiBaseValid) setStatus('config.json has an invalid apiBaseUrl; calling this page\'s own origin instead.');
  document.documentElement.classList.add('is-ready');
});
