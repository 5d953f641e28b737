#!/usr/bin/env node
// Soak: ingest and reads against one `tally serve` for N minutes. Every ~10 s prints the
// acknowledged measures/s, read latency p50/p99, the server's RSS and the incoming
// backlog; at the end says whether memory is flat (max RSS of the last third of the run
// against the first third) and exits non-zero when it is not.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, rng, freePort, startTally, request, json, waitHealthy, sleep, percentile, rssOf, BASE_EPOCH } from './lib.mjs';

const USAGE = `usage: node reliability/soak.mjs [options]
  --minutes N       duration (default 3)
  --clients N       concurrent ingest clients (default 4)
  --readers N       concurrent read clients (default 2)
  --metrics N       metrics written to (default 50)
  --batch N         measures per POST (default 100)
  --rate N          target acknowledged measures/s over all clients, 0 = as fast as possible (default 0)
  --interval S      report interval in seconds (default 10)
  --tolerance F     memory is flat when max RSS(last third) <= F * max RSS(first third) (default 1.2)
  --seed N          random seed
  --keep            keep the data folder and log`;
const opts = parseArgs(process.argv.slice(2), {
  minutes: 3, clients: 4, readers: 2, metrics: 50, batch: 100, rate: 0, interval: 10, tolerance: 1.2,
  seed: Math.floor(Math.random() * 2 ** 31), keep: false,
}, USAGE);

const work = mkdtempSync(join(tmpdir(), 'tally-soak-'));
const port = await freePort();
const server = startTally('serve', { dataDir: join(work, 'data'), port, logDir: join(work, 'logs'), name: 'serve' });
await waitHealthy(port, { proc: server });

let r = await request(port, 'POST', '/v1/archive_policy', {
  body: { name: 'soak', back_window: 0, definition: [{ granularity: '1s', points: 3600 }, { granularity: '1 minute', points: 1440 }, { granularity: '1 hour', points: 720 }] },
});
if (r.status !== 201) throw new Error(`archive policy: ${r.status} ${r.body}`);
const metrics = [];
for (let i = 0; i < opts.metrics; i++) {
  r = await request(port, 'POST', '/v1/metric', { body: { archive_policy_name: 'soak', name: `soak-${i}` } });
  if (r.status !== 201) throw new Error(`metric: ${r.status} ${r.body}`);
  metrics.push({ id: json(r).id, next: 0 });
}

const durationMs = opts.minutes * 60_000;
const t0 = Date.now();
let stop = false;
// Counters of the current interval, reset at each report.
let acked = 0;
let failed = 0;
let readLat = [];
let totalAcked = 0;
let totalReads = 0;
let readFailures = 0;
const samples = []; // { t, rss, rate, p50, p99, backlog }

async function ingest(c) {
  const rand = rng(opts.seed + c);
  const perClientRate = opts.rate > 0 ? opts.rate / opts.clients : 0;
  const start = Date.now();
  let sent = 0;
  while (!stop) {
    // Each POST takes the next timestamps of one metric: values follow a noisy sine wave.
    const m = rand.pick(metrics);
    const first = m.next;
    m.next += opts.batch;
    const body = Array.from({ length: opts.batch }, (_v, j) => ({
      timestamp: BASE_EPOCH + first + j,
      value: Math.round((Math.sin((first + j) / 300) * 50 + rand.next() * 5) * 1000) / 1000,
    }));
    const res = await request(port, 'POST', `/v1/metric/${m.id}/measures`, { body });
    if (res.status === 202) {
      acked += opts.batch;
      totalAcked += opts.batch;
    } else {
      failed++;
      await sleep(100);
    }
    sent += opts.batch;
    if (perClientRate > 0) {
      const ahead = (sent / perClientRate) * 1000 - (Date.now() - start);
      if (ahead > 0) await sleep(ahead);
    }
  }
}

async function reader(c) {
  const rand = rng(opts.seed * 7 + c);
  while (!stop) {
    const m = rand.pick(metrics);
    const agg = rand.pick(['mean', 'max', 'count', 'sum']);
    const gran = rand.pick(['1', '60', '3600']);
    const t = process.hrtime.bigint();
    const res = await request(port, 'GET', `/v1/metric/${m.id}/measures?aggregation=${agg}&granularity=${gran}`);
    readLat.push(Number(process.hrtime.bigint() - t) / 1e6);
    totalReads++;
    if (res.status !== 200) readFailures++;
    await sleep(rand.int(5, 50));
  }
}

async function monitor() {
  const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  console.log(`soak: ${opts.minutes} min, ${opts.clients} ingest clients x ${opts.batch} measures/POST, ${opts.readers} readers, ${opts.metrics} metrics, server pid ${server.pid}`);
  console.log('  elapsed   acked/s   POST fail   reads/s   read p50 ms   read p99 ms   RSS MiB   backlog');
  let last = Date.now();
  while (!stop) {
    await sleep(Math.min(opts.interval * 1000, Math.max(0, durationMs - (Date.now() - t0))));
    const now = Date.now();
    const secs = (now - last) / 1000;
    last = now;
    // Take this interval's counters before awaiting anything (the clients keep running).
    const lat = readLat.sort((a, b) => a - b);
    const ackedNow = acked;
    const failedNow = failed;
    readLat = [];
    acked = 0;
    failed = 0;
    const rss = await rssOf(server.pid);
    const st = await request(port, 'GET', '/v1/status?details=false');
    const backlog = st.status === 200 ? json(st).storage.summary.measures : NaN;
    const s = { t: (now - t0) / 1000, rss, rate: ackedNow / secs, p50: percentile(lat, 50), p99: percentile(lat, 99), backlog, reads: lat.length / secs };
    samples.push(s);
    console.log(`  ${fmt(s.t, 0).padStart(5)} s  ${fmt(s.rate, 0).padStart(8)}  ${String(failedNow).padStart(10)}  ${fmt(s.reads, 0).padStart(8)}  ${fmt(s.p50, 2).padStart(12)}  ${fmt(s.p99, 2).padStart(12)}  ${fmt(rss / 2 ** 20).padStart(8)}  ${String(backlog).padStart(8)}`);
    if (now - t0 >= durationMs - 100 || !server.alive) stop = true;
  }
}

await Promise.all([
  monitor(),
  ...Array.from({ length: opts.clients }, (_v, i) => ingest(i)),
  ...Array.from({ length: opts.readers }, (_v, i) => reader(i)),
]);

const elapsed = (Date.now() - t0) / 1000;
const third = Math.max(1, Math.floor(samples.length / 3));
const maxOf = (xs) => Math.max(...xs.map((s) => s.rss));
const firstMax = maxOf(samples.slice(0, third));
const lastMax = maxOf(samples.slice(-third));
const ratio = lastMax / firstMax;
const flat = ratio <= opts.tolerance;
const alive = server.alive;
await server.kill('SIGTERM');
console.log(`\ntotal: ${totalAcked} measures acknowledged in ${elapsed.toFixed(0)} s (${(totalAcked / elapsed).toFixed(0)}/s), ${totalReads} reads (${readFailures} not 200)`);
console.log(`backlog at the end: ${samples.at(-1)?.backlog} measures`);
console.log(`RSS: max of first third ${(firstMax / 2 ** 20).toFixed(1)} MiB, max of last third ${(lastMax / 2 ** 20).toFixed(1)} MiB, ratio ${ratio.toFixed(2)} -> memory ${flat ? 'FLAT' : 'GROWING'} (tolerance ${opts.tolerance})`);
if (!alive) console.log('server DIED during the soak');
if (opts.keep) console.log(`data and log kept in ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exit(flat && alive ? 0 : 1);
