// JSON as highlighted, indented text: one span per token, built from DOM nodes and textContent only.
import { el } from './dom.js';

export function renderJson(value) {
  const frag = document.createDocumentFragment();
  writeJson(frag, value, 0);
  return frag;
}

function writeJson(out, value, depth) {
  const pad = (d) => '  '.repeat(d);
  const punc = (t) => out.append(el('span', 'j-punc', t));
  const newline = (d) => out.append(document.createTextNode(`\n${pad(d)}`));
  if (value === null) {
    out.append(el('span', 'j-null', 'null'));
  } else if (typeof value === 'string') {
    out.append(el('span', 'j-str', JSON.stringify(value)));
  } else if (typeof value === 'number') {
    out.append(el('span', 'j-num', Number.isFinite(value) ? String(value) : 'null'));
  } else if (typeof value === 'boolean') {
    out.append(el('span', 'j-bool', String(value)));
  } else if (Array.isArray(value)) {
    if (value.length === 0) return punc('[]');
    punc('[');
    value.forEach((item, i) => {
      newline(depth + 1);
      writeJson(out, item, depth + 1);
      if (i < value.length - 1) punc(',');
    });
    newline(depth);
    punc(']');
  } else if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return punc('{}');
    punc('{');
    keys.forEach((key, i) => {
      newline(depth + 1);
      out.append(el('span', 'j-key', JSON.stringify(key)));
      punc(': ');
      writeJson(out, value[key], depth + 1);
      if (i < keys.length - 1) punc(',');
    });
    newline(depth);
    punc('}');
  } else {
    out.append(el('span', 'j-null', 'null'));
  }
}
