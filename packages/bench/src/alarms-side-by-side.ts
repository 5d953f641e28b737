// Tally's alarming side by side with Debian's Aodh 15 (scripts/aodh-side-by-side): one Tally
// serves the measures to both evaluators; the same alarms (every Gnocchi rule type,
// composites, each comparison operator, trends, insufficient data for each reason, missing
// resource, metric, aggregation, granularity and resource type, time constraints) are
// created through each one's alarm API; after both evaluated them, each alarm's state and
// state_reason are compared. Aodh's API does not show reason_data (it only goes to
// notifications, which the reference setup does not send), so it is not compared.
//
// The measures are points at a 5-minute granularity ending in the current 5-minute bucket:
// every rule looks at 3 or fewer periods (a window of 20 minutes at most, Aodh's look-back
// included), so the last points a rule sees are the same during the next 5 minutes at
// least, whichever second each evaluator runs at.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { GnocchiClient } from '@tally/client';
import { AODH_ADMIN_HEADERS, alarmRequest, basicAuth, startAodh, TallyAlarming, type AodhServer } from './alarms-stack.js';
import { judge, passed, renderComparison, type CaseOutcome, type ExpectedDifference, type Observed } from './alarms-compare.js';
import { freePort } from './system.js';
import { startTally, type Target } from './targets.js';
import { benchClient } from './workload.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GRANULARITY = 300;
const POLICY = 'side-by-side';

/** Values of each series at B-900, B-600, B-300 and B (B: start of the current 5-minute bucket); null: no point. */
const SERIES: Record<string, (number | null)[]> = {
  cpu: [90, 90, 90, 90],
  mem: [10, 10, 10, 10],
  mixed: [90, 90, 10, 90],
  sparse: [null, null, null, 50],
  empty: [null, null, null, null],
};

interface World {
  projectA: string;
  /** Resource of project A with every series of SERIES. */
  r1: string;
  /** Resource of project A with cpu at 70. */
  r2: string;
  /** Resource of project B with cpu at 5. */
  r3: string;
  metricIds: Record<string, string>;
}

type Json = Record<string, unknown>;

interface Case {
  name: string;
  what: string;
  /** The alarm's body, as both APIs take it. */
  body: Json;
  want: string | null;
  expected?: ExpectedDifference;
}

const threshold = (op: string, value: number, more: Json = {}): Json => ({
  comparison_operator: op, threshold: value, aggregation_method: 'mean', granularity: GRANULARITY, evaluation_periods: 3, ...more,
});

