// The local stack for end-to-end tests: `bash scripts/local-stack.sh` on a free port, started once per test
// file when M2M_BASE_URL is not given, stopped (its whole process group) when the file's tests end.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const STACK_TIMEOUT_MS = Number(process.env.M2M_STACK_TIMEOUT_SECONDS || 900) * 1000;

let stack = null;
let stackLog = '';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts the stack and resolves with its base URL. */
export async function start() {
  const port = await freePort();
  return new Promise((resolve, reject) => {
    const script = path.resolve(repoRoot, process.env.M2M_STACK_SCRIPT || path.join('scripts', 'local-stack.sh'));
    if (!existsSync(script)) {
      reject(new Error(`M2M_BASE_URL is unset and ${script} does not exist`));
      return;
    }
    stack = spawn('bash', [script], {
      cwd: repoRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, M2M_PORT: String(port) },
    });
    // Safety net if this process ends without running the after hook (the after hook is the normal path).
    const pid = stack.pid;
    process.once('exit', () => {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    });
    let buffered = '';
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`local stack printed no READY line within ${STACK_TIMEOUT_MS / 1000}s\n${tail()}`)), STACK_TIMEOUT_MS);
    const tail = () => stackLog.split('\n').slice(-40).join('\n');
    function finish(err, url) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(url);
    }
    stack.stdout.setEncoding('utf8');
    stack.stderr.setEncoding('utf8');
    stack.stdout.on('data', (chunk) => {
      stackLog = (stackLog + chunk).slice(-20000);
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        const m = /^READY\s+(\S+)/.exec(line);
        if (m) finish(null, m[1].replace(/\/+$/, ''));
      }
    });
    stack.stderr.on('data', (chunk) => {
      stackLog = (stackLog + chunk).slice(-20000);
    });
    stack.on('error', (err) => finish(err));
    stack.on('exit', (code, signal) => {
      finish(new Error(`local stack exited (code ${code}, signal ${signal}) before READY\n${tail()}`));
    });
  });
}

/** Stops the stack this module started, if any. */
export async function stop() {
  if (!stack || stack.exitCode !== null || stack.signalCode !== null) return;
  const exited = new Promise((resolve) => stack.once('exit', resolve));
  try {
    process.kill(-stack.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 15000));
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    try {
      process.kill(-stack.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
