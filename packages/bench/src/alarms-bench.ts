// The alarms scenario (`--scenario alarms`): Tally's evaluator against Debian's
// aodh-evaluator (Aodh 15) on the same alarms over the same measures, both reading one
// Tally's metric API, in one run.
//
// Tally's evaluator runs in this process over Tally's index database (AlarmStore, a Notifier
// on the same database, a node:http webhook receiver), driven round by round: a first round
// in which every alarm leaves insufficient data (writes and notifications), then steady
// rounds. aodh-evaluator (interval 1 s, so its cycles follow each other) is paused with
// SIGSTOP while Tally's rounds run, then resumed: its first cycle, then a steady window in
// which evaluations are counted from its alarms' evaluate_timestamp (Aodh stamps each alarm
// as it takes it). CPU is read from /proc: this process for Tally's evaluator (its database
// is SQLite, in process), aodh-evaluator's processes plus the PostgreSQL backends of its
// database for Aodh, and `tally serve` (the metric API both query) for each.
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { GnocchiClient } from '@tally/client';
import type { AlarmInput } from '@tally/alarming/store';
import { AODH_ADMIN_HEADERS, alarmRequest, openAodhDatabase, startAodh, TallyAlarming, type AodhServer } from './alarms-stack.js';
import { percentile } from './stats.js';
import { cpuSeconds, freePort, processTree } from './system.js';
import { startTally, type StartOptions, type Target } from './targets.js';
import { benchClient } from './workload.js';
import type { Progress } from './progress.js';

export interface AlarmBenchConfig {
  /** Alarms Tally's evaluator evaluates. */
  alarms: number;
  /** The first this many of them also go to Aodh (its rate is per alarm, so fewer do). */
  aodhAlarms: number;
  /** Resources, each with the metrics cpu, mem and disk. */
  resources: number;
  /** Steady rounds of Tally's evaluator. */
  rounds: number;
  /** Seconds of aodh-evaluator's steady window. */
  aodhSeconds: number;
  /** Longest wait for aodh-evaluator's first cycle, seconds. */
  aodhFirstCycleS: number;
  /** Alarms Tally's evaluator evaluates at once. */
  concurrency: number;
  /** One alarm in this many has a webhook action (notification latency). */
  notifyEvery: number;
  aodhScript: string;
}

/** parseArgs options of the scenario (index.ts merges them). */
export const ALARM_BENCH_OPTIONS = {
  alarms: { type: 'string' }, 'aodh-alarms': { type: 'string' }, 'alarm-resources': { type: 'string' },
  'alarm-rounds': { type: 'string' }, 'aodh-seconds': { type: 'string' }, 'aodh-first-cycle': { type: 'string' },
  'alarm-concurrency': { type: 'string' }, 'notify-every': { type: 'string' }, 'aodh-script': { type: 'string' },
} as const;

export const ALARM_BENCH_HELP = `Alarms (--scenario alarms; starts Tally and Debian's Aodh 15 reading it):
  --alarms N               alarms of Tally's evaluator, a third of each Gnocchi rule type (10000)
  --aodh-alarms N          the first N of them also created in Aodh (1000)
  --alarm-resources N      resources with metrics cpu, mem and disk the alarms watch (100)
  --alarm-rounds N         steady rounds of Tally's evaluator, after the first (3)
  --aodh-seconds S         aodh-evaluator's steady window (20)
  --aodh-first-cycle S     longest wait for aodh-evaluator's first cycle (180)
  --alarm-concurrency N    alarms Tally's evaluator evaluates at once (10)
  --notify-every N         one alarm in N has a webhook action, for notification latency (20)
  --aodh-script FILE       (REPO/../shared/reference/aodh-server.sh)
`;

type Raw = Partial<Record<keyof typeof ALARM_BENCH_OPTIONS, string>>;

