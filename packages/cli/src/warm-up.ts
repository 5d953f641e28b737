// Warm-up: before a process takes requests, it runs its hot paths over scratch stores in a
// temporary folder, so that its first requests meet optimised code.
//
// Why: V8 runs a function in its interpreter until it is hot, then compiles it on a
// background thread, and compiles it again whenever data takes a path its first compile had
// not seen. On a fresh `tally serve` (2 cores, Gnocchi's six methods at three
// granularities, 100 metrics x 500 measures in one batch) the first burst cost 1 090-1 290 ms
// of CPU against 400-430 ms for the same burst a few bursts later, and a third of a warm
// burst's CPU was still the optimising compiler. Each processing thread is an isolate of
// its own and compiles everything for itself. Warmed up first, the same first burst cost
// 620-740 ms. The price is paid once per start, before the port opens.
//
// Scratch only: nothing here reads or writes the configured stores, so what a warm-up does
// is never visible to anyone. The stores are the embedded ones (SQLite, files) whatever the
// configuration: their paths are the engine's, the codecs' and the API's, which every
// deployment runs.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '@tally/files';
import { openIncoming, type Measures } from '@tally/incoming';
import { openStorage } from '@tally/storage';
import { openCoordinator } from '@tally/coordination';
import { Processor, type Logger } from '@tally/metricd';
import { buildApi } from '@tally/rest';
import { snappyCompress, writeRequest } from '@tally/rest/encoders';
import { DEFAULT_AGGREGATION_METHODS, makeArchivePolicyItem, type ArchivePolicy } from '@tally/timeseries';
import { embeddedStores, type Settings } from './config.js';
import { openServices, upgrade } from './services.js';

export interface WarmUpOptions {
  /** Time the warm-up may take, its scratch stores' opening included (the last round started is finished). */
  budgetMs: number;
  /** Rounds it runs whatever the time (default 1); each round's metrics take the next policy. */
  minRounds?: number;
}

export interface WarmUpReport {
  rounds: number;
  ms: number;
  /** Measures folded (processing) or acknowledged (API). */
  measures: number;
}

const S = 1_000_000_000n;
/** First timestamp of the scratch measures (2024-01-01). */
const T0_S = 1_704_067_200;
/** Measures of one metric per round: what a 10 000-measure batch of 25 metrics carries. */
const PER_ROUND = 400;

/**
 * Policies whose paths differ in the engine: one method at 1 s, Gnocchi's six methods at
 * three granularities, a rate and a percentile, and a back window.
 */
const POLICIES: Array<{ name: string; methods: string[]; granularitiesS: number[]; backWindow?: number }> = [
  { name: 'warm-mean', methods: ['mean'], granularitiesS: [1] },
  { name: 'warm-six', methods: [...DEFAULT_AGGREGATION_METHODS], granularitiesS: [1, 60, 3600] },
  { name: 'warm-medium', methods: [...DEFAULT_AGGREGATION_METHODS], granularitiesS: [60, 3600] },
  { name: 'warm-rate', methods: ['rate:mean', '95pct'], granularitiesS: [1, 60] },
  { name: 'warm-last', methods: ['last'], granularitiesS: [1], backWindow: 3600 },
];

function enginePolicy(p: (typeof POLICIES)[number]): ArchivePolicy {
  return {
    name: p.name,
    backWindow: p.backWindow ?? 0,
    aggregationMethods: p.methods,
    definition: p.granularitiesS.map((g) => makeArchivePolicyItem({ granularity: BigInt(g) * S, timespan: BigInt(g) * 10_000n * S })),
  };
}

/**
 * Values of metric `m` in round `r`: a random walk at three decimals (the decimal codecs),
 * a third of it (no decimal scale fits: the float codecs) or a counter (rates).
 */
function valuesOf(m: number, r: number, n: number): Float64Array {
  const out = new Float64Array(n);
  let v = 100 + m;
  for (let i = 0; i < n; i++) {
    v = Math.round((v + Math.random() - 0.5) * 1000) / 1000;
    out[i] = m % 3 === 0 ? v : m % 3 === 1 ? v / 3 : (r * n + i) * 7 + m;
  }
  return out;
}

const SCRATCH_PREFIX = 'tally-warm-up-';
const SCRATCH_NAME = new RegExp(`^${SCRATCH_PREFIX}(\\d+)-`);

