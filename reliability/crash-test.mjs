#!/usr/bin/env node
// Crash test: several HTTP clients ingest into a set of metrics while Tally processes are
// killed with SIGKILL at random moments and restarted. After a final clean start the
// stored aggregates tell which measures were folded in, and how many times (ledger.mjs).
//
// Modes: `serve` (one `tally serve`), `split` (one `tally api` and two `tally metricd`
// sharing one data folder, each killed independently), `both` (default: one after the other).
// `--short` is the quick check of the test command (scripts/test-all): split mode, 4 rounds.
import { mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, rng, freePort, startTally, request, json, waitHealthy, sleep } from './lib.mjs';
import { ACKED, UNKNOWN, LEDGER_POLICY, Ledger, byIndex, checkStored, measuresBody, stateOf } from './ledger.mjs';

const USAGE = `usage: node reliability/crash-test.mjs [options]
  --rounds N       kill rounds per mode (default 20)
  --seconds S      keep doing rounds until S seconds have passed in each mode (default 0: rounds only)
  --mode M         serve | split | both (default both)
  --clients N      concurrent ingest clients (default 6)
  --metrics N      metrics written to (default 8)
  --max-round S    longest ingest period between two kills, seconds (default 2.5)
  --seed N         random seed (printed; replay a run with it)
  --dir D          parent folder for data and logs (default: a new temp folder)
  --keep           keep data and logs even when the run passes
  --short          quick run for the test command (under a minute): split mode (API and both
                   workers killed at random), 4 rounds of at most 1.5 s; options given
                   explicitly still win`;

const opts = parseArgs(process.argv.slice(2), {
  rounds: 20, seconds: 0, mode: 'both', clients: 6, metrics: 8, maxRound: 2.5,
  seed: Math.floor(Math.random() * 2 ** 31), dir: '', keep: false, short: false,
}, USAGE);
if (opts.short) {
  const given = new Set(process.argv.slice(2));
  for (const [flag, key, value] of [['--mode', 'mode', 'split'], ['--rounds', 'rounds', 4], ['--max-round', 'maxRound', 1.5]]) {
    if (!given.has(flag)) opts[key] = value;
  }
}
if (!['serve', 'split', 'both'].includes(opts.mode)) throw new Error(`--mode must be serve, split or both\n${USAGE}`);

