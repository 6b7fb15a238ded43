// The facts this app shares with the SAM template, read from their one source, infra/stack.json: the parameters,
// each function's description and environment, the alarms, the dashboard and the Content-Security-Policy (the
// SAM template's copies are written by infra/generate_sam.py). Their values are CloudFormation, with SAM's logical
// ids: {"Ref": "TokenFunction"} is this app's token function, {"Ref": "ProjectId"} the parameter (`resolveFacts`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Token } from 'aws-cdk-lib';

/** infra/ (this file is compiled to infra/cdk/build/lib/). */
export const INFRA_DIR = path.resolve(__dirname, '..', '..', '..');

type Json = any;
export const FACTS: Json = JSON.parse(fs.readFileSync(path.join(INFRA_DIR, 'stack.json'), 'utf8'));

/** What each name a fact may `Ref` is in this app: parameters and the resources SAM's logical ids stand for. */
export type Refs = Record<string, string>;

/** A fact with every `Ref` mapped to this app's token for it (AWS:: pseudo parameters stay as they are). */
export function resolveFacts(value: Json, refs: Refs): Json {
  if (Array.isArray(value)) return value.map((v) => resolveFacts(v, refs));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === 'Ref' && !String(value.Ref).startsWith('AWS::')) {
    if (!(value.Ref in refs)) throw new Error(`infra/stack.json refers to ${value.Ref}, which this app does not define`);
    return refs[value.Ref];
  }
  return Object.fromEntries(keys.map((k) => [k, resolveFacts(value[k], refs)]));
}

/** A resolved fact as a string (a token for an intrinsic function). */
export const asString = (value: Json): string => (typeof value === 'string' ? value : Token.asString(value));

/** token -> Token, api-5xx-rate -> Api5xxRate: the logical-id stem (as infra/generate_sam.py makes it). */
export const stem = (name: string): string =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** A function's environment: its groups and its own variables, in order. */
export function environmentOf(name: string, refs: Refs): Record<string, string> {
  const env: Record<string, string> = {};
  for (const part of FACTS.functions[name].environment) {
    const vars = typeof part === 'string' ? FACTS.environment[part] : part;
    for (const [k, v] of Object.entries(vars)) env[k] = asString(resolveFacts(v, refs));
  }
  return env;
}

const fill = (value: Json, fn: string): Json =>
  JSON.parse(JSON.stringify(value).replaceAll('{fn}', fn).replaceAll('{Fn}', stem(fn)));

/** Every alarm: logical id, name after "<stack>-", properties (without AlarmName), refs resolved. */
export function alarmsOf(refs: Refs): { id: string; name: string; properties: Json }[] {
  return FACTS.alarms.alarms.flatMap((spec: Json) =>
    ((spec.for as string[] | undefined) ?? ['']).map((fn) => {
      const name = fill(spec.name, fn) as string;
      const properties = resolveFacts({ ...fill(spec.properties, fn), ...FACTS.alarms.every }, refs);
      return { id: `${stem(name)}Alarm`, name, properties };
    }),
  );
}

type SubFact = 'dashboard' | 'contentSecurityPolicy';

/** The dashboard's or the CSP's Fn::Sub template: the file stack.json names. */
export function templateOf(key: SubFact): string {
  const text = fs.readFileSync(path.join(INFRA_DIR, FACTS[key].body ?? FACTS[key].template), 'utf8');
  return key === 'dashboard' ? text : text.trim();
}

/** Fn::Sub's arguments for the dashboard or the CSP: the template and its variables. */
export function subOf(key: SubFact, refs: Refs): [string, Record<string, string>] {
  const variables = Object.entries(FACTS[key].variables).map(([k, v]) => [k, asString(resolveFacts(v, refs))]);
  return [templateOf(key), Object.fromEntries(variables)];
}