function cases(w: World): Case[] {
  const res = (metric: string, op: string, value: number, more: Json = {}): Json =>
    ({ metric, resource_id: w.r1, resource_type: 'generic', ...threshold(op, value, more) });
  const byRes = (metric: string, op: string, value: number, more: Json = {}): Json =>
    ({ metric, resource_type: 'generic', query: JSON.stringify({ '=': { project_id: w.projectA } }), ...threshold(op, value, more) });
  const byMetrics = (metrics: string[], op: string, value: number, more: Json = {}): Json => ({ metrics, ...threshold(op, value, more) });
  const rt = (name: string, what: string, rule: Json, want: string, more: Json = {}): Case =>
    ({ name, what, want, body: { type: 'gnocchi_resources_threshold', gnocchi_resources_threshold_rule: rule, ...more } });
  const bm = (name: string, what: string, rule: Json, want: string, more: Json = {}): Case =>
    ({ name, what, want, body: { type: 'gnocchi_aggregation_by_metrics_threshold', gnocchi_aggregation_by_metrics_threshold_rule: rule, ...more } });
  const br = (name: string, what: string, rule: Json, want: string, more: Json = {}): Case =>
    ({ name, what, want, body: { type: 'gnocchi_aggregation_by_resources_threshold', gnocchi_aggregation_by_resources_threshold_rule: rule, ...more } });
  const comp = (name: string, what: string, rule: Json, want: string | null, more: Json = {}): Case =>
    ({ name, what, want, body: { type: 'composite', composite_rule: rule, ...more } });
  const leaf = (type: string, rule: Json): Json => ({ type, ...rule });
  const cpuHigh = leaf('gnocchi_resources_threshold', res('cpu', 'gt', 80));
  const memHigh = leaf('gnocchi_resources_threshold', res('mem', 'gt', 80));
  const fromOk = { state: 'ok' };
  const missing = randomUUID();
  const refused: ExpectedDifference = {
    why: "Aodh 15 asks for two or more metrics as [\"aggregate\", m, [\"metric\", id1, m], [\"metric\", id2, m]], which Gnocchi 4.4.2 refuses "
      + "(and Tally's metric API with it, as a Gnocchi 4.4.2); Tally's evaluator names every metric in one [\"metric\", [id, m], ...] operand "
      + 'and evaluates the rule',
    tally: (o) => o.state === 'alarm' && o.state_reason.startsWith('Transition to alarm due to 3 samples outside threshold'),
    aodh: (o) => o.state === 'insufficient data' && o.state_reason.startsWith('alarm statistics retrieval failed:'),
  };
  return [
    rt('rt-gt', 'resource metric mean > threshold', res('cpu', 'gt', 80), 'alarm'),
    rt('rt-lt', 'resource metric mean < threshold, not met', res('cpu', 'lt', 50), 'ok'),
    rt('rt-ge-equal', '>= with every point equal to the threshold', res('cpu', 'ge', 90), 'alarm'),
    rt('rt-le', '<= just under the points', res('cpu', 'le', 89.5), 'ok'),
    rt('rt-eq', '== the points', res('cpu', 'eq', 90), 'alarm'),
    rt('rt-ne', '!= the points', res('cpu', 'ne', 90), 'ok'),
    rt('rt-max', 'aggregation max', res('mem', 'gt', 5, { aggregation_method: 'max' }), 'alarm'),
    rt('rt-one-period', 'one evaluation period', res('cpu', 'gt', 80, { evaluation_periods: 1 }), 'alarm'),
    rt('rt-trend-alarm', 'mixed points from insufficient data: the trend (last point) decides', res('mixed', 'gt', 50), 'alarm'),
    rt('rt-trend-ok', 'mixed points from insufficient data, last point inside', res('mixed', 'lt', 50), 'ok'),
    rt('rt-trend-stays', 'mixed points from ok: nothing written', res('mixed', 'gt', 50), 'ok', fromOk),
    rt('rt-trend-repeat', 'mixed points from ok with repeat_actions: notified, not written', res('mixed', 'gt', 50), 'ok', { ...fromOk, repeat_actions: true }),
    rt('rt-few-points', 'fewer points than periods', res('sparse', 'gt', 10), 'insufficient data', fromOk),
    rt('rt-no-points', 'a metric without measures', res('empty', 'gt', 10), 'insufficient data', fromOk),
    rt('rt-stays-unknown', 'fewer points than periods from insufficient data: nothing written', res('sparse', 'gt', 10), 'insufficient data'),
    rt('rt-no-resource', 'a resource that does not exist', { ...res('cpu', 'gt', 80), resource_id: missing }, 'insufficient data', fromOk),
    rt('rt-no-metric', 'a metric the resource does not have', res('nope', 'gt', 80), 'insufficient data', fromOk),
    rt('rt-no-granularity', 'a granularity the archive policy does not keep', res('cpu', 'gt', 80, { granularity: 60 }), 'insufficient data', fromOk),
    rt('rt-no-aggregation', 'an aggregation method the archive policy does not keep', res('cpu', 'gt', 80, { aggregation_method: 'std' }), 'insufficient data', fromOk),
    rt('rt-disabled', 'a disabled alarm is not evaluated', res('cpu', 'gt', 80), 'insufficient data', { enabled: false }),
    rt('rt-outside-time', 'outside its time constraint: not evaluated', res('cpu', 'gt', 80), 'insufficient data',
      { time_constraints: [{ name: 'new-year', start: '0 0 1 1 *', duration: 60 }] }),
    rt('rt-inside-time', 'inside its time constraint (Europe/Paris)', res('cpu', 'gt', 80), 'alarm',
      { time_constraints: [{ name: 'always', start: '* * * * *', duration: 3600, timezone: 'Europe/Paris' }] }),
    bm('bm-one', 'by metrics, one metric', byMetrics([w.metricIds.cpu], 'gt', 80), 'alarm'),
    bm('bm-min', 'by metrics, aggregation min, <', byMetrics([w.metricIds.mem], 'lt', 50, { aggregation_method: 'min' }), 'alarm'),
    { ...bm('bm-two', 'by metrics, two metrics (mean of 90 and 10)', byMetrics([w.metricIds.cpu, w.metricIds.mem], 'gt', 40), 'alarm', fromOk), expected: refused },
    bm('bm-no-metric', 'by metrics, a metric that does not exist', byMetrics([missing], 'gt', 80), 'insufficient data', fromOk),
    br('br-ge', 'by resources, mean over the project (90 and 70) >= 80', byRes('cpu', 'ge', 80), 'alarm'),
    br('br-gt', 'by resources, mean over the project > 80, not met', byRes('cpu', 'gt', 80), 'ok'),
    br('br-max', 'by resources, aggregation max', byRes('cpu', 'gt', 85, { aggregation_method: 'max' }), 'alarm'),
    br('br-no-match', 'by resources, a query matching no resource', { ...byRes('cpu', 'gt', 80), query: JSON.stringify({ '=': { project_id: missing } }) }, 'insufficient data', fromOk),
    br('br-no-metric', 'by resources, a metric the resources do not have', byRes('nope', 'gt', 80), 'insufficient data', fromOk),
    comp('comp-or', 'composite: alarm or ok', { or: [cpuHigh, memHigh] }, 'alarm'),
    comp('comp-and', 'composite: alarm and ok', { and: [cpuHigh, memHigh] }, 'ok'),
    comp('comp-mixed-types', 'composite over the three rule types', {
      and: [cpuHigh, leaf('gnocchi_aggregation_by_metrics_threshold', byMetrics([w.metricIds.cpu], 'gt', 80)),
        leaf('gnocchi_aggregation_by_resources_threshold', byRes('cpu', 'ge', 80))],
    }, 'alarm'),
    comp('comp-unknown-leaf', 'composite with a leaf lacking data, from ok', {
      or: [{ and: [leaf('gnocchi_resources_threshold', { ...res('cpu', 'gt', 80), resource_id: missing }), cpuHigh] }, memHigh],
    }, null, fromOk),
    comp('comp-unknown-and-alarm', 'composite: a leaf lacking data or one in alarm', {
      or: [leaf('gnocchi_resources_threshold', res('sparse', 'gt', 10)), cpuHigh],
    }, null),
  ];
}