export function alarmBenchConfig(v: Raw, int: (name: string, raw: string | undefined, dflt: number, min?: number) => number, repoRoot: string): AlarmBenchConfig {
  const alarms = int('alarms', v.alarms, 10_000, 3);
  return {
    alarms,
    aodhAlarms: Math.min(alarms, int('aodh-alarms', v['aodh-alarms'], 1000, 3)),
    resources: int('alarm-resources', v['alarm-resources'], 100, 1),
    rounds: int('alarm-rounds', v['alarm-rounds'], 3, 1),
    aodhSeconds: int('aodh-seconds', v['aodh-seconds'], 20, 4),
    aodhFirstCycleS: int('aodh-first-cycle', v['aodh-first-cycle'], 180, 10),
    concurrency: int('alarm-concurrency', v['alarm-concurrency'], 10, 1),
    notifyEvery: int('notify-every', v['notify-every'], 20, 1),
    aodhScript: v['aodh-script'] ?? `${repoRoot}../shared/reference/aodh-server.sh`,
  };
}

const GRANULARITY = 300;
const POLICY = 'alarms-bench';
const METRICS = ['cpu', 'mem', 'disk'] as const;
const PROJECTS = 10;
const OPERATORS = ['gt', 'lt', 'ge', 'le'] as const;

interface Data {
  resources: string[];
  projects: string[];
  /** Metric ids, resource by resource, in METRICS order. */
  metricIds: string[];
}

async function setUpMeasures(client: GnocchiClient, cfg: AlarmBenchConfig): Promise<Data> {
  await client.archivePolicy.create({ name: POLICY, aggregation_methods: ['mean', 'max', 'min', 'last'], definition: [{ granularity: `${GRANULARITY}s`, points: 100 }] });
  const projects = Array.from({ length: PROJECTS }, () => randomUUID());
  const data: Data = { resources: [], projects, metricIds: [] };
  // 12 points per metric ending in the current 5-minute bucket: rules over 3 periods see
  // the same points for the next 5 minutes at least.
  const bucket = Math.floor(Date.now() / 1000 / GRANULARITY) * GRANULARITY;
  const body: Record<string, Record<string, { timestamp: number; value: number }[]>> = {};
  for (let r = 0; r < cfg.resources; r++) {
    const id = randomUUID();
    const res = await client.resource.create('generic', {
      id, project_id: projects[r % PROJECTS], metrics: Object.fromEntries(METRICS.map((m) => [m, { archive_policy_name: POLICY }])),
    });
    data.resources.push(id);
    for (const m of METRICS) data.metricIds.push((res.metrics as Record<string, string>)[m]);
    body[id] = Object.fromEntries(METRICS.map((m, k) => [m, Array.from({ length: 12 }, (_, p) => ({
      timestamp: bucket - (11 - p) * GRANULARITY, value: (r * 37 + k * 23 + p * 11) % 100,
    }))]));
  }
  await client.batch.resourcesMetricsMeasures(body);
  while ((await client.status({ details: false })).storage.summary.measures > 0) await new Promise((r) => setTimeout(r, 200));
  return data;
}

/** Alarm `i` of the run: the three Gnocchi rule types in turn, over the data's metrics. */
function alarmInput(i: number, d: Data, actions: string[]): AlarmInput {
  const r = Math.floor(i / 3) % d.resources.length;
  const k = Math.floor(i / 3 / d.resources.length) % METRICS.length;
  const base = {
    comparison_operator: OPERATORS[i % OPERATORS.length], threshold: (i * 7) % 100, aggregation_method: 'mean',
    granularity: GRANULARITY, evaluation_periods: 3,
  };
  const common = {
    name: `bench-${i}`, description: '', enabled: true, state: 'insufficient data' as const, state_reason: 'Not evaluated yet',
    severity: 'low' as const, ok_actions: actions, alarm_actions: actions, insufficient_data_actions: [], repeat_actions: false,
    user_id: 'bench', project_id: 'bench', time_constraints: [],
  };
  switch (i % 3) {
    case 0:
      return { ...common, type: 'gnocchi_resources_threshold', rule: { ...base, metric: METRICS[k], resource_id: d.resources[r], resource_type: 'generic' } };
    case 1:
      return { ...common, type: 'gnocchi_aggregation_by_metrics_threshold', rule: { ...base, metrics: [d.metricIds[r * METRICS.length + k]] } };
    default:
      return {
        ...common, type: 'gnocchi_aggregation_by_resources_threshold',
        rule: { ...base, metric: METRICS[k], resource_type: 'generic', query: JSON.stringify({ '=': { project_id: d.projects[r % PROJECTS] } }) },
      };
  }
}

