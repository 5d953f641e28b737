#!/usr/bin/env node
// Scale-out, side by side: Tally and Debian's Gnocchi 4.4.2 on the same shared servers
// (backends.mjs: PostgreSQL, Redis, Swift s3api behind a counting relay, etcd, and a second
// Redis for Gnocchi's coordination), each with 1, 2 and 3 metricd hosts. Every deployment
// gets a database, bucket and Redis keys of its own and runs the same workload:
//   - untimed warm-up ingest, drained;
//   - timed ingest: batches of --batch-metrics x --batch-measures measures (10 000) from
//     --clients clients into --metrics metrics of the `medium` policy both create at
//     upgrade; acknowledged rate, and end-to-end rate (until /v1/status's backlog is 0);
//   - per 1000 measures of that ingest: requests and bytes of every server;
//   - read latency p50 of one series and of POST /v1/aggregates over 10 metrics;
//   - bytes in the object store per aggregate point (the bucket listed through the S3 API);
//   - peak RSS of the API and metricd processes (sum over their process trees, sampled).
// The series and their request bodies are the endpoint benchmark's (@tally/bench), sent
// through its client (@tally/client). Hosts are processes on this machine (2 cores): the
// figures say how each system's costs grow with workers, not what more machines would give.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { GnocchiClient } from '@tally/client';
import { batchBody, percentile, renderSeries } from '@tally/bench';
import { freePort, parseArgs, sleep, TALLY } from './lib.mjs';
import { startBackends } from './backends.mjs';
import { startGnocchiDeployment } from './gnocchi-deployment.mjs';

const USAGE = `usage: node reliability/scale-out-bench.mjs [options]
  --hosts LIST          metricd hosts of each deployment (default 1,2,3)
  --only NAME           tally or gnocchi alone (default both)
  --metrics N           metrics of the 'medium' policy written to (100)
  --points N            timed measures per metric, one a second (1200)
  --warmup-points N     untimed measures per metric before them (400)
  --batch-metrics N     metrics per POST /v1/batch/metrics/measures (25)
  --batch-measures N    measures per metric per POST (400): 10 000 per request by default
  --clients N           concurrent ingest clients (4)
  --reads N             timed reads of one series, and of the aggregates (30)
  --sacks N             incoming sacks of both (32)
  --tally-coordination K  etcd (default) or redis: Tally's coordination on etcd, or on the
                        Redis server Gnocchi's coordination uses (a database of its own)
  --drain-timeout S     longest wait for a backlog to empty (300)
  --quick               a shorter version (6 min at a load average of 10 on 2 cores, mostly server starts):
                        --hosts 1,3 --metrics 40 --batch-metrics 10
                        --batch-measures 1000 --points 1000 --warmup-points 200 --reads 10
  --json FILE           write every figure, counter and setting to FILE
  --dir D               data and logs there, kept (default: a temp folder, removed when the run succeeds)`;

const opts = parseArgs(process.argv.slice(2), {
  hosts: '1,2,3', only: '', metrics: 100, points: 1200, warmupPoints: 400, batchMetrics: 25, batchMeasures: 400, clients: 4,
  reads: 30, sacks: 32, tallyCoordination: 'etcd', drainTimeout: 300, quick: false, json: '', dir: '',
}, USAGE);
if (opts.quick) {
  const given = new Set(process.argv.slice(2));
  const quick = { hosts: '1,3', metrics: 40, batchMetrics: 10, batchMeasures: 1000, points: 1000, warmupPoints: 200, reads: 10 };
  for (const [k, v] of Object.entries(quick)) if (!given.has(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)) opts[k] = v;
}
const hostCounts = String(opts.hosts).split(',').map(Number);
if (hostCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--hosts: a list of positive integers, got ${opts.hosts}`);
const systems = opts.only ? [opts.only] : ['tally', 'gnocchi'];
if (systems.some((s) => s !== 'tally' && s !== 'gnocchi')) throw new Error(`--only: tally or gnocchi, got ${opts.only}`);
if (opts.tallyCoordination !== 'etcd' && opts.tallyCoordination !== 'redis') throw new Error(`--tally-coordination: etcd or redis, got ${opts.tallyCoordination}`);

const parent = opts.dir || mkdtempSync(join(tmpdir(), 'tally-scaleout-'));
mkdirSync(parent, { recursive: true });
const t0 = Date.now();
const say = (m) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}`);
const EPOCH_START = Date.UTC(2024, 0, 1) / 1000;

