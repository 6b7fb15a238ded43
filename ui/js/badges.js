// Badges for the claims that decide access: roles, permissions, the current tenant and its roles and
// permissions, the requested scopes (each narrowing claim on its own) and the effective grants. The effective
// grants are the token function's answer; the page shows them and never derives them from the claims.
import { $, el } from './dom.js';
import { isObject, strings } from './values.js';

const SCOPE_CLAIMS = [['nsec.scope', (p) => (isObject(p.nsec) ? p.nsec.scope : undefined)],
  ['scope', (p) => p.scope], ['scopes', (p) => p.scopes]];

/** The claims that carry requested scopes, each as { name, list }: a space-separated string or an array. */
function scopeClaims(payload) {
  const parse = (v) => (typeof v === 'string' ? v.split(' ').filter(Boolean) : strings(v));
  return SCOPE_CLAIMS.map(([name, read]) => ({ name, value: read(payload) }))
    .filter(({ value }) => value !== undefined)
    .map(({ name, value }) => ({ name, list: parse(value) }));
}

function badgeGroup(title, items, { note, emptyText = 'none', variant = '', explain } = {}) {
  const group = el('div', `badge-group${variant ? ` badge-group-${variant}` : ''}`);
  const head = el('p', 'badge-title', title);
  if (note) head.append(el('span', 'badge-note', ` ${note}`));
  group.append(head);
  const list = el('ul', 'badges');
  if (items.length === 0) list.append(el('li', 'badge badge-empty', emptyText));
  for (const item of items) list.append(el('li', `badge${variant ? ` badge-${variant}` : ''}`, item));
  group.append(list);
  if (explain) group.append(el('p', 'badge-explain', explain));
  return group;
}

function tenantGroups(payload) {
  const dct = typeof payload.dct === 'string' ? payload.dct : null;
  const tenants = isObject(payload.tenants) ? payload.tenants : {};
  const groups = [badgeGroup('Current tenant', dct ? [dct] : [], { note: '(dct)', variant: 'tenant' })];
  if (dct) {
    const own = Object.prototype.hasOwnProperty.call(tenants, dct) && isObject(tenants[dct]) ? tenants[dct] : {};
    groups.push(badgeGroup('Tenant roles', strings(own.roles), { note: `(${dct})` }));
    groups.push(badgeGroup('Tenant permissions', strings(own.permissions), { note: `(${dct})` }));
  }
  const others = Object.keys(tenants).filter((t) => t !== dct);
  if (others.length) {
    groups.push(badgeGroup('Other tenants', others, {
      note: '(not counted)', variant: 'muted',
      explain: dct ? 'Only the current tenant\'s roles and permissions count.'
        : 'No current tenant: ask for one in the Tenant field to use its roles and permissions.',
    }));
  }
  return groups;
}

function scopeGroups(payload) {
  const claims = scopeClaims(payload);
  if (claims.length === 0) {
    return [badgeGroup('Requested scopes', [], { note: '(nsec.scope)', emptyText: 'none requested — no narrowing', variant: 'scope' })];
  }
  return claims.map(({ name, list }) => badgeGroup('Requested scopes', list, { note: `(${name})`, variant: 'scope' }));
}

function grantGroup(grants) {
  if (grants === null) {
    return badgeGroup('Effective grants', [], {
      note: '(not reported)', emptyText: 'not reported by the token function', variant: 'grant',
      explain: 'The token function\'s answer carried no grants, and the page does not guess them: the API calls below decide.',
    });
  }
  return badgeGroup('Effective grants', grants, {
    note: '(from the token function)', variant: 'grant',
    explain: 'What the APIs will allow: the roles and permissions above (with the current tenant\'s), narrowed by any requested scopes, as the token function computed them.',
  });
}

export function renderBadges(token) {
  const { payload } = token;
  $('badges').replaceChildren(
    badgeGroup('Roles', strings(payload.roles)),
    badgeGroup('Permissions', strings(payload.permissions)),
    ...tenantGroups(payload),
    ...scopeGroups(payload),
    grantGroup(token.grants),
  );
}
