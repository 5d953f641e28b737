// Helpers shared by the reliability scripts: starting and killing Tally processes,
// a small HTTP client that classifies failures, argument parsing, statistics.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, closeSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TALLY = join(ROOT, 'bin', 'tally');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `--name value` / `--flag` arguments into an object, with defaults and types taken from `spec`. */
export function parseArgs(argv, spec, usage) {
  const out = { ...spec };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(usage);
      process.exit(0);
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}\n${usage}`);
    const key = a.slice(2).replace(/-([a-z])/g, (_m, c) => c.toUpperCase());
    if (!(key in spec)) throw new Error(`unknown option ${a}\n${usage}`);
    if (typeof spec[key] === 'boolean') {
      out[key] = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    out[key] = typeof spec[key] === 'number' ? Number(v) : v;
    if (typeof spec[key] === 'number' && !Number.isFinite(out[key])) throw new Error(`${a}: not a number: ${v}`);
  }
  return out;
}

/** A deterministic PRNG (mulberry32) so a failing run can be replayed with --seed. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const children = new Set();
function killAllChildren() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAllChildren();
    process.exit(130);
  });
}

/**
 * Starts `tally <command>` on `dataDir`; its output goes to `<logDir>/<name>.log` (appended,
 * so restarts of one role share one file). Returns { name, pid, exited: Promise<{code, signal}>, kill(sig) }.
 */
export function startTally(command, { dataDir, port, logDir, name, extra = [], env = {} }) {
  mkdirSync(logDir, { recursive: true });
  const fd = openSync(join(logDir, `${name}.log`), 'a');
  const args = [TALLY, command, '--data-dir', dataDir, '--log-level', 'warn', ...(port ? ['--port', String(port)] : []), ...extra];
  const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  const proc = { name, command, child, pid: child.pid, alive: true };
  children.add(proc);
  proc.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      proc.alive = false;
      proc.exitCode = code;
      children.delete(proc);
      resolve({ code, signal });
    });
  });
  proc.kill = async (sig = 'SIGKILL') => {
    if (proc.alive) {
      try {
        process.kill(proc.pid, sig);
      } catch {
        // raced with its exit
      }
    }
    return proc.exited;
  };
  return proc;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One HTTP request to 127.0.0.1. Never throws: returns { status, body, error } where
 * `error` is the Node error code when no answer came (ECONNREFUSED: the request was never
 * received; anything else: it may or may not have been).
 */
export function request(port, method, path, { body, user = 'admin', timeoutMs = 15_000, headers = {} } = {}) {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const h = { authorization: 'Basic ' + Buffer.from(`${user}:`).toString('base64'), ...headers };
    if (payload !== undefined) {
      h['content-type'] ??= 'application/json';
      h['content-length'] = Buffer.byteLength(payload);
    }
    let settled = false;
    const done = (v) => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), error: null }));
      res.on('error', (e) => done({ status: 0, body: '', error: e.code ?? 'ERESPONSE' }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => done({ status: 0, body: '', error: e.code ?? String(e) }));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export function json(res) {
  try {
    return JSON.parse(res.body);
  } catch {
    return undefined;
  }
}

/** Polls /healthcheck until it answers 200 (or the process exits / time runs out). */
export async function waitHealthy(port, { timeoutMs = 30_000, proc } = {}) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (proc && !proc.alive) throw new Error(`${proc.name} exited while starting (see its log)`);
    const r = await request(port, 'GET', '/healthcheck', { timeoutMs: 1000 });
    if (r.status === 200) return Date.now() - t0;
    await sleep(50);
  }
  throw new Error(`API on port ${port} not healthy after ${timeoutMs} ms`);
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export async function rssOf(pid) {
  const { readFile } = await import('node:fs/promises');
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export const BASE_EPOCH = 1_704_067_200; // 2024-01-01T00:00:00Z
export const iso = (epochSeconds) => new Date(epochSeconds * 1000).toISOString().replace('.000Z', '+00:00');