// ------------------------------------------------------------ processes and memory

/** Every pid of the trees rooted at `roots`, from /proc. */
function processTrees(roots) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  const out = [];
  const todo = [...roots];
  while (todo.length) {
    const p = todo.pop();
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples the summed RSS of the trees under `roots()` every 250 ms; `peak` is the largest sum seen. */
function memorySampler(roots) {
  const s = { peak: 0, samples: 0 };
  const sample = () => {
    const total = processTrees(roots()).reduce((a, p) => a + rssBytes(p), 0);
    s.peak = Math.max(s.peak, total);
    s.samples++;
  };
  const timer = setInterval(sample, 250);
  s.stop = () => {
    sample();
    clearInterval(timer);
  };
  return s;
}

const running = new Set();
process.on('exit', () => {
  for (const p of running) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

function spawnTally(logDir, name, args) {
  const fd = openSync(join(logDir, `${name}.log`), 'a');
  const child = spawn(process.execPath, [TALLY, ...args], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const proc = { name, pid: child.pid, alive: true, log: join(logDir, `${name}.log`) };
  running.add(proc);
  proc.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    proc.alive = false;
    running.delete(proc);
    resolve({ code, signal });
  }));
  proc.stop = async () => {
    if (!proc.alive) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await proc.exited;
    clearTimeout(t);
  };
  return proc;
}

const tail = (file) => {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
};

/** Tally on the shared servers: `tally upgrade`, one `tally api`, `hosts` x `tally metricd`. */
async function startTallyDeployment(backends, { dir, hosts, tag, redisDb }) {
  mkdirSync(dir, { recursive: true });
  const database = tag.replace(/-/g, '_');
  const indexer = backends.createDatabase(database);
  const s3 = backends.s3;
  const endpoint = new URL(s3.endpoint);
  const bucket = `${tag}-aggregates`;
  const storage = `s3://${encodeURIComponent(s3.accessKeyId)}:${encodeURIComponent(s3.secretAccessKey)}@${endpoint.host}/${bucket}?region=${s3.region}&tls=false`;
  const incoming = `${backends.urls.incoming}?prefix=${tag}:`;
  const coordination = opts.tallyCoordination === 'redis' ? `${backends.urls.coordinationRedis}/${redisDb}?prefix=${tag}:`
    : backends.urls.coordination.replace(/\/[^/]*$/, `/${tag}`);
  const common = ['--indexer-url', indexer, '--incoming-url', incoming, '--storage-url', storage, '--coordination-url', coordination,
    '--sacks', String(opts.sacks), '--log-level', 'warn'];
  const processes = { api: null, metricd: [] };
  const stopAll = () => Promise.all([processes.api, ...processes.metricd].filter(Boolean).map((p) => p.stop()));
  try {
    const up = spawnTally(dir, 'upgrade', ['upgrade', '--data-dir', join(dir, 'upgrade'), ...common]);
    const r = await up.exited;
    if (r.code !== 0) throw new Error(`tally upgrade failed (${r.code ?? r.signal}):\n${tail(up.log)}`);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    processes.api = spawnTally(dir, 'api', ['api', '--data-dir', join(dir, 'api'), ...common, '--host', '127.0.0.1', '--port', String(port)]);
    for (let i = 0; i < hosts; i++) processes.metricd.push(spawnTally(dir, `metricd-${i + 1}`, ['metricd', '--data-dir', join(dir, `metricd-${i + 1}`), ...common]));
    const t = Date.now();
    for (;;) {
      for (const p of [processes.api, ...processes.metricd]) if (!p.alive) throw new Error(`${p.name} exited while starting:\n${tail(p.log)}`);
      const ok = await fetch(`${url}/healthcheck`).then((x) => x.ok, () => false);
      if (ok) break;
      if (Date.now() - t > 60_000) throw new Error(`tally api not answering after 60 s:\n${tail(processes.api.log)}`);
      await sleep(100);
    }
    return { url, processes, database, bucket, prefix: '', async stop() {
      await stopAll();
      backends.dropDatabase(database);
    } };
  } catch (err) {
    await stopAll();
    backends.dropDatabase(database);
    throw err;
  }
}

// ------------------------------------------------------------ the workload

const client = (url) => new GnocchiClient({ url, auth: { type: 'basic', user: 'admin', password: '' }, maxSockets: opts.clients + 2,
  timeoutMs: 120_000, retry: { attempts: 1, totalMs: 120_000 } });

async function backlog(c) {
  return (await c.status({ details: false })).storage.summary.measures;
}

async function drain(c) {
  const deadline = Date.now() + opts.drainTimeout * 1000;
  for (;;) {
    const left = await backlog(c);
    if (left === 0) return;
    if (Date.now() > deadline) throw new Error(`backlog still ${left} measures after ${opts.drainTimeout} s`);
    await sleep(100);
  }
}

/**
 * Sends `series` to the metrics as the endpoint benchmark does: each client owns whole
 * groups of --batch-metrics metrics and sends their windows in time order.
 */
async function ingest(c, refs, series) {
  const groups = [];
  for (let i = 0; i < refs.length; i += opts.batchMetrics) groups.push(refs.slice(i, i + opts.batchMetrics));
  const loops = Math.min(opts.clients, groups.length);
  const start = performance.now();
  await Promise.all(Array.from({ length: loops }, async (_v, k) => {
    for (let w = 0; w < series.windows; w++) {
      for (let g = k; g < groups.length; g += loops) {
        await c.transport.request({ method: 'POST', path: '/v1/batch/metrics/measures', body: batchBody(series, w, groups[g]) });
      }
    }
  }));
  const ackSeconds = (performance.now() - start) / 1000;
  await drain(c);
  return { measures: refs.length * series.points, ackSeconds, e2eSeconds: (performance.now() - start) / 1000, loops };
}

/** Latencies of `count` sequential requests after a few untimed ones (Tally's JIT compiles the read paths on first use). */
async function timed(c, count, make) {
  const warmup = 5;
  const samples = [];
  for (let i = 0; i < count + warmup; i++) {
    const t = performance.now();
    await c.transport.request(make(i));
    if (i >= warmup) samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return samples;
}

const delta = (a, b) => Object.fromEntries(Object.keys(b).map((server) => [server,
  Object.fromEntries(Object.keys(b[server]).map((k) => [k, b[server][k] - a[server][k]]))]));

async function runOne(backends, system, hosts, tag) {
  const dir = join(parent, tag);
  say(`${system}, ${hosts} metricd host(s): starting (${tag})`);
  let t = Date.now();
  const deployment = system === 'gnocchi'
    ? await startGnocchiDeployment({ backends, dir, metricd: hosts, tag, redisDb: runOne.redisDb++, sacks: opts.sacks })
    : await startTallyDeployment(backends, { dir, hosts, tag, redisDb: runOne.redisDb++ });
  const startMs = Date.now() - t;
  const roots = () => [deployment.processes.api.pid, ...deployment.processes.metricd.map((p) => p.pid)];
  const memory = memorySampler(roots);
  const c = client(deployment.url);
  const out = { system, hosts, startMs, url: deployment.url, loadBefore: loadavg()[0] };
  try {
    const policy = await c.transport.json({ method: 'GET', path: '/v1/archive_policy/medium' });
    out.policy = policy.value;
    const refs = [];
    t = Date.now();
    for (let i = 0; i < opts.metrics; i++) refs.push({ id: (await c.metric.create({ archive_policy_name: 'medium' })).id, index: i });
    say(`  started in ${startMs} ms; ${opts.metrics} metrics created in ${Date.now() - t} ms`);

    if (opts.warmupPoints > 0) {
      t = Date.now();
      const warm = renderSeries('walk3', { points: opts.warmupPoints, startSec: EPOCH_START, perRequest: opts.batchMeasures, variants: 16, seed: 7 });
      const w = await ingest(c, refs, warm);
      say(`  warm-up: ${w.measures} measures, ${Math.round(w.measures / w.e2eSeconds)}/s end to end (untimed)`);
    }

    const series = renderSeries('walk3', { points: opts.points, startSec: EPOCH_START + opts.warmupPoints, perRequest: opts.batchMeasures, variants: 16, seed: 1 });
    const databases = [deployment.database];
    const c0 = await backends.counters({ databases });
    const ing = await ingest(c, refs, series);
    const c1 = await backends.counters({ databases });
    out.measures = ing.measures;
    out.clients = ing.loops;
    out.ackRate = ing.measures / ing.ackSeconds;
    out.e2eRate = ing.measures / ing.e2eSeconds;
    out.counters = delta(c0, c1);
    out.per1000 = Object.fromEntries(Object.entries(out.counters).map(([server, v]) => [server,
      Object.fromEntries(Object.entries(v).map(([k, n]) => [k, (n / ing.measures) * 1000]))]));
    // Coordination is etcd (or the coordination Redis) for Tally and the coordination Redis
    // for Gnocchi: one row for whichever a deployment used, so that the two compare.
    const used = system === 'gnocchi' || opts.tallyCoordination === 'redis' ? 'redisCoordination' : 'etcd';
    out.per1000.coordination = { via: used, ...out.per1000[used] };
    say(`  ingest: ${ing.measures} measures, ${Math.round(out.ackRate)}/s acknowledged, ${Math.round(out.e2eRate)}/s end to end`);

    // Idle cost: what the servers see while nothing is sent (heartbeats, polls), per second.
    const i0 = await backends.counters({ databases });
    t = Date.now();
    await sleep(5000);
    const i1 = await backends.counters({ databases });
    const idleS = (Date.now() - t) / 1000;
    out.idlePerSecond = Object.fromEntries(Object.entries(delta(i0, i1)).map(([server, v]) => [server,
      Object.fromEntries(Object.entries(v).map(([k, n]) => [k, n / idleS]))]));

    const series1 = await timed(c, opts.reads, (i) => ({ method: 'GET', path: `/v1/metric/${refs[i % refs.length].id}/measures`, query: { aggregation: 'mean' } }));
    out.readP50 = percentile(series1, 50);
    const ids = refs.slice(0, 10);
    const ops = (shift) => `(aggregate mean (metric ${ids.map((_r, j) => `(${ids[(j + shift) % ids.length].id} mean)`).join(' ')}))`;
    const aggs = await timed(c, opts.reads, (i) => ({ method: 'POST', path: '/v1/aggregates', body: { operations: ops(i) }, idempotent: true }));
    out.aggregatesP50 = percentile(aggs, 50);
    say(`  reads: series p50 ${out.readP50.toFixed(1)} ms, aggregates over 10 metrics p50 ${out.aggregatesP50.toFixed(1)} ms`);

    // Aggregate points: every metric got the same timestamps, so one metric's points per
    // method, times the metrics.
    let perMetric = 0;
    for (const method of out.policy.aggregation_methods) {
      const r = await c.transport.json({ method: 'GET', path: `/v1/metric/${refs[0].id}/measures`, query: { aggregation: method } });
      perMetric += r.value.length;
    }
    out.aggregatePoints = perMetric * refs.length;
    out.bucket = backends.bucketUsage(deployment.bucket, deployment.prefix ?? '');
    out.bytesPerPoint = out.bucket.bytes / out.aggregatePoints;
    say(`  store: ${out.bucket.objects} objects, ${out.bucket.bytes} bytes, ${out.aggregatePoints} aggregate points: ${out.bytesPerPoint.toFixed(2)} bytes per point`);
  } finally {
    memory.stop();
    out.rssPeakBytes = memory.peak;
    out.loadAfter = loadavg()[0];
    c.close();
    await deployment.stop();
  }
  say(`  peak RSS of api + ${hosts} metricd: ${(out.rssPeakBytes / 2 ** 20).toFixed(0)} MiB`);
  return out;
}
runOne.redisDb = 1;

// ------------------------------------------------------------ the report

const fmt = (v, digits = 0) => (v === undefined || v === null || Number.isNaN(v) ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

/** Ratio where > 1 means Tally is better. */
const ratio = (tally, gnocchi, higherBetter) => (tally > 0 && gnocchi > 0 ? (higherBetter ? tally / gnocchi : gnocchi / tally) : null);

function table(results) {
  const rows = [
    ['ingest, acknowledged (measures/s)', (r) => r.ackRate, 0, true],
    ['ingest, end to end (measures/s)', (r) => r.e2eRate, 0, true],
    ['read one series p50 (ms)', (r) => r.readP50, 1, false],
    ['aggregates over 10 metrics p50 (ms)', (r) => r.aggregatesP50, 1, false],
    ['object store bytes per aggregate point', (r) => r.bytesPerPoint, 2, false],
    ['object store objects', (r) => r.bucket?.objects, 0, false],
    ['peak RSS api + metricd (MiB)', (r) => (r.rssPeakBytes ? r.rssPeakBytes / 2 ** 20 : null), 0, false],
  ];
  for (const s of ['redis', 's3', 'coordination', 'postgresql']) {
    const keys = [...new Set(results.flatMap((r) => Object.keys(r.per1000?.[s] ?? {})))].filter((k) => k !== 'via');
    for (const k of keys) rows.push([`${s} ${k} per 1000 measures`, (r) => r.per1000?.[s]?.[k], k.startsWith('bytes') ? 0 : 1, false]);
  }
  const lines = [];
  const header = ['figure'];
  for (const h of hostCounts) {
    for (const s of systems) header.push(`${s} ${h}h`);
    if (systems.length === 2) header.push(`ratio ${h}h`);
  }
  lines.push(header);
  for (const [name, get, digits, higherBetter] of rows) {
    const line = [name];
    for (const h of hostCounts) {
      const vals = systems.map((s) => results.find((r) => r.system === s && r.hosts === h));
      for (const v of vals) line.push(v?.error ? 'failed' : fmt(v ? get(v) : null, digits));
      if (systems.length === 2) {
        const q = vals.every((v) => v && !v.error) ? ratio(get(vals[0]), get(vals[1]), higherBetter) : null;
        line.push(q === null || !Number.isFinite(q) ? '-' : `${q.toFixed(2)}x`);
      }
    }
    lines.push(line);
  }
  const widths = lines[0].map((_c, i) => Math.max(...lines.map((l) => String(l[i]).length)));
  const md = (l) => `| ${l.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ')} |`;
  return [md(lines[0]), `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`, ...lines.slice(1).map(md)].join('\n');
}

// ------------------------------------------------------------ the run

let backends = null;
const results = [];
let failed = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    void (backends?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}
try {
  say(`scale-out bench: ${systems.join(' and ')} with ${hostCounts.join(', ')} metricd host(s); ${opts.metrics} metrics of 'medium', `
    + `${opts.points} timed measures each in batches of ${opts.batchMetrics} x ${opts.batchMeasures} from ${opts.clients} clients; data and logs in ${parent}`);
  backends = await startBackends({ dir: join(parent, 'servers'), listenOn: '127.0.0.1', log: say, coordinationRedis: true });
  say(`servers: ${backends.describe()}`);
  let n = 0;
  for (const hosts of hostCounts) {
    // The order alternates so that drift of the shared machine does not always favour one.
    const order = n % 2 === 0 ? systems : [...systems].reverse();
    for (const system of order) {
      const tag = `so${process.pid % 100_000}-${system[0]}${hosts}`;
      n++;
      try {
        results.push(await runOne(backends, system, hosts, tag));
      } catch (err) {
        failed = true;
        say(`  ${system} with ${hosts} host(s) FAILED: ${err.message}`);
        results.push({ system, hosts, error: err.message });
      }
    }
  }
} catch (err) {
  failed = true;
  console.error(`scale-out bench: ${err.stack ?? err}`);
} finally {
  await backends?.stop().catch(() => undefined);
}

const report = table(results);
console.log(`\n== scale-out: ${systems.join(' vs ')} on shared servers (ratio > 1: Tally better) ==\n${report}`);
console.log(`\nworkload: ${opts.metrics} metrics of 'medium', ${opts.points} measures each (1 s apart) after ${opts.warmupPoints} untimed, `
  + `POSTs of ${opts.batchMetrics} metrics x ${opts.batchMeasures} measures from ${opts.clients} clients; ${opts.sacks} sacks; `
  + 'per-1000 figures count everything each server handled from the first POST until the backlog was empty');
console.log(`coordination: Tally on ${opts.tallyCoordination === 'redis' ? 'the coordination Redis' : 'etcd'}, Gnocchi on the coordination Redis (tooz); `
  + `1-minute load average before/after each deployment: ${results.filter((r) => !r.error).map((r) => `${r.system} ${r.hosts}h ${r.loadBefore.toFixed(1)}/${r.loadAfter.toFixed(1)}`).join(', ')} (${cpus().length} cores)`);
for (const r of results) if (r.error) console.log(`${r.system} ${r.hosts}h: ${r.error.split('\n')[0]}`);
console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
if (opts.json) {
  writeFileSync(opts.json, `${JSON.stringify({
    command: ['node reliability/scale-out-bench.mjs', ...process.argv.slice(2)].join(' '),
    date: new Date().toISOString(),
    machine: { host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? null, memoryBytes: totalmem(), node: process.version },
    settings: opts,
    ratioNote: 'ratio > 1 means Tally is better: Tally/Gnocchi for rates, Gnocchi/Tally otherwise',
    results,
    table: report,
  }, null, 2)}\n`);
  console.log(`JSON written to ${opts.json}`);
}
if (failed) {
  console.log(`FAILED; data and logs kept in ${parent}`);
  process.exit(1);
}
if (!opts.dir) rmSync(parent, { recursive: true, force: true });
