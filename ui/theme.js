// Applies the remembered colour theme before the first paint. Only the theme is ever stored.
(function () {
  try {
    var t = window.localStorage.getItem('m2m-theme');
    if (t === 'dark' || t === 'light') document.documentElement.setAttribute('data-theme', t);
  } catch (e) { /* storage unavailable: follow the system */ }
})();
