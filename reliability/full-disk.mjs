#!/usr/bin/env node
// Full disk and read-only data folder (needs root: it mounts a tmpfs).
//
// 1. Mounts a small tmpfs as the data folder, starts `tally serve` on it, fills most of it
//    with a filler file, then ingests until writes fail. Expected: failed POSTs answer 503
//    (never 500), the server stays up, and it logs why.
// 2. Deletes the filler: without a restart, POSTs must succeed again (recovery by itself).
//    Then grows the tmpfs so processing can finish and checks every acknowledged measure
//    is counted exactly once and no measure answered 503 was stored.
// 3. Remounts the folder read-only: POSTs (measures and metrics) must answer 503; reads
//    keep working. Remounts read-write: writes must succeed again without a restart.
//    Linux refuses that remount while Tally holds files open for writing; the script then
//    checks that `tally serve` on a read-only folder exits at once, non-zero, with one
//    line naming the cause, and that it starts and writes once the folder is writable.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, statfsSync, writeFileSync, unlinkSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, freePort, startTally, request, json, waitHealthy, sleep, BASE_EPOCH, iso } from './lib.mjs';

const USAGE = `usage: node reliability/full-disk.mjs [options]   (as root)
  --size-mb N       tmpfs size (default 8)
  --headroom-kb N   space left free by the filler file (default 768)
  --clients N       concurrent ingest clients (default 4)
  --batch N         measures per POST (default 200)
  --keep            keep the logs folder`;
const opts = parseArgs(process.argv.slice(2), { sizeMb: 8, headroomKb: 768, clients: 4, batch: 200, keep: false }, USAGE);

if (process.getuid?.() !== 0) {
  console.error('full-disk needs root (it mounts a tmpfs)');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'tally-fulldisk-'));
