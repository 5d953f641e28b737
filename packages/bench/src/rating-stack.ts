// What the rating side by side and the rating benchmark share: one Tally (its real metric API
// over real components in a temporary folder, in this process, also listening on a local
// port so that Debian's CloudKitty processor reads the very same data), generated usage
// (projects, virtual machines with flavors, hours of measures), one metrics.yml and one set of
// hashmap rules, Tally's rating over it (library: RatingProcessor reading Tally's components
// in process as `tally serve` does, SqlRatingStore on Tally's index database) and CloudKitty's processor over it
// (scripts/cloudkitty-processor-run), each answering totals per project and period.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildApi, DEFAULT_HTTP_CONFIG } from '@tally/rest';
import { openTestServices } from '@tally/rest/test-util';
import {
  DEFAULT_BATCH_PERIODS, Dec, RATING_MIGRATIONS, RatingProcessor, SqlRatingStore, StoreUsageSource, decimalString,
  migrateRating, openRatingDatabase, parseMetricsYaml, type HashmapRules, type MetricStoreParts, type RatingDatabase,
} from '@tally/rating';
import { Rng } from './datasets.js';

type FastifyInstance = ReturnType<typeof buildApi>;

const NS_PER_HOUR = 3_600_000_000_000n;

/** The usage to generate: `projects` projects sharing `resources` VMs, `hours` hours of measures. */
export interface RatingDataConfig {
  projects: number;
  resources: number;
  hours: number;
  seed: number;
}

export const FLAVORS = [
  { name: 'm1.small', ramMb: 2048, diskGb: 20 },
  { name: 'm1.medium', ramMb: 4096, diskGb: 40 },
  { name: 'm1.large', ramMb: 8192, diskGb: 80 },
] as const;

/**
 * What is rated: instance-hours by flavor (a VM counts as 1 in an hour it has a cpu measure:
 * NUMBOOL of the mean), the disk's largest size, and memory used in GiB (mean of MB, factor
 * 1/1024) — a groupby, a metadata attribute, a mutate and a fractional factor.
 */
export const RATING_METRICS_YML = `metrics:
  cpu:
    unit: instance
    alt_name: instance
    groupby: [id]
    metadata: [flavor_name]
    mutate: NUMBOOL
    extra_args:
      aggregation_method: mean
      resource_type: vm
  disk.size:
    unit: GiB
    groupby: [id]
    extra_args:
      aggregation_method: max
      resource_type: vm
  memory.usage:
    unit: GiB
    factor: 1/1024
    groupby: [id]
    extra_args:
      aggregation_method: mean
      resource_type: vm
`;

/** Totals per scope, then per period start (ISO, second precision, Z): price sum and point count. */
export type Totals = Map<string, Map<string, { total: string; points: number }>>;

export interface RatingStack {
  dir: string;
  url: string;
  app: FastifyInstance;
  /** Tally's components the API runs over (what `tally serve`'s rating reads in process). */
  services: MetricStoreParts;
  ratingDb: RatingDatabase;
  store: SqlRatingStore;
  scopes: string[];
  /** Rated window: `hours` whole hours ending at the last hour boundary before the data was made. */
  begin: bigint;
  end: bigint;
  /** Measures posted. */
  measures: number;
  close(): Promise<void>;
}

function hex32(rng: Rng): string {
  let s = '';
  for (let i = 0; i < 4; i++) s += rng.u32().toString(16).padStart(8, '0');
  return s;
}