/** The body Aodh's API takes for an alarm. */
function aodhBody(a: AlarmInput): Record<string, unknown> {
  return { name: a.name, type: a.type, [`${a.type}_rule`]: a.rule, state: a.state };
}

/** Webhook receiver: arrival time by request id. */
class Receiver {
  readonly arrivals = new Map<string, number>();
  readonly #server = http.createServer((req, res) => {
    const id = req.headers['x-openstack-request-id'];
    req.resume();
    req.on('end', () => {
      if (typeof id === 'string') this.arrivals.set(id, Date.now());
      res.writeHead(200).end();
    });
  });

  async listen(): Promise<string> {
    const port = await freePort();
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${port}/hook`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** CPU seconds used by `pids` between two readings, processes gone meanwhile left out. */
function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let s = 0;
  for (const [pid, v] of after) s += v - (before.get(pid) ?? v);
  return s;
}

export interface AlarmFigures {
  /** Per steady round of Tally (evaluations/s, CPU s per 10 000 evaluations...). */
  tallyRounds: { rate: number; cpuPer10k: number; apiCpuPer10k: number }[];
  tallyFirstRate: number;
  tallyTransitions: number;
  latency: { p50: number; p99: number; max: number; count: number; sent: number } | null;
  aodhFirstRate: number | null;
  aodhFirstComplete: boolean;
  aodh: { rate: number; cpuPer10k: number; evaluatorCpuPer10k: number; apiCpuPer10k: number; evaluations: number; seconds: number } | null;
  /** Alarms Aodh also has, and of them those the two evaluators left in different states. */
  compared: number;
  stateMismatches: number;
  notes: string[];
}

async function aodhCount(db: Kysely<unknown>, since: string): Promise<{ now: string; n: number }> {
  const r = await sql<{ now: string; n: string | number }>`select to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US') as now,
    (select count(*) from alarm where evaluate_timestamp > ${since}::timestamp) as n`.execute(db);
  return { now: r.rows[0].now, n: Number(r.rows[0].n) };
}

async function aodhBackends(db: Kysely<unknown>, name: string): Promise<number[]> {
  const r = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`.execute(db);
  return r.rows.map((x) => Number(x.pid));
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // gone
    }
  }
}

type TallyPart = Pick<AlarmFigures, 'tallyRounds' | 'tallyFirstRate' | 'tallyTransitions' | 'latency'> & { notes: string[]; states: Map<string, string> };

