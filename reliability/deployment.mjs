#!/usr/bin/env node
// A deployment of several Tally hosts on shared servers, under failure.
//
// Each host runs `tally api` and `tally metricd` in a network namespace of its own, with its
// own address on a private bridge (where namespaces cannot be made: its own processes,
// folders and ports on loopback, said in the output). The hosts share PostgreSQL (index),
// Redis (incoming), an S3 server (aggregates) and etcd (coordination), started once by this
// script from Debian's packages. Clients ingest through every API host while:
//   1. one host is killed with SIGKILL, and restarted later: the time until every measure
//      acknowledged before the kill is processed (its sacks taken over) is measured;
//   2. the coordination service is killed and restarted: workers pause and resume;
//   3. the object store is stopped for a while: reads answer 503, writes are still
//      acknowledged (incoming is Redis), and processing catches up afterwards.
// Then every acknowledged measure must be counted exactly once (ledger.mjs), nothing
// refused or never sent stored, and the incoming backlog empty.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, rng, json, requestUrl, sleep, startTally, ROOT } from './lib.mjs';
import { ACKED, UNKNOWN, LEDGER_POLICY, Ledger, byIndex, checkStored, measuresBody, stateOf } from './ledger.mjs';
import { startBackends } from './backends.mjs';

const USAGE = `usage: node reliability/deployment.mjs [options]
  --hosts N          Tally hosts (api + metricd each; default 3)
  --metrics N        metrics written to (default 12)
  --clients N        concurrent ingest clients (default 6)
  --phase S          seconds of each phase (default 6)
  --replicas N       --sack-replicas of the hosts (default 2)
  --pace MS          pause of each client between two POSTs (default 20), so that processing
                     keeps up and the delays measured are takeovers, not a backlog
  --lease-ttl S      etcd lease TTL of the hosts' locks (default 3): a killed worker's sack
                     locks are free after it
  --sacks N          incoming sacks (default 16)
  --no-netns         run the hosts on loopback even where network namespaces can be made
  --seed N           random seed (printed; replay a run with it)
  --dir D            parent folder for data and logs (default: a new temp folder)
  --keep             keep data and logs even when the run passes
  --conformance      then run Gnocchi's suites (scripts/conformance) on the same shared servers
  --json F           write the figures (per-server costs per 1000 measures among them) to F`;

const opts = parseArgs(process.argv.slice(2), {
  hosts: 3, metrics: 12, clients: 6, phase: 6, replicas: 2, sacks: 16, pace: 20, leaseTtl: 3, noNetns: false,
  seed: Math.floor(Math.random() * 2 ** 31), dir: '', keep: false, json: '', conformance: false,
}, USAGE);

const parent = opts.dir || mkdtempSync(join(tmpdir(), 'tally-deploy-'));
const logDir = join(parent, 'logs');
mkdirSync(logDir, { recursive: true });
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const say = (msg) => console.log(`[${elapsed()}] ${msg}`);
const violations = [];
const violation = (msg) => {
  if (violations.length < 50) violations.push(msg);
};
const figures = [];
const figure = (name, value) => {
  figures.push([name, value]);
  say(`${name}: ${value}`);
};

// ------------------------------------------------------------ the network

const sh = (cmd) => execFileSync('bash', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Namespaces and a bridge, or null when they cannot be made here (no root, no CAP_NET_ADMIN). */
function makeNetwork(n) {
  if (opts.noNetns) return null;
  const tag = (process.pid % 10_000).toString(36);
  const subnet = `10.${100 + (process.pid % 100)}.${Math.floor(process.pid / 100) % 250}`;
  const bridge = `tbr${tag}`;
  const net = { bridge, gateway: `${subnet}.1`, hosts: [], made: [] };
  try {
    sh(`ip link add ${bridge} type bridge && ip addr add ${net.gateway}/24 dev ${bridge} && ip link set ${bridge} up`);
    net.made.push(() => sh(`ip link del ${bridge}`));
    for (let i = 1; i <= n; i++) {
      const ns = `tally-${tag}-h${i}`;
      const veth = `tv${tag}h${i}`;
      sh(`ip netns add ${ns}`);
      net.made.push(() => sh(`ip netns del ${ns}`));
      sh(`ip link add ${veth} type veth peer name eth0 netns ${ns} && ip link set ${veth} master ${bridge} up`);
      sh(`ip netns exec ${ns} ip addr add ${subnet}.${10 + i}/24 dev eth0 && ip netns exec ${ns} ip link set eth0 up && ip netns exec ${ns} ip link set lo up`);
      net.hosts.push({ ns, address: `${subnet}.${10 + i}` });
    }
    return net;
  } catch (err) {
    dropNetwork(net);
    console.log(`network namespaces unavailable (${String(err.stderr ?? err.message).trim().split('\n')[0]}): hosts run on loopback, each with its own processes, folders and ports`);
    return null;
  }
}

function dropNetwork(net) {
  for (const undo of (net?.made ?? []).reverse()) {
    try {
      undo();
    } catch {
      // already gone
    }
  }
  if (net) net.made = [];
}

// ------------------------------------------------------------ Tally hosts

async function waitAnswering(base, proc, timeoutMs = 60_000) {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (!proc.alive) throw new Error(`${proc.name} exited while starting (see ${logDir}/${proc.name}.log)`);
    const r = await requestUrl(base, 'GET', '/healthcheck', { timeoutMs: 1000 });
    if (r.status === 200) return Date.now() - start;
    await sleep(100);
  }
  throw new Error(`${base} not healthy after ${timeoutMs} ms`);
}