function uuidOf(h: string): string {
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const iso = (ns: bigint): string => new Date(Number(ns / 1_000_000n)).toISOString();
export const isoSecond = (ns: bigint): string => iso(ns).replace(/\.\d{3}Z$/, 'Z');

async function call(app: FastifyInstance, method: 'GET' | 'POST', url: string, body?: unknown): Promise<unknown> {
  const res = await app.inject({
    method, url, payload: body === undefined ? undefined : JSON.stringify(body),
    headers: { authorization: `basic ${Buffer.from('admin:').toString('base64')}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  });
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
  return res.body === '' ? null : JSON.parse(res.body) as unknown;
}

/**
 * Starts Tally with the generated usage, its rating store (hashmap enabled, rules from
 * `makeRules`), and listens on 127.0.0.1.
 */
export async function openRatingStack(cfg: RatingDataConfig, log: (m: string) => void = () => {}): Promise<RatingStack> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-rating-'));
  const svc = await openTestServices(dir);
  const app = buildApi(svc.services, { ...DEFAULT_HTTP_CONFIG });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const ratingDb = await openRatingDatabase(`sqlite://${join(dir, 'index.sqlite')}`);
  const close = async (): Promise<void> => {
    await app.close();
    await ratingDb.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await migrateRating(ratingDb, RATING_MIGRATIONS);
    const store = new SqlRatingStore(ratingDb.db, ratingDb.dialect);
    const end = (BigInt(Date.now()) * 1_000_000n / NS_PER_HOUR) * NS_PER_HOUR;
    const begin = end - BigInt(cfg.hours) * NS_PER_HOUR;
    const rng = new Rng(cfg.seed);
    const scopes = Array.from({ length: cfg.projects }, () => hex32(rng)).sort();

    await call(app, 'POST', '/v1/archive_policy', { name: 'rating-hourly', back_window: 0, definition: [{ granularity: '1 hour', points: cfg.hours + 48 }], aggregation_methods: ['mean', 'max'] });
    await call(app, 'POST', '/v1/resource_type', { name: 'vm', attributes: { flavor_name: { type: 'string', required: false } } });
    let measures = 0;
    const batch: Record<string, { timestamp: string; value: number }[]> = {};
    let batchSize = 0;
    const flush = async (): Promise<void> => {
      if (batchSize === 0) return;
      await call(app, 'POST', '/v1/batch/metrics/measures', batch);
      for (const k of Object.keys(batch)) delete batch[k];
      batchSize = 0;
    };
    for (let r = 0; r < cfg.resources; r++) {
      const flavor = FLAVORS[Math.floor(rng.float() * FLAVORS.length)];
      const project = scopes[r % scopes.length];
      // Some VMs start after the window opens and some are gone before it closes (deleted
      // resources must still be rated for the hours they ran).
      const startH = rng.float() < 0.2 ? Math.floor(rng.float() * cfg.hours) : -1;
      const stopH = rng.float() < 0.1 ? startH + 1 + Math.floor(rng.float() * (cfg.hours - startH)) : cfg.hours;
      const started = begin + BigInt(startH) * NS_PER_HOUR + 60_000_000_000n;
      const ap = { archive_policy_name: 'rating-hourly' };
      const res = await call(app, 'POST', '/v1/resource/vm', {
        id: uuidOf(hex32(rng)), project_id: project, flavor_name: flavor.name, started_at: iso(started),
        ...(stopH < cfg.hours ? { ended_at: iso(begin + BigInt(stopH) * NS_PER_HOUR) } : {}),
        metrics: { cpu: ap, 'disk.size': ap, 'memory.usage': ap },
      }) as { metrics: Record<string, string> };
      for (let h = Math.max(0, startH); h < stopH; h++) {
        const t = begin + BigInt(h) * NS_PER_HOUR;
        // An idle hour now and then: no cpu measure, so not an instance-hour.
        if (rng.float() < 0.05) continue;
        const at = (min: number): string => iso(t + BigInt(min) * 60_000_000_000n);
        (batch[res.metrics.cpu] ??= []).push({ timestamp: at(10), value: Math.round(rng.float() * 1000) / 10 }, { timestamp: at(40), value: Math.round(rng.float() * 1000) / 10 });
        (batch[res.metrics['disk.size']] ??= []).push({ timestamp: at(5), value: flavor.diskGb });
        (batch[res.metrics['memory.usage']] ??= []).push({ timestamp: at(20), value: Math.round(rng.float() * flavor.ramMb) }, { timestamp: at(50), value: Math.round(rng.float() * flavor.ramMb * 10) / 10 });
        batchSize += 5;
        measures += 5;
      }
      if (batchSize >= 20_000) await flush();
    }
    await flush();
    for (;;) {
      for (let s = 0; s < svc.services.processor.sacks; s++) await svc.services.processor.processSack(s, { wait: true });
      const status = await call(app, 'GET', '/v1/status?details=false') as { storage: { summary: { measures: number } } };
      if (status.storage.summary.measures === 0) break;
    }
    log(`usage: ${cfg.projects} projects, ${cfg.resources} VMs, ${cfg.hours} h, ${measures} measures processed`);
    await makeRules(store, scopes[0]);
    return { dir, url, app, services: svc.services, ratingDb, store, scopes, begin, end, measures, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * The rules (in CloudKitty's hashmap a flat cost is the price per unit, a rate multiplies it):
 * a price per flavor (one project with a price of its own for m1.small), the disk per
 * GiB-hour with 10 % off from 50 GiB (a service threshold, rate), memory per GiB-hour in a
 * group of its own with a surcharge from 4 GiB (a service threshold, flat).
 */
export async function makeRules(store: SqlRatingStore, specialProject: string): Promise<void> {
  await store.updateModule('hashmap', { enabled: true });
  const instance = await store.createService('instance');
  const flavor = await store.createField(instance.service_id, 'flavor_name');
  for (const [value, cost] of [['m1.small', '0.05'], ['m1.medium', '0.1'], ['m1.large', '0.2']]) {
    await store.createMapping({ field_id: flavor.field_id, value, cost, map_type: 'flat' });
  }
  await store.createMapping({ field_id: flavor.field_id, value: 'm1.small', cost: '0.04', map_type: 'flat', tenant_id: specialProject });
  const storage = await store.createGroup('storage');
  const disk = await store.createService('disk.size');
  await store.createMapping({ service_id: disk.service_id, cost: '0.0004', map_type: 'flat', group_id: storage.group_id });
  await store.createThreshold({ service_id: disk.service_id, level: '50', cost: '0.9', map_type: 'rate', group_id: storage.group_id });
  const memGroup = await store.createGroup('memory');
  const mem = await store.createService('memory.usage');
  await store.createMapping({ service_id: mem.service_id, cost: '0.003', map_type: 'flat', group_id: memGroup.group_id });
  await store.createThreshold({ service_id: mem.service_id, level: '4', cost: '0.01', map_type: 'flat', group_id: memGroup.group_id });
}

/** Rates every scope-period of the stack as the processor rates a backlog (in batches); returns the seconds it took. */
export async function rateWithTally(stack: RatingStack, batchPeriods = DEFAULT_BATCH_PERIODS): Promise<number> {
  const source = new StoreUsageSource(stack.services, parseMetricsYaml(RATING_METRICS_YML));
  const processor = new RatingProcessor({ store: stack.store, source, scopes: stack.scopes });
  const periods = stack.scopes.flatMap((s) => processor.periods(s, stack.begin, stack.end));
  const t0 = process.hrtime.bigint();
  await processor.ratePeriods(periods, { batchPeriods });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Tally's stored totals per scope and period. */
export async function tallyTotals(stack: RatingStack): Promise<Totals> {
  const out: Totals = new Map();
  for (const scope of stack.scopes) {
    const per = new Map<string, { total: string; points: number }>();
    for (const { period, points } of await stack.store.readRated(scope, stack.begin, stack.end)) {
      if (points.length === 0) continue;
      per.set(isoSecond(period.begin), { total: decimalString(points.reduce((a, p) => a.plus(p.price), new Dec(0))), points: points.length });
    }
    out.set(scope, per);
  }
  return out;
}

export interface CloudKittyRun {
  totals: Totals;
  elapsedS: number;
  /** From the processor's start to its first list of scopes. */
  startupS: number | null;
}

/** Runs scripts/cloudkitty-processor-run over the stack's Tally with the same metrics.yml and rules. */
export async function rateWithCloudKitty(stack: RatingStack, repoRoot: string, opts: { storage?: 'exact' | 'sqlalchemy'; db?: 'postgresql' | 'sqlite'; workers?: number; timeoutS?: number; log?: (m: string) => void } = {}): Promise<CloudKittyRun> {
  const work = join(stack.dir, 'cloudkitty');
  const metrics = join(stack.dir, 'metrics.yml');
  const rules = join(stack.dir, 'rules.json');
  const out = join(stack.dir, 'cloudkitty-totals.json');
  writeFileSync(metrics, RATING_METRICS_YML);
  const r: HashmapRules = await stack.store.hashmapRules();
  writeFileSync(rules, JSON.stringify(r));
  const args = [
    `${repoRoot}scripts/cloudkitty-processor-run`, '--work', work, '--gnocchi-url', stack.url, '--metrics', metrics, '--rules', rules,
    '--scopes', stack.scopes.join(','), '--begin', iso(stack.begin), '--end', iso(stack.end), '--out', out, '--resource-types', 'vm',
    '--storage', opts.storage ?? 'exact', '--db', opts.db ?? 'postgresql', '--workers', String(opts.workers ?? 1), '--timeout', String(opts.timeoutS ?? 900),
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); opts.log?.(b.toString().trimEnd()); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cloudkitty-processor-run exited ${code}: ${err.slice(-2000)} (log: ${work}/processor.log)`))));
  });
  const doc = JSON.parse(readFileSync(out, 'utf8')) as { elapsed_s: number; startup_s: number | null; scopes: Record<string, Record<string, { total: string; points: number }>> };
  const totals: Totals = new Map();
  for (const [scope, per] of Object.entries(doc.scopes)) totals.set(scope, new Map(Object.entries(per)));
  return { totals, elapsedS: doc.elapsed_s, startupS: doc.startup_s };
}