async function runMode(mode, parent, rand) {
  const dataDir = join(parent, mode, 'data');
  const logDir = join(parent, mode, 'logs');
  const port = await freePort();
  const t0 = Date.now();
  const stats = {
    mode, rounds: 0, kills: {}, posts: 0, acked: 0, unknown: 0, refused: 0, statuses: {}, errors: {},
    reads: 0, readErrors: {}, stored: 0, unknownStored: 0, violations: [], warnings: [], restartsMs: [],
  };
  const violation = (msg) => {
    if (stats.violations.length < 50) stats.violations.push(msg);
    else stats.violations[50] = '... more violations';
  };

  // Processes of this mode, by role.
  const roles = mode === 'serve' ? ['serve'] : ['api', 'metricd-1', 'metricd-2'];
  const commandOf = (role) => (role.startsWith('metricd') ? 'metricd' : role);
  const procs = new Map();
  const start = (role) => {
    const p = startTally(commandOf(role), { dataDir, port: role.startsWith('metricd') ? undefined : port, logDir, name: role });
    procs.set(role, p);
    return p;
  };
  const apiRole = mode === 'serve' ? 'serve' : 'api';
  // The API first, so that the schema is created by one process only on the empty folder.
  await waitHealthy(port, { proc: start(apiRole) });
  for (const r of roles) if (r !== apiRole) start(r);

  // Setup: the archive policy and the metrics.
  const ap = await request(port, 'POST', '/v1/archive_policy', { body: LEDGER_POLICY('crash') });
  if (ap.status !== 201) throw new Error(`creating the archive policy: ${ap.status} ${ap.body}`);
  const ledgers = [];
  for (let i = 0; i < opts.metrics; i++) {
    const r = await request(port, 'POST', '/v1/metric', { body: { archive_policy_name: 'crash', name: `crash-${i}` } });
    if (r.status !== 201) throw new Error(`creating a metric: ${r.status} ${r.body}`);
    ledgers.push(new Ledger(json(r).id));
  }

  let stopping = false;
  const countStatus = (bag, key) => {
    bag[key] = (bag[key] ?? 0) + 1;
  };

  async function client(cr) {
    while (!stopping) {
      // One metric (per-metric endpoint) or a few (batch endpoint) per request.
      const batch = cr.next() < 0.3;
      const chosen = batch
        ? [...new Set(Array.from({ length: cr.int(2, 4) }, () => cr.pick(ledgers)))]
        : [cr.pick(ledgers)];
      const parts = chosen.map((l) => {
        const k = cr.int(1, 40);
        return { l, first: l.reserve(k), k };
      });
      let res;
      if (batch) {
        const body = Object.fromEntries(parts.map((p) => [p.l.id, measuresBody(p.first, p.k)]));
        res = await request(port, 'POST', '/v1/batch/metrics/measures', { body });
      } else {
        const p = parts[0];
        res = await request(port, 'POST', `/v1/metric/${p.l.id}/measures`, { body: measuresBody(p.first, p.k) });
      }
      stats.posts++;
      const s = stateOf(res);
      if (res.status) countStatus(stats.statuses, res.status);
      else countStatus(stats.errors, res.error);
      if (res.status >= 400 && res.status < 500) violation(`valid POST answered ${res.status}: ${res.body.slice(0, 200)}`);
      const n = parts.reduce((a, p) => a + p.k, 0);
      if (s === ACKED) stats.acked += n;
      else if (s === UNKNOWN) stats.unknown += n;
      else stats.refused += n;
      for (const p of parts) p.l.mark(p.first, p.k, s);
      if (res.error) await sleep(cr.int(10, 60));
    }
  }

  // A reader forcing processing in the API process (refresh=true), racing the workers.
  async function reader(cr) {
    while (!stopping) {
      const l = cr.pick(ledgers);
      const r = await request(port, 'GET', `/v1/metric/${l.id}/measures?aggregation=count&refresh=true`);
      stats.reads++;
      if (r.status !== 200) countStatus(stats.readErrors, r.status || r.error);
      if (r.status >= 500) stats.warnings.push(`read answered ${r.status}: ${r.body.slice(0, 200)}`);
      await sleep(cr.int(50, 300));
    }
  }

  const loops = [
    ...Array.from({ length: opts.clients }, (_v, i) => client(rng(opts.seed * 31 + i + (mode === 'split' ? 1000 : 0)))),
    reader(rng(opts.seed * 17 + 7)),
  ];

  // Kill rounds.
  const deadline = t0 + opts.seconds * 1000;
  for (let round = 0; round < opts.rounds || Date.now() < deadline; round++) {
    await sleep(Math.floor(50 + rand.next() * (opts.maxRound * 1000 - 50)));
    const victims = mode === 'serve' ? ['serve'] : roles.filter(() => rand.next() < 0.5);
    if (victims.length === 0) victims.push(rand.pick(roles));
    await Promise.all(victims.map(async (role) => {
      await sleep(rand.int(0, 150));
      await procs.get(role).kill('SIGKILL');
      stats.kills[role] = (stats.kills[role] ?? 0) + 1;
    }));
    // Restart after a short random pause; the API must come back healthy.
    await sleep(rand.int(0, 300));
    for (const role of victims) start(role);
    if (victims.includes(apiRole)) {
      const t = Date.now();
      await waitHealthy(port, { proc: procs.get(apiRole) });
      stats.restartsMs.push(Date.now() - t);
    }
    stats.rounds++;
    const progress = `[${mode}] round ${stats.rounds}  acked ${stats.acked}  unknown ${stats.unknown}  refused ${stats.refused}`;
    if (process.stdout.isTTY) process.stdout.write(`\r${progress}   `);
    else if (stats.rounds % 5 === 0) console.log(progress);
  }
  stopping = true;
  await Promise.all(loops);
  if (process.stdout.isTTY) process.stdout.write('\n');
  // A last crash of everything, then a clean start that processes what is left.
  await Promise.all([...procs.values()].map((p) => p.kill('SIGKILL')));
  const final = startTally('serve', { dataDir, port, logDir, name: 'final-serve' });
  await waitHealthy(port, { proc: final });

  for (const l of ledgers) {
    const read = {};
    for (const agg of ['count', 'sum']) {
      const r = await request(port, 'GET', `/v1/metric/${l.id}/measures?aggregation=${agg}&granularity=1&refresh=true`, { timeoutMs: 120_000 });
      if (r.status !== 200) violation(`metric ${l.id}: reading ${agg} answered ${r.status || r.error} ${r.body.slice(0, 200)}`);
      else read[agg] = byIndex(r);
    }
    if (!read.count || !read.sum) continue;
    const c = checkStored(l, read.count, read.sum, violation);
    stats.stored += c.stored;
    stats.unknownStored += c.unknownStored;
  }

  // Everything read with refresh=true: the incoming backlog must drain (batches deleted).
  let backlog = -1;
  for (const t = Date.now(); Date.now() - t < 30_000; await sleep(250)) {
    const r = await request(port, 'GET', '/v1/status?details=false');
    backlog = r.status === 200 ? json(r).storage.summary.measures : -1;
    if (backlog === 0) break;
  }
  if (backlog !== 0) violation(`incoming backlog did not drain within 30 s after processing (measures left: ${backlog})`);

  const exit = await final.kill('SIGTERM');
  if (exit.code !== 0) stats.warnings.push(`final serve exited with ${exit.code ?? exit.signal} on SIGTERM`);
  // Error lines in the logs (pino level >= 50) are worth a look even when counts are right.
  for (const f of readdirSync(logDir)) {
    const lines = readFileSync(join(logDir, f), 'utf8').split('\n').filter((x) => /"level":(50|60)/.test(x));
    if (lines.length) stats.warnings.push(`${lines.length} error lines in ${join(logDir, f)}, first: ${lines[0].slice(0, 300)}`);
  }
  stats.seconds = (Date.now() - t0) / 1000;
  return stats;
}