// ------------------------------------------------------------ the run

let net = null;
let backends = null;
const hosts = [];
const cleanup = async () => {
  await Promise.all(hosts.flatMap((h) => [h.api?.kill('SIGKILL'), h.metricd?.kill('SIGKILL')]));
  await backends?.stop().catch(() => undefined);
  dropNetwork(net);
};
// lib.mjs kills the Tally processes it started when this process exits.
process.on('exit', () => dropNetwork(net));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup().then(() => process.exit(130)));

async function main() {
  console.log(`deployment test seed ${opts.seed}, data and logs in ${parent}`);
  net = makeNetwork(opts.hosts);
  const listenOn = net ? net.gateway : '127.0.0.1';
  let t = Date.now();
  backends = await startBackends({ dir: join(parent, 'servers'), listenOn, log: say });
  figure('shared servers started', `${Date.now() - t} ms (${backends.describe()})`);
  const urls = backends.urls;
  const common = [
    '--indexer-url', urls.indexer, '--incoming-url', urls.incoming, '--storage-url', urls.storage,
    '--coordination-url', `${urls.coordination}?lease_ttl=${opts.leaseTtl}`, '--sacks', String(opts.sacks), '--log-level', 'info',
    '--sack-replicas', String(opts.replicas), '--membership-timeout', '3', '--processing-interval', '200',
  ];
  t = Date.now();
  const up = startTally('upgrade', { dataDir: join(parent, 'upgrade'), logDir, name: 'upgrade', extra: common });
  const upExit = await up.exited;
  if (upExit.code !== 0) throw new Error(`tally upgrade failed (${logDir}/upgrade.log)`);
  figure('tally upgrade', `${Date.now() - t} ms`);

  for (let i = 0; i < opts.hosts; i++) {
    const h = net ? { ns: net.hosts[i].ns, address: net.hosts[i].address, port: 8041 } : { ns: null, address: '127.0.0.1', port: 18_041 + i + (process.pid % 500) * 8 };
    h.name = `host${i + 1}`;
    h.base = `http://${h.address}:${h.port}`;
    h.dataDir = join(parent, h.name);
    h.start = async () => {
      h.api = startTally('api', { dataDir: h.dataDir, port: h.port, logDir, name: `${h.name}-api`, netns: h.ns, extra: [...common, '--host', h.address, '--insecure'] });
      h.metricd = startTally('metricd', { dataDir: h.dataDir, logDir, name: `${h.name}-metricd`, netns: h.ns, extra: common });
      return waitAnswering(h.base, h.api);
    };
    hosts.push(h);
  }
  t = Date.now();
  await Promise.all(hosts.map((h) => h.start()));
  figure('hosts started', `${hosts.length} in ${Date.now() - t} ms: ${hosts.map((h) => `${h.name} ${h.base}${h.ns ? ` (netns ${h.ns})` : ''}`).join(', ')}`);

  const first = hosts[0].base;
  const ap = await requestUrl(first, 'POST', '/v1/archive_policy', { body: LEDGER_POLICY('deploy') });
  if (ap.status !== 201) throw new Error(`creating the archive policy: ${ap.status} ${ap.body}`);
  const ledgers = [];
  for (let i = 0; i < opts.metrics; i++) {
    const r = await requestUrl(hosts[i % hosts.length].base, 'POST', '/v1/metric', { body: { archive_policy_name: 'deploy', name: `deploy-${i}` } });
    if (r.status !== 201) throw new Error(`creating a metric: ${r.status} ${r.body}`);
    ledgers.push(new Ledger(json(r).id));
  }

  // What each server does per thousand measures: a fixed ingest (batches of 100 measures for
  // each of 10 metrics, through every API host in turn), processed to the end; then as long
  // again idle, whose cost (heartbeats, lock and backlog polls) is taken off and reported.
  async function drained(withinMs) {
    for (const s = Date.now(); Date.now() - s < withinMs; await sleep(100)) {
      const r = await requestUrl(first, 'GET', '/v1/status?details=false');
      if (r.status === 200 && json(r).storage.summary.measures === 0) return true;
    }
    return false;
  }
  const stats = { posts: 0, acked: 0, unknown: 0, refused: 0, statuses: {}, errors: {}, perHost: {} };
  const costs = { measures: 0 };
  {
    const c0 = await backends.counters();
    const s0 = Date.now();
    const requests = 40;
    for (let q = 0; q < requests; q++) {
      const chosen = Array.from({ length: 10 }, (_v, j) => ledgers[(q + j) % ledgers.length]);
      const parts = chosen.map((l) => ({ l, first: l.reserve(100), k: 100 }));
      const body = Object.fromEntries(parts.map((p) => [p.l.id, measuresBody(p.first, p.k)]));
      const res = await requestUrl(hosts[q % hosts.length].base, 'POST', '/v1/batch/metrics/measures', { body });
      for (const p of parts) p.l.mark(p.first, p.k, stateOf(res));
      if (res.status !== 202) violation(`cost phase: POST answered ${res.status || res.error}`);
      else stats.acked += 1000;
      costs.measures += 1000;
    }
    if (!(await drained(60_000))) violation('cost phase: backlog not drained within 60 s');
    const c1 = await backends.counters();
    const s1 = Date.now();
    await sleep(s1 - s0);
    const c2 = await backends.counters();
    const s2 = Date.now();
    const idleShare = (s1 - s0) / (s2 - s1);
    for (const server of Object.keys(c0)) {
      const per = {};
      const idle = {};
      for (const k of Object.keys(c0[server])) {
        const busy = c1[server][k] - c0[server][k];
        const quiet = c2[server][k] - c1[server][k];
        per[k] = ((busy - quiet * idleShare) / costs.measures) * 1000;
        idle[k] = quiet / ((s2 - s1) / 1000) / hosts.length;
      }
      costs[server] = { per1000: per, idlePerHostPerSecond: idle };
      figure(`${server} per 1000 measures`, Object.entries(per).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')
        + `; idle, per host and second: ${Object.entries(idle).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
    }
    figure('cost phase', `${costs.measures} measures in ${requests} requests, ingested and processed in ${s1 - s0} ms`);
  }

  const count = (bag, key) => {
    bag[key] = (bag[key] ?? 0) + 1;
  };
  let stopping = false;
  const live = () => hosts.filter((h) => h.api?.alive);
  async function client(cr) {
    while (!stopping) {
      const targets = live();
      if (targets.length === 0) {
        await sleep(50);
        continue;
      }
      const h = cr.pick(targets);
      const chosen = [...new Set(Array.from({ length: cr.int(1, 3) }, () => cr.pick(ledgers)))];
      const parts = chosen.map((l) => {
        const k = cr.int(1, 40);
        return { l, first: l.reserve(k), k };
      });
      const body = Object.fromEntries(parts.map((p) => [p.l.id, measuresBody(p.first, p.k)]));
      const res = await requestUrl(h.base, 'POST', '/v1/batch/metrics/measures', { body, timeoutMs: 10_000 });
      stats.posts++;
      const s = stateOf(res);
      if (res.status) count(stats.statuses, res.status);
      else count(stats.errors, res.error);
      if (res.status >= 400 && res.status < 500) violation(`valid POST to ${h.name} answered ${res.status}: ${res.body.slice(0, 200)}`);
      const n = parts.reduce((a, p) => a + p.k, 0);
      if (s === ACKED) {
        stats.acked += n;
        stats.perHost[h.name] = (stats.perHost[h.name] ?? 0) + n;
      } else if (s === UNKNOWN) stats.unknown += n;
      else stats.refused += n;
      for (const p of parts) p.l.mark(p.first, p.k, s);
      if (res.error || res.status >= 500) await sleep(cr.int(20, 100));
      else if (opts.pace > 0) await sleep(opts.pace);
    }
  }
  const loops = Array.from({ length: opts.clients }, (_v, i) => client(rng(opts.seed * 31 + i)));

  /** Stored count per measure index of every metric, through `base`; null when a read failed. */
  async function storedCounts(base) {
    const out = [];
    for (const l of ledgers) {
      const r = await requestUrl(base, 'GET', `/v1/metric/${l.id}/measures?aggregation=count&granularity=1`, { timeoutMs: 30_000 });
      if (r.status !== 200) return null;
      out.push(byIndex(r));
    }
    return out;
  }
  /** Milliseconds until every measure acknowledged in `snapshot` is readable through a live host. */
  async function untilProcessed(snapshot, withinMs) {
    const start = Date.now();
    while (Date.now() - start < withinMs) {
      const h = live()[0];
      const counts = h ? await storedCounts(h.base) : null;
      if (counts && snapshot.every((acked, j) => acked.every((i) => counts[j].has(i)))) return Date.now() - start;
      await sleep(200);
    }
    return null;
  }

  const phaseMs = opts.phase * 1000;
  say(`ingest through ${hosts.length} API hosts from ${opts.clients} clients`);
  await sleep(phaseMs);
  // The same delay with every host alive: what the takeover figure is to be read against.
  const steady = await untilProcessed(ledgers.map((l) => l.acked()), 60_000);
  figure('steady state: measures acknowledged so far all processed', steady === null ? 'not within 60 s' : `${steady} ms later`);

  // 1. A host killed with SIGKILL: its API and its workers.
  const victim = hosts[1 % hosts.length];
  await Promise.all([victim.api.kill('SIGKILL'), victim.metricd.kill('SIGKILL')]);
  const killedAt = Date.now();
  say(`${victim.name} killed (SIGKILL of its api and metricd)`);
  const snapshot = ledgers.map((l) => l.acked());
  const takeover = await untilProcessed(snapshot, 60_000);
  if (takeover === null) violation(`measures acknowledged before ${victim.name} died were not all processed within 60 s`);
  else figure(`takeover: every measure acknowledged before the kill processed by the other hosts`, `${takeover} ms after the SIGKILL`);
  await sleep(Math.max(0, phaseMs - (Date.now() - killedAt)));
  t = Date.now();
  await victim.start();
  figure(`${victim.name} restarted, healthy after`, `${Date.now() - t} ms`);
  await sleep(phaseMs);

  // 2. The coordination service killed and restarted.
  say('coordination service: SIGKILL');
  const beforeCoord = ledgers.map((l) => l.acked());
  await backends.killCoordination();
  await sleep(Math.min(3000, phaseMs / 2));
  t = Date.now();
  await backends.startCoordination();
  say(`coordination service back (${Date.now() - t} ms to start)`);
  const coordCatchUp = await untilProcessed(beforeCoord, 60_000);
  if (coordCatchUp === null) violation('measures acknowledged before the coordination restart were not all processed within 60 s of its return');
  else figure('processing resumed after the coordination restart: measures acknowledged before it processed', `${coordCatchUp} ms after its return`);
  await sleep(phaseMs);

  // 3. The object store unavailable for a while.
  say('object store: stopped');
  await backends.stopStorage();
  const outage = { reads: 0, statuses: {} };
  const outageEnd = Date.now() + phaseMs;
  while (Date.now() < outageEnd) {
    const h = live()[0];
    const r = await requestUrl(h.base, 'GET', `/v1/metric/${ledgers[0].id}/measures?aggregation=count&granularity=1`, { timeoutMs: 30_000 });
    outage.reads++;
    count(outage.statuses, r.status || r.error);
    await sleep(250);
  }
  const ackedDuringOutage = stats.acked;
  t = Date.now();
  await backends.startStorage();
  say(`object store back (${Date.now() - t} ms to start)`);
  figure('reads while the object store was down', Object.entries(outage.statuses).map(([k, v]) => `${k}: ${v}`).join(', '));
  if (!outage.statuses[503]) violation(`no read answered 503 while the object store was down (${JSON.stringify(outage.statuses)})`);
  for (const k of Object.keys(outage.statuses)) if (Number(k) >= 500 && Number(k) !== 503) violation(`a read answered ${k} while the object store was down`);
  const beforeStore = ledgers.map((l) => l.acked());
  const storeCatchUp = await untilProcessed(beforeStore, 120_000);
  if (storeCatchUp === null) violation('measures acknowledged while the object store was down were not all processed within 120 s of its return');
  else figure('processing caught up after the object store came back', `${storeCatchUp} ms`);
  await sleep(phaseMs / 2);

  stopping = true;
  await Promise.all(loops);
  say(`ingest stopped: ${stats.acked} measures acknowledged (${Object.entries(stats.perHost).map(([k, v]) => `${k} ${v}`).join(', ')}), ${ackedDuringOutage} by the end of the object store outage`);

  // Drain, then check every ledger.
  if (!(await drained(120_000))) violation('incoming backlog did not drain within 120 s');
  let stored = 0;
  let unknownStored = 0;
  for (const l of ledgers) {
    const read = {};
    for (const agg of ['count', 'sum']) {
      const r = await requestUrl(hosts[hosts.length - 1].base, 'GET', `/v1/metric/${l.id}/measures?aggregation=${agg}&granularity=1`, { timeoutMs: 120_000 });
      if (r.status !== 200) violation(`metric ${l.id}: reading ${agg} answered ${r.status || r.error} ${r.body.slice(0, 200)}`);
      else read[agg] = byIndex(r);
    }
    if (!read.count || !read.sum) continue;
    const c = checkStored(l, read.count, read.sum, violation);
    stored += c.stored;
    unknownStored += c.unknownStored;
  }
  await Promise.all(hosts.flatMap((h) => [h.api.kill('SIGTERM'), h.metricd.kill('SIGTERM')]));
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ hosts: hosts.length, replicas: opts.replicas, sacks: opts.sacks, costs, figures, stats, violations }, null, 2));

  if (opts.conformance) {
    // Each suite file gets a server of its own (scripts/suite-server) on the deployment's
    // servers: its own database, key prefixes in Redis and S3, and etcd path.
    t = Date.now();
    say("Gnocchi's suites against servers on the deployment's PostgreSQL, Redis, S3 and etcd");
    const r = spawn('bash', [join(ROOT, 'scripts', 'conformance')], {
      stdio: 'inherit',
      env: { ...process.env, CONFORMANCE_INDEXER_URL: urls.indexerServer, CONFORMANCE_INCOMING_URL: urls.incoming, CONFORMANCE_STORAGE_URL: urls.storage, CONFORMANCE_COORDINATION_URL: urls.coordination },
    });
    const code = await new Promise((resolve) => r.once('exit', resolve));
    if (code !== 0) violation(`Gnocchi's suites failed on the deployment's servers (exit ${code})`);
    figure("Gnocchi's suites on the deployment's servers", `${code === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }

  const line = (k, v) => console.log(`  ${k.padEnd(28)} ${v}`);
  console.log('\n== deployment ==');
  line('hosts', `${hosts.length}${net ? ' in network namespaces on a bridge' : ' on loopback (no network namespaces)'}, sack replicas ${opts.replicas}, ${opts.sacks} sacks`);
  line('servers', backends.describe());
  line('POSTs', stats.posts);
  line('answers', Object.entries(stats.statuses).map(([k, v]) => `${k}: ${v}`).join(', '));
  line('no answer', Object.entries(stats.errors).map(([k, v]) => `${k}: ${v}`).join(', ') || '-');
  line('measures acked', stats.acked);
  line('measures unknown', `${stats.unknown} (of which stored: ${unknownStored})`);
  line('measures refused', stats.refused);
  line('measures stored', `${stored} (= acked ${stats.acked} + unknown stored ${unknownStored}${stored === stats.acked + unknownStored ? '' : ' MISMATCH'})`);
  for (const [k, v] of figures) line(k.slice(0, 28), v);
  // Error lines in the logs (pino level >= 50) are expected during the outages; counted.
  for (const f of readdirSync(logDir)) {
    const n = readFileSync(join(logDir, f), 'utf8').split('\n').filter((x) => /"level":(50|60)/.test(x)).length;
    if (n) line(`error lines in ${f}`, n);
  }
  if (violations.length === 0) console.log('  OK: every acknowledged measure counted exactly once; nothing refused or unsent stored; backlog drained');
  for (const v of violations) console.log(`  VIOLATION: ${v}`);
}

let failed = false;
try {
  await main();
  failed = violations.length > 0;
} catch (err) {
  console.error(`deployment test: ${err.stack ?? err}`);
  failed = true;
} finally {
  await cleanup();
}
console.log(`total ${elapsed()}`);
if (failed) {
  console.log(`\nFAILED (seed ${opts.seed}); data and logs kept in ${parent}`);
  process.exit(1);
}
if (!opts.keep && !opts.dir) rmSync(parent, { recursive: true, force: true });
console.log('\nPASSED');
