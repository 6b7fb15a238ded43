// Every shell block of the README that talks to the local stack, run as written (only the port of
// http://127.0.0.1:9000 replaced by the test stack's), with its printed result checked. A new `sh` block
// fails this test until it is given a check here (or a reason not to run it).
//
//   node --test tests/e2e/readme.test.mjs        (M2M_BASE_URL to reuse a running stack)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as localStack from './stack.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let baseUrl = process.env.M2M_BASE_URL ? process.env.M2M_BASE_URL.replace(/\/+$/, '') : '';
const cacheHome = mkdtempSync(path.join(tmpdir(), 'm2m-readme-cache-'));

before(async () => {
  if (!baseUrl) baseUrl = await localStack.start();
});
after(async () => {
  rmSync(cacheHome, { recursive: true, force: true });
  await localStack.stop();
});

// Each block is recognised by a line it holds. `run: false` blocks are not commands for the local stack.
const BLOCKS = [
  { marker: 'bash scripts/local-stack.sh', run: false, why: 'the run command itself: this test runs against it' },
  { marker: 'bash scripts/test.sh', run: false, why: 'the test command itself' },
  { marker: 'DESCOPE_PROJECT_ID=P2xxxxxxxx', run: false, why: 'the content of .env for real Descope' },
  { marker: 'awscurl --service execute-api', run: false, why: 'needs a deployed stack and AWS credentials' },
  { marker: 'aws secretsmanager create-secret', run: false, why: 'needs an AWS account' },
  {
    marker: "AUTHORIZER_GRANTS='",
    check: (out) => assert.equal(out.stdout, ''),
  },
  {
    marker: 'curl -s -X POST http://127.0.0.1:9000/api/user',
    check: (out) => {
      const lines = out.stdout.trim().split('\n');
      assert.equal(lines.length, 1, out.stdout);
      assert.match(out.stdout, /"success":true,"message":"User API call succeeded!"/);
      assert.match(out.stdout, /\{"error":"Missing required scope: 'admin'","success":false\}/);
    },
  },
  {
    marker: 'cargo lambda invoke -A 127.0.0.1 -P 9000 authorizer',
    check: (out) => {
      assert.doesNotMatch(out.stdout + out.stderr, /Connection refused|os error 111/);
      // http-v2: the simple answer with the context; http-v1, rest-request, rest-token: an Allow policy.
      assert.match(out.stdout, /"isAuthorized":\s*true/);
      assert.equal((out.stdout.match(/"Effect":\s*"Allow"/g) || []).length >= 3, true, out.stdout);
      assert.match(out.stdout, /"sub":\s*"K2LocalAdmin"/);
      // The placeholder token: the Lambda error Unauthorized (API Gateway's 401).
      assert.match(out.stdout + out.stderr, /Unauthorized/);
      // whoami: the authorizer context of its ready event.
      assert.match(out.stdout, /"statusCode":\s*200/);
    },
  },
  {
    marker: 'm2m() { cargo run',
    check: (out) => {
      assert.match(out.stdout, /^\['read:data'\]$/m);
      assert.match(out.stdout, /"message":"User API call succeeded!"/);
      assert.match(out.stdout, /\{"error":"Missing required scope: 'admin'","success":false\}\nexit 1$/m);
      assert.match(out.stderr, /answered 403 Forbidden/);
      const loop = out.stdout.split('\n').filter((line) => line.includes('Protected API call succeeded!'));
      assert.equal(loop.length, 3, out.stdout);
      // --cache: one token (one exchange) for the three runs of the loop.
      assert.equal(new Set(loop.map((line) => JSON.parse(line).claims.iat)).size, 1, out.stdout);
      assert.doesNotMatch(out.stdout + out.stderr, /dev-reader-key/);
    },
  },
];

function shellBlocks() {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  return [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

function runBlock(script) {
  const port = new URL(baseUrl).port;
  const text = script.replaceAll('http://127.0.0.1:9000', baseUrl).replaceAll('-P 9000', `-P ${port}`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', text], {
      cwd: repoRoot,
      env: { ...process.env, XDG_CACHE_HOME: cacheHome, DESCOPE_ACCESS_KEY: '', M2M_BASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('every sh block of the README has a check here', () => {
  for (const block of shellBlocks()) {
    const specs = BLOCKS.filter((b) => block.includes(b.marker));
    assert.equal(specs.length, 1, `README block without exactly one check in tests/e2e/readme.test.mjs:\n${block}`);
  }
  for (const spec of BLOCKS) {
    assert.ok(shellBlocks().some((block) => block.includes(spec.marker)), `no README block holds ${spec.marker}`);
  }
});

for (const spec of BLOCKS.filter((b) => b.run !== false)) {
  test(`README: ${spec.marker}`, async () => {
    const block = shellBlocks().find((b) => b.includes(spec.marker));
    assert.ok(block, spec.marker);
    const out = await runBlock(block);
    try {
      spec.check(out);
    } catch (error) {
      error.message += `\n--- exit ${out.code}\n--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`;
      throw error;
    }
  });
}

// The run command with a shared build folder (CARGO_TARGET_DIR): it finds the local issuer there.
test('scripts/local-stack.sh takes the build folder from cargo metadata', async () => {
  const out = await new Promise((resolve) => {
    const child = spawn('cargo', ['metadata', '--format-version', '1', '--no-deps'], {
      cwd: repoRoot,
      env: { ...process.env, CARGO_TARGET_DIR: '/tmp/m2m-shared-target' },
    });
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.on('exit', () => resolve(stdout));
  });
  assert.equal(JSON.parse(out).target_directory, '/tmp/m2m-shared-target');
  const script = readFileSync(path.join(repoRoot, 'scripts', 'local-stack.sh'), 'utf8');
  assert.doesNotMatch(script, /\btarget\/debug\//);
  assert.match(script, /"\$target_dir\/debug\/descope-local"/);
});
