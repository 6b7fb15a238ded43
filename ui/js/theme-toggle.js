// The dark mode toggle. theme.js (a classic script in <head>) applies the remembered choice before the first
// paint; this module keeps the button in step and remembers a new choice. Only the theme is ever stored.
import { $ } from './dom.js';

const THEME_KEY = 'm2m-theme';
const systemDark = () => window.matchMedia('(prefers-color-scheme: dark)');

function effectiveTheme() {
  const set = document.documentElement.dataset.theme;
  if (set === 'dark' || set === 'light') return set;
  return systemDark().matches ? 'dark' : 'light';
}

function syncButton() {
  $('theme-toggle').setAttribute('aria-pressed', String(effectiveTheme() === 'dark'));
}

export function initThemeToggle() {
  syncButton();
  $('theme-toggle').addEventListener('click', () => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    try {
      window.localStorage.setItem(THEME_KEY, next);
    } catch {
      /* private mode: the toggle still works for this visit */
    }
    syncButton();
  });
  systemDark().addEventListener('change', syncButton);
}