function report(s) {
  const line = (k, v) => console.log(`  ${k.padEnd(26)} ${v}`);
  console.log(`\n== ${s.mode} ==`);
  line('rounds', `${s.rounds} in ${s.seconds.toFixed(1)} s`);
  line('SIGKILLs', Object.entries(s.kills).map(([k, v]) => `${k} x${v}`).join(', '));
  line('API restart to healthy', s.restartsMs.length ? `median ${s.restartsMs.sort((a, b) => a - b)[s.restartsMs.length >> 1]} ms` : '-');
  line('POSTs', s.posts);
  line('answers', Object.entries(s.statuses).map(([k, v]) => `${k}: ${v}`).join(', '));
  line('no answer', Object.entries(s.errors).map(([k, v]) => `${k}: ${v}`).join(', ') || '-');
  line('measures acked', s.acked);
  line('measures unknown', `${s.unknown} (of which stored: ${s.unknownStored})`);
  line('measures refused', s.refused);
  line('measures stored', `${s.stored} (= acked ${s.acked} + unknown stored ${s.unknownStored}${s.stored === s.acked + s.unknownStored ? '' : ' MISMATCH'})`);
  line('refresh reads', `${s.reads}; non-200: ${Object.entries(s.readErrors).map(([k, v]) => `${k}: ${v}`).join(', ') || '-'}`);
  for (const w of [...new Set(s.warnings)].slice(0, 10)) console.log(`  warning: ${w}`);
  if (s.violations.length === 0) console.log('  OK: every acknowledged measure counted exactly once; nothing refused or unsent stored');
  for (const v of s.violations) console.log(`  VIOLATION: ${v}`);
}

const parent = opts.dir || mkdtempSync(join(tmpdir(), 'tally-crash-'));
console.log(`crash-test seed ${opts.seed}, data and logs in ${parent}`);
const rand = rng(opts.seed);
const modes = opts.mode === 'both' ? ['serve', 'split'] : [opts.mode];
let failed = false;
for (const mode of modes) {
  const s = await runMode(mode, parent, rand);
  report(s);
  if (s.violations.length) failed = true;
}
if (failed) {
  console.log(`\nFAILED (seed ${opts.seed}); data and logs kept in ${parent}`);
  process.exit(1);
}
if (!opts.keep && !opts.dir) rmSync(parent, { recursive: true, force: true });
console.log('\nPASSED');