async function setUpMeasures(client: GnocchiClient, log: (m: string) => void): Promise<World> {
  await client.archivePolicy.create({
    name: POLICY, aggregation_methods: ['mean', 'max', 'min', 'last', 'count', 'sum'],
    definition: [{ granularity: `${GRANULARITY}s`, points: 100 }],
  });
  const projectA = randomUUID();
  const w: World = { projectA, r1: randomUUID(), r2: randomUUID(), r3: randomUUID(), metricIds: {} };
  const r1 = await client.resource.create('generic', {
    id: w.r1, project_id: projectA, metrics: Object.fromEntries(Object.keys(SERIES).map((m) => [m, { archive_policy_name: POLICY }])),
  });
  w.metricIds = r1.metrics as Record<string, string>;
  await client.resource.create('generic', { id: w.r2, project_id: projectA, metrics: { cpu: { archive_policy_name: POLICY } } });
  await client.resource.create('generic', { id: w.r3, project_id: randomUUID(), metrics: { cpu: { archive_policy_name: POLICY } } });
  const bucket = Math.floor(Date.now() / 1000 / GRANULARITY) * GRANULARITY;
  const at = (values: (number | null)[]) => values.flatMap((v, i) => (v === null ? [] : [{ timestamp: bucket - (values.length - 1 - i) * GRANULARITY, value: v }]));
  const body: Record<string, Record<string, { timestamp: number; value: number }[]>> = {
    [w.r1]: Object.fromEntries(Object.entries(SERIES).map(([m, v]) => [m, at(v)]).filter(([, pts]) => pts.length > 0)),
    [w.r2]: { cpu: at([70, 70, 70, 70]) },
    [w.r3]: { cpu: at([5, 5, 5, 5]) },
  };
  await client.batch.resourcesMetricsMeasures(body);
  const deadline = Date.now() + 60_000;
  while ((await client.status({ details: false })).storage.summary.measures > 0) {
    if (Date.now() > deadline) throw new Error('Tally did not process the measures within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  log(`measures in: 5-minute points up to ${new Date(bucket * 1000).toISOString()}`);
  return w;
}

type AlarmDoc = Observed & { alarm_id: string; name: string };

/** Cycles aodh-evaluator started over `n` alarms, from its log. */
function aodhCycles(server: AodhServer, n: number): number {
  let text = '';
  try {
    text = readFileSync(server.evaluatorLog, 'utf8');
  } catch {
    return 0;
  }
  return text.split('\n').filter((l) => l.includes(`initiating evaluation cycle on ${n} alarms`)).length;
}

export interface SideBySideOptions {
  tallyBin: string;
  aodhScript: string;
  intervalS: number;
  keep: boolean;
  log(message: string): void;
}

/** Runs the comparison; resolves to the cases judged. */
export async function sideBySide(o: SideBySideOptions): Promise<CaseOutcome[]> {
  const base = mkdtempSync(join(tmpdir(), 'aodh-side-by-side-'));
  const user = 'admin';
  const password = '';
  let tally: Target | null = null;
  let aodh: AodhServer | null = null;
  let evaluator: TallyAlarming | null = null;
  try {
    const alarmPort = await freePort();
    tally = await startTally({
      tallyBin: o.tallyBin, tallyMetricdWorkers: 1, referenceScript: '', user, password, keepData: o.keep,
      readyTimeoutMs: 60_000, onLog: o.log, alarmPort,
    });
    const tallyAlarms = `http://127.0.0.1:${alarmPort}`;
    const started = Date.now();
    const aodhStarting = startAodh({ script: o.aodhScript, gnocchiUrl: tally.url, intervalS: o.intervalS, dataDir: join(base, 'aodh'), readyTimeoutMs: 120_000, onLog: o.log });
    aodhStarting.catch(() => {}); // awaited below; measures go in meanwhile
    const client = benchClient(tally.url, user, password, 4, 30_000);
    let world: World;
    try {
      world = await setUpMeasures(client, o.log);
    } finally {
      client.close();
    }
    aodh = await aodhStarting;
    o.log(`aodh ready after ${((Date.now() - started) / 1000).toFixed(0)} s`);

    const all = cases(world);
    const created = new Map<string, { tally: string; aodh: string }>();
    const tallyHeaders = basicAuth(user, password);
    for (const c of all) {
      const body = { name: c.name, ...c.body };
      const [t, a] = await Promise.all([
        alarmRequest<{ alarm_id?: string }>(tallyAlarms, tallyHeaders, 'POST', '/v2/alarms', body),
        alarmRequest<{ alarm_id?: string }>(aodh.url, AODH_ADMIN_HEADERS, 'POST', '/v2/alarms', body),
      ]);
      if (t.status !== 201 || a.status !== 201 || !t.body.alarm_id || !a.body.alarm_id) {
        throw new Error(`creating ${c.name}: tally answered ${t.status} ${JSON.stringify(t.body)}, aodh ${a.status} ${JSON.stringify(a.body)}`);
      }
      created.set(c.name, { tally: t.body.alarm_id, aodh: a.body.alarm_id });
    }
    o.log(`${all.length} alarms created in both`);

    // Tally: two rounds, as an evaluator running every interval would have done by then.
    evaluator = await TallyAlarming.open({
      indexerUrl: `sqlite://${join(tally.dataDir ?? '', 'index.sqlite')}`, gnocchiUrl: tally.url, user, password,
      membershipDir: join(base, 'membership'), concurrency: 4, notifier: false,
    });
    for (let i = 0; i < 2; i++) {
      const s = await evaluator.round();
      o.log(`tally round ${i + 1}: ${s.evaluated} evaluated, ${s.transitions} transitions, ${s.failed} failed`);
    }
    // Aodh: the cycle that lists every enabled alarm starts once they are all older than
    // half an interval; two such cycles complete once a third one starts.
    const enabled = all.filter((c) => c.body.enabled !== false).length;
    const deadline = Date.now() + Math.max(60_000, o.intervalS * 6_000);
    while (aodhCycles(aodh, enabled) < 3) {
      if (Date.now() > deadline) throw new Error(`aodh-evaluator did not complete two cycles over ${enabled} alarms; log ${aodh.evaluatorLog}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    o.log('aodh-evaluator completed two cycles');

    const [t, a] = await Promise.all([
      alarmRequest<AlarmDoc[]>(tallyAlarms, tallyHeaders, 'GET', '/v2/alarms'),
      alarmRequest<AlarmDoc[]>(aodh.url, AODH_ADMIN_HEADERS, 'GET', '/v2/alarms'),
    ]);
    const byId = (docs: AlarmDoc[]) => new Map(docs.map((d) => [d.alarm_id, { state: d.state, state_reason: d.state_reason }]));
    const tallyDocs = byId(t.body);
    const aodhDocs = byId(a.body);
    return all.map((c) => {
      const ids = created.get(c.name);
      return {
        name: c.name, what: c.what, want: c.want, expected: c.expected,
        tally: (ids && tallyDocs.get(ids.tally)) ?? null,
        aodh: (ids && aodhDocs.get(ids.aodh)) ?? null,
      };
    });
  } finally {
    await evaluator?.close();
    await aodh?.stop();
    await tally?.stop();
    if (!o.keep) rmSync(base, { recursive: true, force: true });
    else o.log(`files kept in ${base}`);
  }
}

const USAGE = `usage: scripts/aodh-side-by-side [--interval S] [--keep]
  --interval S   aodh-evaluator's evaluation_interval (5)
  --keep         keep the temporary folders (Tally's data, Aodh's logs)
`;

export async function sideBySideMain(argv: string[]): Promise<number> {
  let v;
  try {
    ({ values: v } = parseArgs({ args: argv, options: { interval: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const intervalS = Number(v.interval ?? 5);
  if (!Number.isInteger(intervalS) || intervalS < 1) {
    process.stderr.write(`--interval: expected a positive integer\n${USAGE}`);
    return 2;
  }
  const t0 = Date.now();
  const log = (m: string) => process.stderr.write(`aodh-side-by-side: ${m}\n`);
  const outcomes = await sideBySide({
    tallyBin: `${REPO_ROOT}bin/tally`, aodhScript: `${REPO_ROOT}../shared/reference/aodh-server.sh`, intervalS, keep: Boolean(v.keep), log,
  });
  process.stdout.write(renderComparison(outcomes));
  process.stdout.write(`total time ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  return outcomes.every((c) => passed(judge(c))) ? 0 : 1;
}