/**
 * A new scratch folder, named after this process. A process killed while it warmed up
 * (SIGKILL, a machine's OOM killer) could not remove its own: those of processes that no
 * longer run are removed first. A live process's folder is never touched, whoever reuses
 * a dead one's id.
 */
function scratchFolder(): string {
  const tmp = tmpdir();
  let names: string[] = [];
  try {
    names = readdirSync(tmp);
  } catch {
    // Unreadable: mkdtemp below reports what is wrong with the folder.
  }
  for (const name of names) {
    const m = SCRATCH_NAME.exec(name);
    if (m === null || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    try {
      rmSync(join(tmp, name), { recursive: true, force: true });
    } catch {
      // Another user's, in a shared /tmp: theirs to remove.
    }
  }
  return mkdtempSync(join(tmp, `${SCRATCH_PREFIX}${process.pid}-`));
}

/**
 * Runs `round` (which returns its measures) until `budgetMs` have passed since `t0` (the
 * warm-up's start, its scratch stores' opening included) and `minRounds` have run: on a
 * loaded machine a start is delayed by about the budget and one round, not by a fixed
 * amount of work.
 */
async function rounds(t0: number, o: WarmUpOptions, round: (r: number) => Promise<number>): Promise<WarmUpReport> {
  let r = 0;
  let measures = 0;
  do measures += await round(r++);
  while (performance.now() - t0 < o.budgetMs || r < (o.minRounds ?? 1));
  return { rounds: r, ms: Math.round(performance.now() - t0), measures };
}

/**
 * A processing thread's warm-up: batches for metrics of every policy above, written to a
 * scratch incoming store and folded by a Processor into scratch aggregate storage, as
 * metricd's rounds do (blocking file operations, as this thread's stores use).
 */
export async function warmUpProcessing(o: WarmUpOptions): Promise<WarmUpReport> {
  const t0 = performance.now();
  const dir = scratchFolder();
  try {
    const stores = embeddedStores(dir);
    const incoming = await openIncoming(stores.incomingUrl, { sacks: 1, dedicatedThread: true });
    const storage = await openStorage(stores.storageUrl, { dedicatedThread: true });
    const coordinator = await openCoordinator(stores.coordinationUrl);
    try {
      const policies = POLICIES.map(enginePolicy);
      const metrics = Array.from({ length: 3 * policies.length }, (_v, i) => ({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, policy: policies[i % policies.length] }));
      const byId = new Map(metrics.map((m) => [m.id, m.policy]));
      const processor = new Processor({
        incoming, storage, coordinator,
        policies: async (ids) => new Map(ids.flatMap((id) => (byId.has(id) ? [[id, byId.get(id) as ArchivePolicy] as const] : []))),
      });
      return await rounds(t0, o, async (r) => {
        const batch = new Map<string, Measures>();
        metrics.forEach((m, i) => {
          const ts = new BigInt64Array(PER_ROUND);
          for (let j = 0; j < PER_ROUND; j++) ts[j] = BigInt(T0_S + r * PER_ROUND + j) * S;
          batch.set(m.id, { ts, values: valuesOf(i, r, PER_ROUND) });
        });
        await incoming.add(batch);
        return (await processor.processSack(0, { wait: true }))?.measures ?? 0;
      });
    } finally {
      await incoming.close();
      await storage.close();
      await coordinator.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** HTTP basic for `admin` (Gnocchi's basic mode: the password is not checked). */
const ADMIN = { authorization: `Basic ${Buffer.from('admin:').toString('base64')}` };

/**
 * The API's warm-up: a second API over scratch services (an embedded index, incoming store
 * and storage in a temporary folder) takes the requests clients send most, through
 * Fastify's inject (no socket): archive policy and metric creation, measures as JSON (one
 * metric, and batches), InfluxDB line protocol and Prometheus remote write, a status and a
 * read (nothing is processed: folds are the processing threads' work, warmed there). The
 * settings' limits apply; the auth mode is basic.
 */
export async function warmUpApi(s: Settings, o: WarmUpOptions, log?: Logger): Promise<WarmUpReport> {
  const t0 = performance.now();
  const dir = scratchFolder();
  try {
    const scratch: Settings = { ...s, dataDir: dir, authMode: 'basic', sacks: undefined, ...embeddedStores(dir) };
    const svc = await openServices(scratch, log);
    try {
      await upgrade(svc.indexer);
      const app = buildApi(
        { ...svc, processor: svc.processor, version: 'warm-up', requestDeadlineMs: s.requestDeadlineMs, maxAnswerPoints: s.maxAnswerPoints },
        { authMode: 'basic', maxLimit: s.maxLimit, corsAllowedOrigins: [], proxyHeaders: false, proxyPrefix: '', bodyLimit: s.bodyLimitBytes, remoteUserHeader: 'x-remote-user', archivePolicyLimits: { maxDefinitionItems: s.maxArchivePolicyItems } },
        {},
      );
      try {
        const r = await apiRounds(app, t0, o);
        // Nothing processes them: what the incoming store holds is what was acknowledged.
        return { ...r, measures: (await svc.incoming.backlog()).measures };
      } finally {
        await app.close();
      }
    } finally {
      await svc.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type App = ReturnType<typeof buildApi>;

async function send(app: App, method: 'GET' | 'POST', url: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<string> {
  const r = await app.inject({ method, url, payload: body, headers: { ...ADMIN, 'content-type': 'application/json', ...headers } });
  if (r.statusCode >= 300) throw new Error(`warm-up: ${method} ${url} answered ${r.statusCode}: ${r.body.slice(0, 200)}`);
  return r.body;
}

function iso(sec: number): string {
  return new Date(sec * 1000).toISOString().slice(0, 19);
}

async function apiRounds(app: App, t0: number, o: WarmUpOptions): Promise<WarmUpReport> {
  for (const p of POLICIES) {
    await send(app, 'POST', '/v1/archive_policy', JSON.stringify({
      name: p.name, back_window: p.backWindow ?? 0, aggregation_methods: p.methods,
      definition: p.granularitiesS.map((g) => ({ granularity: `${g}s`, points: 10_000 })),
    }));
  }
  await send(app, 'POST', '/v1/influxdb/query?q=create+database+warm');
  const ids: string[] = [];
  const group = 25;
  return rounds(t0, o, async (r) => {
    // Creations from several clients at once, as the group commit sees them.
    const created = await Promise.all(Array.from({ length: group }, (_v, i) =>
      send(app, 'POST', '/v1/metric', JSON.stringify({ archive_policy_name: POLICIES[(r + i) % POLICIES.length].name }))));
    ids.push(...created.map((b) => (JSON.parse(b) as { id: string }).id));
    const recent = ids.slice(-group);
    const sec = (i: number): number => T0_S + r * PER_ROUND + i;
    const values = recent.map((_id, m) => valuesOf(m, r, PER_ROUND));
    const measures = (m: number, from: number, to: number): string => {
      const parts: string[] = [];
      for (let i = from; i < to; i++) parts.push(`{"timestamp":"${iso(sec(i))}","value":${values[m][i]}}`);
      return `[${parts.join(',')}]`;
    };
    // A few measures per request, as collectd or an unbatched publisher sends them.
    await Promise.all(recent.slice(0, 8).map(async (id, m) => {
      for (let i = 0; i < 40; i += 5) await send(app, 'POST', `/v1/metric/${id}/measures`, measures(m, i, i + 5));
    }));
    await send(app, 'POST', '/v1/batch/metrics/measures', `{${recent.map((id, m) => `"${id}":${measures(m, 40, PER_ROUND)}`).join(',')}}`);
    const lines: string[] = [];
    for (let i = 0; i < PER_ROUND; i++) lines.push(`warm,host=h${r % 4} ${values.slice(0, 8).map((v, m) => `f${m}=${v[i]}`).join(',')} ${sec(i)}000000000`);
    await send(app, 'POST', '/v1/influxdb/write?db=warm', lines.join('\n'), { 'content-type': 'text/plain' });
    const series = values.slice(0, 8).map((v, m) => ({
      labels: { __name__: `warm_${m}`, job: 'warm', instance: `h${r % 4}` },
      samples: Array.from({ length: PER_ROUND }, (_v, i): [number, number] => [sec(i) * 1000, v[i]]),
    }));
    await send(app, 'POST', '/v1/prometheus/write', snappyCompress(writeRequest(series)), {
      'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0',
    });
    await send(app, 'GET', '/v1/status?details=false');
    // Read with a method its policy has (the default, mean, is not in every policy).
    await send(app, 'GET', `/v1/metric/${recent[0]}/measures?aggregation=${encodeURIComponent(POLICIES[r % POLICIES.length].methods[0])}`);
    return 0;
  });
}