async function measureTally(tally: Target, data: Data, cfg: AlarmBenchConfig, base: string, p: Progress): Promise<TallyPart> {
  const receiver = new Receiver();
  const hook = await receiver.listen();
  const decided = new Map<string, number>();
  const alarming = await TallyAlarming.open({
    indexerUrl: `sqlite://${join(tally.dataDir ?? '', 'index.sqlite')}`, gnocchiUrl: tally.url, user: 'admin', password: '',
    membershipDir: join(base, 'membership'), concurrency: cfg.concurrency, notifier: true,
    onDecision: (id) => decided.set(id, Date.now()),
  });
  const notes: string[] = [];
  try {
    p.log(`creating ${cfg.alarms} alarms in Tally's store`);
    const actor = { userId: 'bench', projectId: 'bench' };
    const c0 = performance.now();
    for (let i = 0; i < cfg.alarms; i++) await alarming.store.create(alarmInput(i, data, i % cfg.notifyEvery === 0 ? [hook] : []), actor);
    p.log(`created in ${((performance.now() - c0) / 1000).toFixed(1)} s`);
    const serveTree = () => cpuSeconds(tally.pid === null ? [] : processTree(tally.pid));

    const t0 = performance.now();
    const first = await alarming.round();
    const firstS = (performance.now() - t0) / 1000;
    p.log(`tally first round: ${first.evaluated} evaluated (${first.transitions} transitions, ${first.failed} failed) in ${firstS.toFixed(1)} s`);
    if (first.failed > 0) notes.push(`tally: ${first.failed} evaluations failed in the first round`);
    const deadline = Date.now() + 60_000;
    while (receiver.arrivals.size < decided.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const lat = [...decided].flatMap(([id, at]) => {
      const got = receiver.arrivals.get(id);
      return got === undefined ? [] : [got - at];
    }).sort((a, b) => a - b);
    if (lat.length < decided.size) notes.push(`tally: ${decided.size - lat.length} of ${decided.size} notifications not received within 60 s`);

    const rounds: AlarmFigures['tallyRounds'] = [];
    for (let r = 0; r < cfg.rounds; r++) {
      const cpu0 = process.cpuUsage();
      const api0 = serveTree();
      const s0 = performance.now();
      const s = await alarming.round();
      const seconds = (performance.now() - s0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const api = cpuDelta(api0, serveTree());
      const own = (cpu.user + cpu.system) / 1e6;
      rounds.push({ rate: s.evaluated / seconds, cpuPer10k: (own / s.evaluated) * 10_000, apiCpuPer10k: (api / s.evaluated) * 10_000 });
      p.log(`tally steady round ${r + 1}: ${s.evaluated} in ${seconds.toFixed(2)} s, ${s.transitions} transitions, evaluator CPU ${own.toFixed(2)} s, metric API CPU ${api.toFixed(2)} s`);
      if (s.failed > 0) notes.push(`tally: ${s.failed} evaluations failed in steady round ${r + 1}`);
    }
    const states = new Map((await alarming.store.list()).map((a) => [a.name, a.state]));
    return {
      states,
      tallyRounds: rounds, tallyFirstRate: first.evaluated / firstS, tallyTransitions: first.transitions,
      latency: lat.length ? { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1], count: lat.length, sent: decided.size } : null,
      notes,
    };
  } finally {
    await alarming.close();
    await receiver.close();
  }
}

async function createAodhAlarms(aodh: AodhServer, db: Kysely<unknown>, data: Data, cfg: AlarmBenchConfig, p: Progress): Promise<void> {
  // The first alarm of each type through Aodh's API (its validation, against Tally); the
  // rest as copies of those rows with their own id, name and rule: Aodh's API would take
  // minutes for a thousand.
  const templates = new Map<string, string>();
  for (let i = 0; i < 3; i++) {
    const a = alarmInput(i, data, []);
    const res = await alarmRequest<{ alarm_id?: string }>(aodh.url, AODH_ADMIN_HEADERS, 'POST', '/v2/alarms', aodhBody(a));
    if (res.status !== 201 || !res.body.alarm_id) throw new Error(`aodh refused ${a.type}: ${res.status} ${JSON.stringify(res.body)}`);
    templates.set(a.type, res.body.alarm_id);
  }
  p.log(`copying ${cfg.aodhAlarms - 3} more alarms in Aodh's database`);
  for (let i = 3; i < cfg.aodhAlarms; i++) {
    const a = alarmInput(i, data, []);
    await sql`insert into alarm (alarm_id, enabled, name, type, severity, description, timestamp, user_id, project_id, state, state_reason,
        state_timestamp, ok_actions, alarm_actions, insufficient_data_actions, repeat_actions, rule, time_constraints, evaluate_timestamp)
      select ${randomUUID()}, enabled, ${a.name}, type, severity, description, timestamp, user_id, project_id, state, state_reason,
        state_timestamp, ok_actions, alarm_actions, insufficient_data_actions, repeat_actions, ${JSON.stringify(a.rule)}, time_constraints, evaluate_timestamp
      from alarm where alarm_id = ${templates.get(a.type)}`.execute(db);
  }
}

async function measureAodh(tally: Target, aodh: AodhServer, db: Kysely<unknown>, pids: number[], cfg: AlarmBenchConfig, p: Progress):
  Promise<Pick<AlarmFigures, 'aodhFirstRate' | 'aodhFirstComplete' | 'aodh'> & { notes: string[] }> {
  const notes: string[] = [];
  const n = cfg.aodhAlarms;
  const start = (await aodhCount(db, '1970-01-01')).now;
  signal(pids, 'SIGCONT');
  const t0 = performance.now();
  let done = 0;
  while (done < n && performance.now() - t0 < cfg.aodhFirstCycleS * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    done = (await aodhCount(db, start)).n;
  }
  const firstS = (performance.now() - t0) / 1000;
  const firstComplete = done >= n;
  p.log(`aodh first cycle: ${done} of ${n} alarms taken in ${firstS.toFixed(1)} s`);
  if (!firstComplete) notes.push(`aodh: first cycle incomplete after ${cfg.aodhFirstCycleS} s (${done} of ${n}): its steady figures are not measured`);
  if (!firstComplete) return { aodhFirstRate: done / firstS, aodhFirstComplete: false, aodh: null, notes };

  // The steady window: every second, the alarms stamped since the previous reading. An
  // alarm is taken once per cycle, and a cycle of `n` alarms lasts longer than a second
  // (checked), so no evaluation hides behind another.
  const backends = await aodhBackends(db, aodh.databaseName);
  const tree = () => cpuSeconds([...pids, ...backends]);
  const evalTree = () => cpuSeconds(pids);
  const serveTree = () => cpuSeconds(tally.pid === null ? [] : processTree(tally.pid));
  let since = (await aodhCount(db, start)).now;
  const cpu0 = tree();
  const ev0 = evalTree();
  const api0 = serveTree();
  const w0 = performance.now();
  let evaluations = 0;
  let undercounted = false;
  while (performance.now() - w0 < cfg.aodhSeconds * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const c = await aodhCount(db, since);
    undercounted ||= c.n >= n;
    evaluations += c.n;
    since = c.now;
  }
  const seconds = (performance.now() - w0) / 1000;
  const cpu = cpuDelta(cpu0, tree());
  const ev = cpuDelta(ev0, evalTree());
  const api = cpuDelta(api0, serveTree());
  signal(pids, 'SIGSTOP');
  if (undercounted) notes.push(`aodh: a whole cycle of ${n} alarms fit in one 1 s reading, so evaluations are undercounted: use more --aodh-alarms`);
  p.log(`aodh steady window: ${evaluations} evaluations in ${seconds.toFixed(1)} s, evaluator CPU ${ev.toFixed(2)} s (+ its PostgreSQL backends: ${cpu.toFixed(2)} s), metric API CPU ${api.toFixed(2)} s`);
  return {
    aodhFirstRate: n / firstS, aodhFirstComplete: true, notes,
    aodh: evaluations === 0 ? null : {
      rate: evaluations / seconds, cpuPer10k: (cpu / evaluations) * 10_000, evaluatorCpuPer10k: (ev / evaluations) * 10_000,
      apiCpuPer10k: (api / evaluations) * 10_000, evaluations, seconds,
    },
  };
}

export async function runAlarmBench(start: StartOptions, cfg: AlarmBenchConfig, p: Progress): Promise<AlarmFigures> {
  const base = mkdtempSync(join(tmpdir(), 'alarms-bench-'));
  let tally: Target | null = null;
  let aodh: AodhServer | null = null;
  let db: Kysely<unknown> | null = null;
  let paused: number[] = [];
  try {
    tally = await startTally({ ...start, onLog: (m) => p.log(m) });
    aodh = await startAodh({ script: cfg.aodhScript, gnocchiUrl: tally.url, intervalS: 1, dataDir: join(base, 'aodh'), readyTimeoutMs: 180_000, onLog: (m) => p.log(m) });
    // Held until its turn: the two evaluators would otherwise share the cores and the metric API.
    paused = aodh.evaluatorPids();
    if (paused.length === 0) throw new Error(`aodh-evaluator is not running; log ${aodh.evaluatorLog}`);
    signal(paused, 'SIGSTOP');
    const client = benchClient(tally.url, start.user, start.password, 4, 60_000);
    let data: Data;
    try {
      data = await setUpMeasures(client, cfg);
    } finally {
      client.close();
    }
    p.log(`${cfg.resources} resources, ${data.metricIds.length} metrics with 12 points each`);
    db = await openAodhDatabase(aodh);
    await createAodhAlarms(aodh, db, data, cfg, p);
    const t = await measureTally(tally, data, cfg, base, p);
    const a = await measureAodh(tally, aodh, db, paused, cfg, p);
    const aodhStates = await sql<{ name: string; state: string }>`select name, state from alarm`.execute(db);
    const mismatched = aodhStates.rows.filter((r) => t.states.get(r.name) !== r.state);
    const notes = [...t.notes, ...a.notes];
    if (mismatched.length > 0) {
      notes.push(`${mismatched.length} of ${aodhStates.rows.length} alarms in different states, e.g. ${mismatched.slice(0, 3).map((r) => `${r.name}: tally ${t.states.get(r.name)}, aodh ${r.state}`).join('; ')}`);
    }
    return {
      tallyRounds: t.tallyRounds, tallyFirstRate: t.tallyFirstRate, tallyTransitions: t.tallyTransitions, latency: t.latency, ...a,
      compared: aodhStates.rows.length, stateMismatches: mismatched.length, notes,
    };
  } finally {
    signal(paused, 'SIGCONT'); // so that the script's shutdown reaches them
    await db?.destroy();
    await aodh?.stop();
    await tally?.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

function fmt(v: number | null | undefined, digits: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return v >= 10_000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits);
}

function ratioText(r: number | null): string {
  return r === null || !Number.isFinite(r) ? 'n/a' : `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}

/** The report: Tally's worst and best steady round beside Aodh's window, and the ratios. */
export function renderAlarmFigures(f: AlarmFigures, cfg: AlarmBenchConfig): string {
  const worst = <K extends keyof AlarmFigures['tallyRounds'][number]>(k: K, better: 'higher' | 'lower') => {
    const v = f.tallyRounds.map((r) => r[k]);
    return better === 'higher' ? [Math.min(...v), Math.max(...v)] : [Math.max(...v), Math.min(...v)];
  };
  type Row = [string, string, [number, number] | null, number | null, 'higher' | 'lower', number];
  const rows: Row[] = [
    ['evaluations per second, steady', 'eval/s', worst('rate', 'higher') as [number, number], f.aodh?.rate ?? null, 'higher', 0],
    ['evaluations per second, first round (every alarm leaves insufficient data)', 'eval/s', [f.tallyFirstRate, f.tallyFirstRate], f.aodhFirstComplete ? f.aodhFirstRate : null, 'higher', 0],
    ['evaluator CPU per 10 000 alarms per interval', 'CPU s', worst('cpuPer10k', 'lower') as [number, number], f.aodh?.cpuPer10k ?? null, 'lower', 2],
    ['  Aodh: aodh-evaluator alone, without its PostgreSQL', 'CPU s', null, f.aodh?.evaluatorCpuPer10k ?? null, 'lower', 2],
    ["metric API CPU per 10 000 alarms per interval (tally serve answering)", 'CPU s', worst('apiCpuPer10k', 'lower') as [number, number], f.aodh?.apiCpuPer10k ?? null, 'lower', 2],
  ];
  const table: string[][] = [['figure', 'unit', 'tally worst', 'tally best', 'aodh 15', 'ratio worst', 'ratio best']];
  for (const [label, unit, t, a, better, digits] of rows) {
    const r = (x: number | undefined) => (x === undefined || a === null || a <= 0 || x <= 0 ? null : better === 'higher' ? x / a : a / x);
    table.push([label, unit, fmt(t?.[0], digits), fmt(t?.[1], digits), fmt(a, digits), t ? ratioText(r(t[0])) : '', t ? ratioText(r(t[1])) : '']);
  }
  const lat = f.latency;
  table.push(['notification latency p50, decision to webhook receipt', 'ms', fmt(lat?.p50, 1), '', 'n/a', '', '']);
  table.push(['notification latency p99', 'ms', fmt(lat?.p99, 1), '', 'n/a', '', '']);
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const out = [line(table[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...table.slice(1).map(line)];
  out.push(
    `(Tally: ${cfg.alarms} alarms, ${f.tallyRounds.length} steady rounds, concurrency ${cfg.concurrency}; Aodh: ${cfg.aodhAlarms} of the same alarms, `
    + `${f.aodh ? `${f.aodh.evaluations} evaluations in ${f.aodh.seconds.toFixed(0)} s` : 'not measured'}; ratio > 1 means Tally is better)`,
    `(states after the run: ${f.compared - f.stateMismatches} of the ${f.compared} alarms both evaluated agree)`,
    `(latency: ${lat ? `${lat.count} of ${lat.sent} notifications, max ${lat.max.toFixed(1)} ms` : 'none'}; Aodh's is not measured: the reference setup runs no aodh-notifier)`,
  );
  for (const n of f.notes) out.push(n);
  return `${out.join('\n')}\n`;
}
