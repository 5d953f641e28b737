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
 * Starts `tally <command>` on `dataDir` (in network namespace `netns` when given); its output
 * goes to `<logDir>/<name>.log` (appended, so restarts of one role share one file). Returns { name, pid, exited: Promise<{code, signal}>, kill(sig) }.
 */
export function startTally(command, { dataDir, port, logDir, name, extra = [], env = {}, netns = null }) {
  mkdirSync(logDir, { recursive: true });
  const fd = openSync(join(logDir, `${name}.log`), 'a');
  // serve also opens the alarm API: on a port of its own (0: any free one), so that runs in
  // parallel never fight over Aodh's 8042.
  const alarms = command === 'serve' ? ['--alarm-port', '0', '--rating-port', '0'] : [];
  const args = [TALLY, command, '--data-dir', dataDir, '--log-level', 'warn', ...(port ? ['--port', String(port)] : []), ...alarms, ...extra];
  // In a network namespace, `ip netns exec` execs node: the pid is Tally's, so signals reach it.
  const child = netns ? spawn('ip', ['netns', 'exec', netns, process.execPath, ...args], { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } })
    : spawn(process.execPath, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
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

/**
 * Polls /healthcheck until it answers 200 (or the process exits / time runs out). The
 * default allows for a loaded machine: a start on two cores shared with a CI run's other
 * suites took 18 s (median of the crash test's restarts) against 3 s on an idle one.
 */
export async function waitHealthy(port, { timeoutMs = 120_000, proc } = {}) {
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

// ------------------------------------------------------------ any endpoint, by URL


/**
 * One HTTP(S) request to `base` (a URL, possibly with a path prefix) + `path`, on a
 * connection of its own, answers with headers up to 1 MiB accepted. Never throws:
 * returns { status, body, error, ms } like `request`, `ms` being the time to the end of the
 * answer. `raw` sends a body byte for byte (for JSON that JSON.stringify cannot write: NaN,
 * lone surrogates, repeated keys); `user` is the basic-auth user name (null: no header).
 */
export async function requestUrl(base, method, path, { body, raw, user = 'admin', timeoutMs = 15_000, headers = {} } = {}) {
  const url = new URL(base);
  const mod = url.protocol === 'https:' ? await import('node:https') : http;
  const payload = raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body);
  const h = { accept: 'application/json', ...headers };
  if (user !== null) h.authorization = 'Basic ' + Buffer.from(`${user}:`).toString('base64');
  if (payload !== undefined) {
    h['content-type'] ??= 'application/json';
    h['content-length'] = Buffer.byteLength(payload);
  }
  const prefix = url.pathname.replace(/\/$/, '');
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (v) => {
      if (!settled) {
        settled = true;
        resolve({ ...v, ms: Math.round(performance.now() - t0) });
      }
    };
    let req;
    try {
      req = mod.request({
        protocol: url.protocol, host: url.hostname, port: url.port, method, path: prefix + path, headers: h,
        // A connection per request: a server may close one after refusing a request, and a
        // reused socket would then blame the next request.
        agent: false, rejectUnauthorized: false, maxHeaderSize: 1 << 20,
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), error: null }));
        res.on('error', (e) => done({ status: 0, body: '', error: e.code ?? 'ERESPONSE' }));
      });
    } catch (e) {
      // Node refuses some paths and headers before sending anything (ERR_UNESCAPED_CHARACTERS).
      done({ status: 0, body: '', error: e.code ?? String(e) });
      return;
    }
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => done({ status: 0, body: '', error: e.code ?? String(e) }));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

// ------------------------------------------------------------ the reference Gnocchi

export const GNOCCHI_SCRIPT = join(ROOT, '..', 'shared', 'reference', 'gnocchi-server.sh');

/**
 * Starts the real Gnocchi 4.4.2 (shared/reference/gnocchi-server.sh: its own PostgreSQL
 * database, file storage in `dataDir`, basic auth with `admin` as the administrator) on
 * `port`, with Gnocchi's stock limits and default archive policies and rule unless `env`
 * says otherwise. Stopped with SIGTERM (so the script drops its database), also when this
 * process exits; SIGKILLed after `graceMs`. Returns the same handle as startTally.
 */
export function startGnocchi({ port, dataDir, logDir, name = 'gnocchi', env = {} }) {
  mkdirSync(logDir, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  const fd = openSync(join(logDir, `${name}.log`), 'a');
  // A process group of its own: uWSGI takes its time over SIGTERM while a worker is busy,
  // so stopping signals every process of the group, and SIGKILLs it if that is not enough.
  const child = spawn('bash', [GNOCCHI_SCRIPT], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, PROFILE: 'default', SUITE_PROFILE: 'live', ...env },
    detached: true,
  });
  closeSync(fd);
  const proc = { name, command: 'gnocchi', child, pid: child.pid, alive: true };
  const signalGroup = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  const stopOnExit = () => signalGroup('SIGTERM');
  process.on('exit', stopOnExit);
  proc.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      proc.alive = false;
      process.off('exit', stopOnExit);
      resolve({ code, signal });
    });
  });
  proc.kill = async (sig = 'SIGTERM', graceMs = 15_000) => {
    if (!proc.alive) return proc.exited;
    signalGroup(sig);
    const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
    const r = await proc.exited;
    clearTimeout(timer);
    return r;
  };
  return proc;
}

/** Polls `GET base/` until it answers 200 (or the process exits / time runs out). */
export async function waitAnswering(base, { timeoutMs = 90_000, proc } = {}) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (proc && !proc.alive) throw new Error(`${proc.name} exited while starting (see its log)`);
    const r = await requestUrl(base, 'GET', '/', { timeoutMs: 1000 });
    if (r.status === 200) return Date.now() - t0;
    await sleep(200);
  }
  throw new Error(`${base} not answering after ${timeoutMs} ms`);
}
