// The deployed functions and their HTTP API routes: the same as the SAM template's functions and events (the
// drift check compares both templates with each other and with the root Cargo.toml watch router). Each function's
// description and environment are in infra/stack.json.

/** How API Gateway authorizes a route: not at all (the function decides), IAM (SigV4), or the Lambda authorizer. */
export type RouteAuth = 'none' | 'iam' | 'authorizer';

export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'OPTIONS';
  readonly path: string;
  readonly auth: RouteAuth;
}

export interface FunctionSpec {
  /** Binary name (= cargo package, functions/<name>) and the suffix of the function's name. */
  readonly name: string;
  readonly routes: readonly RouteSpec[];
}

// A POST route and its CORS preflight, both to the function: the functions answer preflights themselves from
// CORS_ALLOWED_ORIGINS (API Gateway's own CORS configuration would answer without that allow list).
const postWithPreflight = (path: string): RouteSpec[] => [
  { method: 'POST', path, auth: 'none' },
  { method: 'OPTIONS', path, auth: 'none' },
];

export const FUNCTIONS: readonly FunctionSpec[] = [
  { name: 'token', routes: [...postWithPreflight('/m2m/token'), { method: 'POST', path: '/m2m/token/iam', auth: 'iam' }] },
  { name: 'protected', routes: postWithPreflight('/api/protected') },
  { name: 'user', routes: postWithPreflight('/api/user') },
  { name: 'admin', routes: postWithPreflight('/api/admin') },
  { name: 'authorizer', routes: [] },
  { name: 'whoami', routes: [{ method: 'GET', path: '/api/whoami', auth: 'authorizer' }] },
];

/** Route keys with the token routes' stricter throttling (each call costs a provider exchange). */
export const TOKEN_ROUTE_KEYS = ['POST /m2m/token', 'POST /m2m/token/iam'] as const;

/** The logical-id stem of a function: token -> Token (TokenFunction, TokenRole, TokenLogGroup, ...). */
export const idOf = (name: string): string => name.charAt(0).toUpperCase() + name.slice(1);