const mnt = join(work, 'mnt');
const logDir = join(work, 'logs');
mkdirSync(mnt);
const sh = (...args) => {
  try {
    return execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (e) {
    throw new Error(`${args.join(' ')}: ${(e.stderr?.toString() ?? e.message).trim()}`);
  }
};
sh('mount', '-t', 'tmpfs', '-o', `size=${opts.sizeMb}m`, 'tmpfs', mnt);
let mounted = true;
const unmount = () => {
  if (!mounted) return;
  try {
    sh('umount', '-l', mnt);
    mounted = false;
  } catch (e) {
    console.error(`could not unmount ${mnt}: ${e.message}`);
  }
};
process.on('exit', unmount);

const violations = [];
const findings = [];
const violation = (m) => violations.push(m);
const say = (m) => console.log(m);
const freeBytes = () => {
  const s = statfsSync(mnt);
  return s.bavail * s.bsize;
};

const dataDir = join(mnt, 'data');
const port = await freePort();
let server = startTally('serve', { dataDir, port, logDir, name: 'serve' });
try {
  await waitHealthy(port, { proc: server });
  let r = await request(port, 'POST', '/v1/archive_policy', {
    body: { name: 'fd', back_window: 100_000, aggregation_methods: ['count', 'sum'], definition: [{ granularity: '1s', points: 10_000_000 }] },
  });
  if (r.status !== 201) throw new Error(`archive policy: ${r.status} ${r.body}`);
  const metrics = [];
  for (let i = 0; i < 4; i++) {
    r = await request(port, 'POST', '/v1/metric', { body: { archive_policy_name: 'fd' } });
    if (r.status !== 201) throw new Error(`metric: ${r.status} ${r.body}`);
    metrics.push({ id: json(r).id, next: 0, state: new Map() }); // index -> 'acked' | 'refused' | 'unknown'
  }

  // ------------------------------------------------------------------ 1. fill the disk
  const filler = join(mnt, 'filler');
  const fillerBytes = Math.max(0, freeBytes() - opts.headroomKb * 1024);
  writeFileSync(filler, Buffer.alloc(fillerBytes));
  say(`tmpfs ${opts.sizeMb} MiB at ${mnt}; filler ${(fillerBytes / 2 ** 20).toFixed(1)} MiB, ${(freeBytes() / 1024).toFixed(0)} KiB left`);

  const statuses = {};
  const afterFull = {};
  let full = false;
  let consecutiveFailures = 0;
  const post = async (m) => {
    const first = m.next;
    m.next += opts.batch;
    const body = Array.from({ length: opts.batch }, (_v, j) => ({ timestamp: iso(BASE_EPOCH + first + j), value: 2 * (first + j) + 1 }));
    const res = await request(port, 'POST', `/v1/metric/${m.id}/measures`, { body, timeoutMs: 30_000 });
    const key = res.status || res.error;
    statuses[key] = (statuses[key] ?? 0) + 1;
    if (full) afterFull[key] = (afterFull[key] ?? 0) + 1;
    const s = res.status === 202 ? 'acked' : res.status === 503 || res.status === 400 || res.error === 'ECONNREFUSED' ? 'refused' : 'unknown';
    for (let j = 0; j < opts.batch; j++) m.state.set(first + j, s);
    if (res.status !== 202) {
      if (!full) say(`first failed POST after ${statuses[202] ?? 0} acknowledged: ${key} ${res.body.slice(0, 200)}`);
      full = true;
    }
    return res;
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: opts.clients }, async (_v, c) => {
    while (Date.now() - t0 < 60_000 && consecutiveFailures < 40) {
      const res = await post(metrics[(c + (statuses[202] ?? 0)) % metrics.length]);
      consecutiveFailures = res.status === 202 ? 0 : consecutiveFailures + 1;
      if (res.status !== 202) await sleep(25);
    }
  }));
  say(`ingest stopped after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(statuses)}; after the first failure: ${JSON.stringify(afterFull)}`);
  if (!full) violation('the disk never filled up (raise --size-mb or lower --headroom-kb)');
  for (const [k, n] of Object.entries(afterFull)) {
    if (k !== '202' && k !== '503') violation(`while full, ${n} measure POSTs answered ${k} (expected 503)`);
  }
  if (!server.alive) violation('tally serve died while the disk was full');
  // What else answers while full.
  const whileFull = {};
  whileFull.createMetric = (await request(port, 'POST', '/v1/metric', { body: { archive_policy_name: 'fd' } })).status;
  whileFull.readMeasures = (await request(port, 'GET', `/v1/metric/${metrics[0].id}/measures?aggregation=count`)).status;
  whileFull.readRefresh = (await request(port, 'GET', `/v1/metric/${metrics[0].id}/measures?aggregation=count&refresh=true`)).status;
  whileFull.status = (await request(port, 'GET', '/v1/status')).status;
  say(`while full: ${JSON.stringify(whileFull)}`);
  for (const [k, s] of Object.entries(whileFull)) {
    if (s >= 500 && s !== 503) violation(`while full, ${k} answered ${s} (expected 503 or success)`);
    if (s === 503) findings.push(`while full, ${k} answered 503`);
  }

  // ------------------------------------------------------------------ 2. space returns
  unlinkSync(filler);
  let recoveredMs = -1;
  const t1 = Date.now();
  while (Date.now() - t1 < 15_000) {
    const res = await post(metrics[0]);
    if (res.status === 202) {
      recoveredMs = Date.now() - t1;
      break;
    }
    await sleep(200);
  }
  if (recoveredMs < 0) violation('POSTs did not succeed within 15 s of space returning (no restart)');
  else say(`space returned: a POST succeeded again after ${recoveredMs} ms, no restart`);
  r = await request(port, 'POST', '/v1/metric', { body: { archive_policy_name: 'fd' } });
  if (r.status !== 201) violation(`creating a metric after space returned answered ${r.status}: ${r.body.slice(0, 200)}`);
  sh('mount', '-o', 'remount,size=256m', mnt);

  // Counts: processing must catch up by itself; refresh=true forces what is left.
  const counts = { acked: 0, refusedStored: 0, unknownStored: 0, lost: 0, double: 0 };
  for (const m of metrics) {
    const res = await request(port, 'GET', `/v1/metric/${m.id}/measures?aggregation=count&granularity=1&refresh=true`, { timeoutMs: 120_000 });
    if (res.status !== 200) {
      violation(`reading metric ${m.id} after recovery: ${res.status} ${res.body.slice(0, 200)}`);
      continue;
    }
    const stored = new Map(json(res).map(([ts, , v]) => [Date.parse(ts) / 1000 - BASE_EPOCH, v]));
    for (const [i, s] of m.state) {
      const c = stored.get(i) ?? 0;
      if (c > 1) counts.double++;
      if (s === 'acked') {
        counts.acked++;
        if (c === 0) counts.lost++;
      } else if (s === 'refused' && c > 0) counts.refusedStored++;
      else if (s === 'unknown' && c > 0) counts.unknownStored++;
    }
  }
  say(`after recovery: ${JSON.stringify(counts)}`);
  if (counts.lost) violation(`${counts.lost} acknowledged measures lost`);
  if (counts.double) violation(`${counts.double} measures counted more than once`);
  if (counts.refusedStored) violation(`${counts.refusedStored} measures answered 503 (or refused) were stored anyway`);

  // ------------------------------------------------------------------ 3. read-only folder
  // Linux refuses `remount,ro` while a process holds files open for writing (EBUSY), which
  // Tally always does (SQLite). So: try it live; when refused, stop Tally, remount
  // read-only, start Tally on the read-only folder, then make it writable under it.
  const m = metrics[1];
  let live = true;
  try {
    sh('mount', '-o', 'remount,ro', mnt);
  } catch (e) {
    live = false;
    findings.push(`read-only remount refused while tally serve runs (${e.message.split('\n')[0]}); testing a start on a read-only folder instead`);
    await server.kill('SIGTERM');
    sh('mount', '-o', 'remount,ro', mnt);
    // A server cannot open its index on a read-only folder (SQLite's WAL needs its shared
    // memory file): Tally must then refuse to start at once, non-zero, with one line that
    // names the cause (no stack trace), like PostgreSQL or Prometheus do.
    server = startTally('serve', { dataDir, port, logDir, name: 'serve-ro' });
    try {
      await waitHealthy(port, { proc: server, timeoutMs: 15_000 });
      findings.push('tally serve started on the read-only folder');
    } catch {
      const lines = readFileSync(join(logDir, 'serve-ro.log'), 'utf8').split('\n').filter(Boolean);
      const says = lines.find((l) => /read-only|writable|EROFS|SQLITE_(CANTOPEN|READONLY)/.test(l));
      if (server.alive) violation('tally serve on a read-only folder neither started nor exited within 15 s');
      else if (server.exitCode === 0) violation('tally serve on a read-only folder exited with status 0');
      else if (!says) violation(`tally serve on a read-only folder exited without naming the cause: ${lines.slice(-3).join(' / ').slice(0, 600)}`);
      else if (lines.some((l) => /^\s+at /.test(l))) violation(`tally serve on a read-only folder printed a stack trace: ${lines.slice(0, 3).join(' / ')}`);
      else say(`read-only folder at start: tally serve exited ${server.exitCode} saying "${says.slice(0, 200)}"`);
    }
  }
  say(`read-only folder (${live ? 'remounted under a running server' : 'server started on it'}), server ${server.alive ? 'up' : 'DOWN'}`);
  if (server.alive) {
    const ro = {};
    ro.postMeasures = (await post(m)).status;
    ro.batch = (await request(port, 'POST', '/v1/batch/metrics/measures', { body: { [m.id]: [{ timestamp: iso(BASE_EPOCH + 9_000_000), value: 1 }] } })).status;
    ro.createMetric = (await request(port, 'POST', '/v1/metric', { body: { archive_policy_name: 'fd' } })).status;
    ro.createPolicy = (await request(port, 'POST', '/v1/archive_policy', { body: { name: 'ro', definition: [{ granularity: '1s', points: 2 }] } })).status;
    ro.readMeasures = (await request(port, 'GET', `/v1/metric/${m.id}/measures?aggregation=count`)).status;
    ro.listMetrics = (await request(port, 'GET', '/v1/metric')).status;
    ro.status = (await request(port, 'GET', '/v1/status')).status;
    say(`read-only folder answers: ${JSON.stringify(ro)}`);
    for (const k of ['postMeasures', 'batch', 'createMetric', 'createPolicy']) {
      if (ro[k] !== 503) violation(`read-only folder: ${k} answered ${ro[k]} (expected 503)`);
    }
    for (const k of ['readMeasures', 'listMetrics', 'status']) {
      if (ro[k] !== 200) violation(`read-only folder: ${k} answered ${ro[k]} (expected 200)`);
    }
    await sleep(1500); // let the workers meet the read-only folder too
    if (!server.alive) violation('tally serve died on the read-only folder');
  }
  sh('mount', '-o', 'remount,rw', mnt);
  if (!server.alive) {
    server = startTally('serve', { dataDir, port, logDir, name: 'serve-rw' });
    await waitHealthy(port, { proc: server });
    findings.push('restarted tally serve after the folder became writable (it was down)');
  }
  let rwOk = -1;
  const t2 = Date.now();
  let lastRw = '';
  while (Date.now() - t2 < 15_000 && server.alive) {
    const a = await post(m);
    const b = await request(port, 'POST', '/v1/metric', { body: { archive_policy_name: 'fd' } });
    lastRw = `measures ${a.status} ${a.body.slice(0, 120)}; metric ${b.status} ${b.body.slice(0, 120)}`;
    if (a.status === 202 && b.status === 201) {
      rwOk = Date.now() - t2;
      break;
    }
    await sleep(200);
  }
  if (rwOk < 0) violation(`writes did not succeed again within 15 s of the folder becoming writable (no restart); last: ${lastRw}`);
  else say(`writable again: POSTs succeed after ${rwOk} ms, no restart`);
  const final = await request(port, 'GET', `/v1/metric/${m.id}/measures?aggregation=count&granularity=1&refresh=true`, { timeoutMs: 60_000 });
  if (final.status !== 200) violation(`processing after read-only: ${final.status} ${final.body.slice(0, 200)}`);

  // ------------------------------------------------------------------ logs
  await server.kill('SIGTERM');
  const log = ['serve', 'serve-ro', 'serve-rw'].map((n) => {
    try {
      return readFileSync(join(logDir, `${n}.log`), 'utf8');
    } catch {
      return '';
    }
  }).join('\n');
  const errors = log.split('\n').filter((l) => /"level":(40|50|60)/.test(l));
  const mentions = errors.filter((l) => /ENOSPC|EROFS|SQLITE_FULL|SQLITE_READONLY|readonly|full/i.test(l));
  say(`log: ${errors.length} warning/error lines, ${mentions.length} naming ENOSPC/EROFS/full/read-only`);
  if (mentions.length === 0) violation('no log line explains the failures (ENOSPC / EROFS / full / read-only)');
  const kinds = new Map();
  for (const l of errors) {
    const k = (/"msg":"([^"]*)"/.exec(l)?.[1] ?? '?') + ' | ' + (/"message":"([^"]{0,120})/.exec(l)?.[1] ?? '');
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  for (const [k, n] of [...kinds].slice(0, 12)) say(`  log x${n}: ${k}`);
} finally {
  await server.kill('SIGKILL');
  unmount();
}

for (const f of findings) console.log(`finding: ${f}`);
if (violations.length) {
  for (const v of violations) console.log(`VIOLATION: ${v}`);
  console.log(`FAILED; logs in ${logDir}`);
  process.exit(1);
}
if (!opts.keep) rmSync(work, { recursive: true, force: true });
console.log('PASSED');
