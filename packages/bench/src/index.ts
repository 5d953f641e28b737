// Benchmark driver for Gnocchi-compatible endpoints. `main(argv)` is what the
// `tally bench` and `npm run bench` run; it is exported so a CLI can embed it.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem, hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DATASETS, DATASET_HELP, isDataset, type Dataset } from './datasets.js';
import { Progress } from './progress.js';
import { figureDefs, medians, ratio, renderTable, type FigureDef } from './report.js';
import { MemorySampler } from './system.js';
import { externalTarget, startGnocchi, startTally, type StartOptions, type Target } from './targets.js';
import { runWorkload, type RunResult, type WorkloadConfig } from './workload.js';
import { NOISY_FIGURES, runNoisyNeighbour, type NoisyConfig } from './noisy.js';
import { creationCurveFigures, runCreationCurve, type CreationCurveConfig } from './creation-curve.js';
import { allCells, CellSelectionError, MATRIX_FIGURES, POLICY_HELP, renderMatrix, selectCells, SHAPE_HELP, STATE_HELP, type Cell } from './cells.js';
import { matrixSummary, policyFigureDefs, readFigureDefs, renderMemory, renderPolicies, renderSummary, runPeak, withRatios } from './policy-figures.js';
import { runMatrix, type MatrixConfig, type MatrixTargetSpec } from './matrix.js';
import { ALARM_BENCH_HELP, ALARM_BENCH_OPTIONS, alarmBenchConfig, renderAlarmFigures, runAlarmBench, type AlarmBenchConfig } from './alarms-bench.js';
import { RATING_BENCH_HELP, RATING_BENCH_OPTIONS, ratingBenchConfig, renderRatingFigures, runRatingBench, type RatingBenchConfig } from './rating-bench.js';
import { AGENT_BENCH_HELP, AGENT_BENCH_OPTIONS, agentBenchConfig, renderAgentFigures, runAgentBench, type AgentBenchConfig } from './agent-bench.js';

export { percentile, median } from './stats.js';
export { figureDefs, medians, renderTable } from './report.js';
export { allCells, selectCells, worstBest, renderMatrix, type Cell, type CellResult } from './cells.js';
export { renderSeries, batchBody, generate, Rng, DATASETS, type Dataset } from './datasets.js';
export type { WorkloadConfig, RunResult, Figures } from './workload.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const USAGE = `usage: tally bench (or npm run bench --) [--target URL [--data-dir DIR] [--pid PID]] [--start-tally] [--vs-reference] [options]

Targets (none given: --start-tally; --vs-reference alone also starts Tally):
  --target URL             an already running Gnocchi-compatible endpoint
  --data-dir DIR           where that target stores data (bytes per point); Gnocchi: DATA_DIR/storage
  --pid PID                root of that target's process tree (peak memory)
  --start-tally            start ./bin/tally serve on a fresh data folder and a free port
  --vs-reference           also start the reference Gnocchi 4.4.2 (PROFILE=default PROCS=2 METRICD_WORKERS=2)

Scenario:
  --scenario NAME          standard (default): the workload below
                           noisy-neighbour: one tenant posts --noisy-points measures to one metric whose
                           policy keeps every method (216 series at 1 s); meanwhile another tenant reads a
                           small metric every --noisy-read-interval ms. Reports that tenant's read
                           p50/p99/max while the batch is processed, and the batch's processing time
  --noisy-points N         measures in the big batch (200000)
  --noisy-methods LIST     aggregation methods of its policy (*)
  --noisy-read-interval N  ms between two reads of the other tenant (100)
  --noisy-reader NAME      HTTP basic user of the other tenant (reader)
                           creation: metric creation on a fresh server, round by round, with the CPU its
                           process tree spent per creation (--create-concurrency clients, warmed first on a
                           bare HTTP server in the bench's process)
  --creation-rounds N      timed rounds (10)
  --creation-round-size N  metrics created per round (500)
  --creation-pause N       ms of pause before each round (500)
  --creation-client-warmup N  creations the client makes on the bare server first (5000; 0 skips)
                           alarms: Tally's alarm evaluator against Debian's aodh-evaluator (options below)
                           agent: metering agents polling libvirt domains into Tally, per cycle (options below)
                           rating: Tally's rating against Debian's CloudKitty processor (options below)

${ALARM_BENCH_HELP}
${AGENT_BENCH_HELP}
${RATING_BENCH_HELP}
Matrix (--matrix; started targets only: Tally, and Gnocchi with --vs-reference):
  --matrix                 ingest of every policy x request shape x server state (see --list-cells)
  --cell NAME              run only this cell, policy/shape/state, any part may be * (repeatable)
  --list-cells             list the cells and what they mean, then exit
  --matrix-points N        measures per cell for the batched shapes (50000)
  --matrix-single-points N measures per cell for the single-POST shape (5000)
  --matrix-metrics N       metrics (series) per cell (100)
  --matrix-reads N         timed reads of one series per cell (20; 0 skips)
  --matrix-create N        metrics whose creation is timed on each server, cold then warm after N untimed (500; 0 skips)
  --matrix-series-points LIST  per policy, long series whose every method and granularity is read (10000,100000; 0 skips)
  --matrix-series-reads N  timed reads of each series, method and granularity, interleaved (21)
  --matrix-aggregate-metrics LIST  per policy, POST /v1/aggregates across that many metrics (10,100; 0 skips)
  --matrix-aggregate-points N  points of each of those metrics (1000)
  --matrix-aggregate-reads N   timed POST /v1/aggregates of each size, interleaved (21)
  --matrix-processing-reps N   timings of the engine and of the one-pass baseline per policy, best kept (3; 0 skips)
  --matrix-stall S         a non-empty backlog unchanged for S seconds fails the group, and skips the
                           policy's other groups on that target (60)

Workload (same on every target):
  --metrics N              metrics receiving the walk3 series whose ingest is measured (400)
  --points N               measures per metric at 1 s; the bench's archive policy keeps N points (10000)
  --batch-metrics N        metrics per POST /v1/batch/metrics/measures (100)
  --batch-measures N       measures per metric per batch (100)
  --concurrency N          concurrent ingest clients (4)
  --create-metrics N       metrics whose creation rate is measured (4000, at least --metrics; the first --metrics get walk3)
  --create-warmup N        metrics created untimed just before (4000): a server and client compiling as they run start slower
  --ingest-warmup N        measures per metric sent untimed to --metrics of those before the timed ingest (1000; 0 skips)
  --create-concurrency N   concurrent clients creating metrics and resources (8)
  --datasets LIST          bytes-per-point datasets, walk3 always included (walk3,constant,noise); known: ${DATASETS.join(', ')}
  --dataset-metrics N      metrics per dataset other than walk3 (20)
  --reads N                timed full-series reads (50), after --warmup N untimed requests (2)
  --aggregate-reads N      timed POST /v1/aggregates over 10 metrics (20)
  --resources N            generic resources to create, then search among (1000; 0 skips)
  --searches N             timed resource searches (50)
  --scale LIST             e.g. 1000,10000,100000: grow to that many metrics, ingest --scale-points each, read again
  --scale-points N         measures per metric per scale step (100)
  --scale-probe-metrics N  then, at every step, the same ingest into N metrics spread over the store (1000; 0 skips)
  --scale-probe-points N   measures per probe metric (1000)
  --runs N                 repeat everything on fresh targets, report medians (1)
  --drain-timeout S        longest wait for the backlog to empty, per phase (900)

Output and setup:
  --json FILE              write every run's figures, notes and the medians as JSON
  --user NAME, --password P  HTTP basic auth (admin, empty)
  --tally-bin FILE         tally launcher (${REPO_ROOT}bin/tally)
  --tally-metricd-workers N  processing threads of the started Tally (2, as Gnocchi's METRICD_WORKERS)
  --reference-script FILE  (${REPO_ROOT}../shared/reference/gnocchi-server.sh)
  --keep-data              keep the data folders of started targets
  --seed N                 seed of the synthetic series (1)
  --variants N             distinct series rendered per dataset (16)

Datasets:
${DATASETS.map((d) => `  ${d.padEnd(9)} ${DATASET_HELP[d]}`).join('\n')}
`;

/** A list of sizes, distinct and ascending; '0' (or nothing) is none. */
function sizeList(name: string, raw: string | undefined, dflt: number[]): number[] {
  if (raw === undefined) return dflt;
  if (raw.trim() === '0' || raw.trim() === '') return [];
  return [...new Set(intList(name, raw))].sort((a, b) => a - b);
}

const scenarios = ['standard', 'noisy-neighbour', 'creation', 'alarms', 'agent', 'rating'] as const;
type Scenario = (typeof scenarios)[number];

function isScenario(s: string): s is Scenario {
  return (scenarios as readonly string[]).includes(s);
}

interface Options {
  scenario: Scenario;
  matrix: { enabled: boolean; list: boolean; cells: Cell[]; cfg: MatrixConfig };
  noisy: NoisyConfig;
  creation: CreationCurveConfig;
  alarms: AlarmBenchConfig;
  agent: AgentBenchConfig;
  rating: RatingBenchConfig;
  targetUrl: string | null;
  dataDir: string | null;
  pid: number | null;
  startTally: boolean;
  vsReference: boolean;
  runs: number;
  json: string | null;
  workload: WorkloadConfig;
  start: StartOptions;
}

class UsageError extends Error {}

function int(name: string, raw: string | undefined, dflt: number, min = 0): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer >= ${min}, got '${raw}'`);
  return n;
}

function intList(name: string, raw: string | undefined): number[] {
  if (raw === undefined || raw === '') return [];
  return raw.split(',').map((s) => int(name, s.trim(), 0, 1));
}

export function parseOptions(argv: string[], log: (m: string) => void = () => {}): Options | 'help' {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      scenario: { type: 'string' }, 'noisy-points': { type: 'string' }, 'noisy-methods': { type: 'string' },
      'noisy-read-interval': { type: 'string' }, 'noisy-reader': { type: 'string' },
      'creation-rounds': { type: 'string' }, 'creation-round-size': { type: 'string' }, 'creation-pause': { type: 'string' }, 'creation-client-warmup': { type: 'string' },
      target: { type: 'string' }, 'data-dir': { type: 'string' }, pid: { type: 'string' },
      'start-tally': { type: 'boolean' }, 'vs-reference': { type: 'boolean' },
      metrics: { type: 'string' }, points: { type: 'string' }, 'batch-metrics': { type: 'string' }, 'batch-measures': { type: 'string' },
      concurrency: { type: 'string' }, 'create-metrics': { type: 'string' }, 'create-concurrency': { type: 'string' }, datasets: { type: 'string' },
      'dataset-metrics': { type: 'string' }, 'create-warmup': { type: 'string' }, 'ingest-warmup': { type: 'string' }, reads: { type: 'string' }, warmup: { type: 'string' },
      'aggregate-reads': { type: 'string' }, resources: { type: 'string' }, searches: { type: 'string' },
      scale: { type: 'string' }, 'scale-points': { type: 'string' }, 'scale-probe-metrics': { type: 'string' }, 'scale-probe-points': { type: 'string' }, runs: { type: 'string' },
      'drain-timeout': { type: 'string' }, json: { type: 'string' }, user: { type: 'string' }, password: { type: 'string' },
      'tally-bin': { type: 'string' }, 'tally-metricd-workers': { type: 'string' }, 'reference-script': { type: 'string' },
      'keep-data': { type: 'boolean' }, seed: { type: 'string' }, variants: { type: 'string' },
      matrix: { type: 'boolean' }, cell: { type: 'string', multiple: true }, 'list-cells': { type: 'boolean' },
      'matrix-points': { type: 'string' }, 'matrix-single-points': { type: 'string' }, 'matrix-metrics': { type: 'string' }, 'matrix-reads': { type: 'string' },
      'matrix-create': { type: 'string' }, 'matrix-series-points': { type: 'string' }, 'matrix-series-reads': { type: 'string' },
      'matrix-aggregate-metrics': { type: 'string' }, 'matrix-aggregate-points': { type: 'string' }, 'matrix-aggregate-reads': { type: 'string' },
      'matrix-processing-reps': { type: 'string' }, 'matrix-stall': { type: 'string' },
      ...ALARM_BENCH_OPTIONS,
      ...AGENT_BENCH_OPTIONS,
      ...RATING_BENCH_OPTIONS,
    },
  });
  if (v.help) return 'help';
  const datasets = (v.datasets ?? 'walk3,constant,noise').split(',').map((s) => s.trim()).filter(Boolean);
  for (const d of datasets) if (!isDataset(d)) throw new UsageError(`--datasets: unknown dataset '${d}' (known: ${DATASETS.join(', ')})`);
  const ds: Dataset[] = ['walk3', ...(datasets as Dataset[]).filter((d) => d !== 'walk3')];
  const user = v.user ?? 'admin';
  const password = v.password ?? '';
  const workload: WorkloadConfig = {
    metrics: int('metrics', v.metrics, 400, 10),
    points: int('points', v.points, 10_000, 1),
    batchMetrics: int('batch-metrics', v['batch-metrics'], 100, 1),
    batchMeasures: int('batch-measures', v['batch-measures'], 100, 1),
    ingestConcurrency: int('concurrency', v.concurrency, 4, 1),
    createMetrics: int('create-metrics', v['create-metrics'], 4000, 1),
    createWarmup: int('create-warmup', v['create-warmup'], 4000, 0),
    ingestWarmup: int('ingest-warmup', v['ingest-warmup'], 1000, 0),
    createConcurrency: int('create-concurrency', v['create-concurrency'], 8, 1),
    datasets: ds,
    datasetMetrics: int('dataset-metrics', v['dataset-metrics'], 20, 1),
    variants: int('variants', v.variants, 16, 1),
    reads: int('reads', v.reads, 50, 1),
    warmup: int('warmup', v.warmup, 2, 0),
    aggregateReads: int('aggregate-reads', v['aggregate-reads'], 20, 1),
    aggregateMetrics: 10,
    resources: int('resources', v.resources, 1000, 0),
    searches: int('searches', v.searches, 50, 1),
    scale: intList('scale', v.scale),
    scalePoints: int('scale-points', v['scale-points'], 100, 1),
    scaleProbeMetrics: int('scale-probe-metrics', v['scale-probe-metrics'], 1000, 0),
    scaleProbePoints: int('scale-probe-points', v['scale-probe-points'], 1000, 1),
    drainTimeoutS: int('drain-timeout', v['drain-timeout'], 900, 1),
    seed: int('seed', v.seed, 1, 0),
    user,
    password,
  };
  const scenario = v.scenario ?? 'standard';
  if (!isScenario(scenario)) throw new UsageError(`--scenario: unknown scenario '${scenario}' (known: ${scenarios.join(', ')})`);
  const creation: CreationCurveConfig = {
    rounds: int('creation-rounds', v['creation-rounds'], 10, 1),
    roundSize: int('creation-round-size', v['creation-round-size'], 500, 1),
    concurrency: workload.createConcurrency,
    pauseMs: int('creation-pause', v['creation-pause'], 500, 0),
    clientWarmup: int('creation-client-warmup', v['creation-client-warmup'], 5000, 0),
    user,
    password,
  };
  const noisy: NoisyConfig = {
    points: int('noisy-points', v['noisy-points'], 200_000, 1),
    methods: (v['noisy-methods'] ?? '*').split(',').map((m) => m.trim()).filter(Boolean),
    readIntervalMs: int('noisy-read-interval', v['noisy-read-interval'], 100, 0),
    drainTimeoutS: workload.drainTimeoutS,
    user,
    password,
    readerUser: v['noisy-reader'] ?? 'reader',
  };
  let cells: Cell[];
  try {
    cells = selectCells(v.cell ?? []);
  } catch (e) {
    if (e instanceof CellSelectionError) throw new UsageError(e.message);
    throw e;
  }
  const matrixMetrics = int('matrix-metrics', v['matrix-metrics'], 100, 1);
  const matrix = {
    enabled: Boolean(v.matrix) || v.cell !== undefined,
    list: Boolean(v['list-cells']),
    cells,
    cfg: {
      points: int('matrix-points', v['matrix-points'], 50_000, matrixMetrics),
      singlePoints: int('matrix-single-points', v['matrix-single-points'], 5_000, matrixMetrics),
      metrics: matrixMetrics,
      reads: int('matrix-reads', v['matrix-reads'], 20, 0),
      createMetrics: int('matrix-create', v['matrix-create'], 500, 0),
      seriesPoints: sizeList('matrix-series-points', v['matrix-series-points'], [10_000, 100_000]),
      seriesReads: int('matrix-series-reads', v['matrix-series-reads'], 21, 1),
      aggregateMetrics: sizeList('matrix-aggregate-metrics', v['matrix-aggregate-metrics'], [10, 100]),
      aggregatePoints: int('matrix-aggregate-points', v['matrix-aggregate-points'], 1000, 1),
      aggregateReads: int('matrix-aggregate-reads', v['matrix-aggregate-reads'], 21, 1),
      processingReps: int('matrix-processing-reps', v['matrix-processing-reps'], 3, 0),
      drainTimeoutS: workload.drainTimeoutS,
      stallS: int('matrix-stall', v['matrix-stall'], 60, 1),
      seed: workload.seed,
      user,
      password,
    },
  };
  if (matrix.enabled && v.target !== undefined) throw new UsageError('--matrix starts its own servers (cold cells need a fresh one): drop --target');
  if (scenario === 'alarms' && (v.target !== undefined || v['vs-reference'])) throw new UsageError('--scenario alarms starts its own Tally and Aodh: drop --target and --vs-reference');
  if (scenario === 'agent' && (v.target !== undefined || v['vs-reference'])) throw new UsageError('--scenario agent starts its own Tally for each agent: drop --target and --vs-reference');
  return {
    scenario,
    matrix,
    noisy,
    creation,
    alarms: alarmBenchConfig(v, int, REPO_ROOT),
    agent: agentBenchConfig(v, int, REPO_ROOT),
    rating: ratingBenchConfig(v, int, workload.seed),
    targetUrl: v.target ?? null,
    dataDir: v['data-dir'] ?? null,
    pid: v.pid === undefined ? null : int('pid', v.pid, 0, 1),
    // No target named: Tally alone. --vs-reference alone: Tally and the reference.
    startTally: Boolean(v['start-tally']) || !v.target,
    vsReference: Boolean(v['vs-reference']),
    runs: int('runs', v.runs, 1, 1),
    json: v.json ?? null,
    workload,
    start: {
      tallyBin: v['tally-bin'] ?? `${REPO_ROOT}bin/tally`,
      tallyMetricdWorkers: int('tally-metricd-workers', v['tally-metricd-workers'], 2, 1),
      referenceScript: v['reference-script'] ?? `${REPO_ROOT}../shared/reference/gnocchi-server.sh`,
      user,
      password,
      keepData: Boolean(v['keep-data']),
      readyTimeoutMs: 180_000,
      onLog: log,
    },
  };
}

type TargetSpec = { name: string; open: () => Promise<Target> };

function targetSpecs(o: Options): TargetSpec[] {
  const specs: TargetSpec[] = [];
  const url = o.targetUrl;
  if (url !== null) specs.push({ name: 'target', open: async () => externalTarget(url, o.dataDir, o.pid) });
  if (o.startTally) specs.push({ name: 'tally', open: () => startTally(o.start) });
  if (o.vsReference) specs.push({ name: 'gnocchi', open: () => startGnocchi(o.start) });
  return specs;
}

/** A scenario run target by target: one target's run, its figures, and its settings as the JSON records them. */
interface TargetScenario {
  run: (target: Target, progress: Progress, memory: MemorySampler | null) => Promise<RunResult>;
  defs: FigureDef[];
  workload: object;
}

function targetScenario(o: Options): TargetScenario {
  switch (o.scenario) {
    case 'noisy-neighbour':
      return { run: (t, p) => runNoisyNeighbour(t, o.noisy, p), defs: NOISY_FIGURES, workload: { scenario: o.scenario, ...o.noisy } };
    case 'creation':
      return { run: (t, p) => runCreationCurve(t, o.creation, p), defs: creationCurveFigures(o.creation), workload: { scenario: o.scenario, ...o.creation } };
    default:
      return { run: (t, p, m) => runWorkload(t, o.workload, p, m), defs: figureDefs(o.workload.datasets, o.workload.scale), workload: o.workload };
  }
}

export async function main(argv: string[]): Promise<number> {
  const progress = new Progress();
  let opts: Options | 'help';
  try {
    opts = parseOptions(argv, (m) => progress.log(m));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = opts;
  if (o.matrix.list) {
    process.stdout.write(`${listCells()}`);
    return 0;
  }
  if (o.matrix.enabled) return matrixMain(o, argv, progress);
  if (o.scenario === 'alarms') return alarmsMain(o, argv, progress);
  if (o.scenario === 'agent') return agentMain(o, argv, progress);
  if (o.scenario === 'rating') return ratingMain(o, argv, progress);
  const specs = targetSpecs(o);
  const scenario = targetScenario(o);
  const results = new Map<string, { url: string[]; runs: RunResult[] }>(specs.map((s) => [s.name, { url: [], runs: [] }]));

  let current: Target | null = null;
  const unguard = stopOnSignal(progress, () => current);

  const started = Date.now();
  for (let run = 0; run < o.runs; run++) {
    // Alternate the order on successive runs so that drift of the shared machine does not
    // always favour the same target.
    const order = run % 2 === 0 ? specs : [...specs].reverse();
    for (const spec of order) {
      const p = progress.withPrefix(`[${spec.name}${o.runs > 1 ? ` ${run + 1}/${o.runs}` : ''}] `);
      let target: Target;
      try {
        target = await spec.open();
      } catch (e) {
        p.log(`could not start: ${(e as Error).message}`);
        results.get(spec.name)?.runs.push({ figures: {}, notes: [], details: {}, error: (e as Error).message });
        continue;
      }
      current = target;
      const memory = target.pid !== null ? new MemorySampler(target.pid) : null;
      memory?.start();
      let res: RunResult;
      try {
        res = await scenario.run(target, p, memory);
      } finally {
        memory?.stop();
        await target.stop();
        current = null;
      }
      const entry = results.get(spec.name);
      entry?.url.push(target.url);
      entry?.runs.push(res);
    }
  }
  unguard();

  const defs = scenario.defs;
  const keys = defs.map((d) => d.key);
  const cols = specs.map((s) => ({ name: s.name, values: medians(results.get(s.name)?.runs.map((r) => r.figures) ?? [], keys) }));
  process.stdout.write(`\n${renderTable(defs, cols, o.runs)}`);
  let failed = false;
  for (const s of specs) {
    const runs = results.get(s.name)?.runs ?? [];
    const notes = [...new Set(runs.flatMap((r) => r.notes))];
    const errors = runs.map((r, i) => (r.error ? `run ${i + 1}: ${r.error}` : null)).filter((x): x is string => x !== null);
    if (errors.length) failed = true;
    for (const n of [...notes, ...errors]) process.stdout.write(`${s.name}: ${n}\n`);
  }
  process.stdout.write(`total time ${((Date.now() - started) / 1000).toFixed(0)} s\n`);

  if (o.json) {
    const tally = cols.find((c) => c.name === 'tally');
    const gnocchi = cols.find((c) => c.name === 'gnocchi');
    const ratios: Record<string, number | null> = {};
    if (tally && gnocchi) for (const d of defs) ratios[d.key] = ratio(d, tally.values[d.key] ?? null, gnocchi.values[d.key] ?? null);
    const doc = {
      command: ['tally bench', ...argv].join(' '),
      date: new Date().toISOString(),
      machine: { host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? null, memoryBytes: totalmem(), node: process.version },
      workload: scenario.workload,
      figures: defs,
      ratioNote: 'ratio > 1 means Tally is better: Tally/Gnocchi for higher-is-better figures, Gnocchi/Tally otherwise',
      targets: Object.fromEntries(specs.map((s, i) => [s.name, { urls: results.get(s.name)?.url, median: cols[i].values, runs: results.get(s.name)?.runs }])),
      ratios,
    };
    writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(`JSON written to ${o.json}\n`);
  }
  return failed ? 1 : 0;
}

async function alarmsMain(o: Options, argv: string[], progress: Progress): Promise<number> {
  const started = Date.now();
  const figures = await runAlarmBench(o.start, o.alarms, progress);
  process.stdout.write(`\n${renderAlarmFigures(figures, o.alarms)}total time ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  if (o.json) {
    const doc = {
      command: ['tally bench', ...argv].join(' '),
      date: new Date().toISOString(),
      machine: { host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? null, memoryBytes: totalmem(), node: process.version },
      alarms: o.alarms,
      figures,
    };
    writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(`JSON written to ${o.json}\n`);
  }
  return figures.notes.length > 0 ? 1 : 0;
}

async function ratingMain(o: Options, argv: string[], progress: Progress): Promise<number> {
  const figures = await runRatingBench(o.rating, REPO_ROOT, progress);
  process.stdout.write(`\n${renderRatingFigures(figures)}`);
  if (o.json) {
    const doc = {
      command: ['tally bench', ...argv].join(' '),
      date: new Date().toISOString(),
      machine: { host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? null, memoryBytes: totalmem(), node: process.version },
      figures,
    };
    writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(`JSON written to ${o.json}\n`);
  }
  return figures.differentPeriods > 0 ? 1 : 0;
}

async function agentMain(o: Options, argv: string[], progress: Progress): Promise<number> {
  const started = Date.now();
  const result = await runAgentBench(o.start, o.agent, progress);
  process.stdout.write(`\n${renderAgentFigures(result)}total time ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  if (o.json) {
    const doc = {
      command: ['tally bench', ...argv].join(' '),
      date: new Date().toISOString(),
      machine: { host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? null, memoryBytes: totalmem(), node: process.version },
      agent: o.agent,
      result,
    };
    writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(`JSON written to ${o.json}\n`);
  }
  return result.notes.length > 0 || result.sides.length === 0 ? 1 : 0;
}

function listCells(): string {
  const lines = allCells().map((c) => c.name);
  lines.push('', 'policies:', ...Object.entries(POLICY_HELP).map(([k, h]) => `  ${k.padEnd(10)} ${h}`));
  lines.push('shapes:', ...Object.entries(SHAPE_HELP).map(([k, h]) => `  ${k.padEnd(10)} ${h}`));
  lines.push('states:', ...Object.entries(STATE_HELP).map(([k, h]) => `  ${k.padEnd(10)} ${h}`));
  return `${lines.join('\n')}\n`;
}

/**
 * Stops the server `running()` names on Ctrl-C (or SIGTERM) rather than leaving it, and
 * its database, behind; returns the function that removes the handlers.
 */
function stopOnSignal(progress: Progress, running: () => Target | null): () => void {
  const onSignal = (sig: NodeJS.Signals): void => {
    progress.log(`${sig}: stopping`);
    const t = running();
    void (t ? t.stop() : Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

async function matrixMain(o: Options, argv: string[], progress: Progress): Promise<number> {
  const specs: MatrixTargetSpec[] = [{ name: 'tally', open: () => startTally(o.start) }];
  if (o.vsReference) specs.push({ name: 'gnocchi', open: () => startGnocchi(o.start) });
  let current: Target | null = null;
  const unguard = stopOnSignal(progress, () => current);
  const started = Date.now();
  const { rows, policies, notes } = await runMatrix(specs, o.matrix.cells, o.matrix.cfg, progress, (t) => { current = t; });
  unguard();
  const sizes = { seriesPoints: o.matrix.cfg.seriesPoints, aggregateMetrics: o.matrix.cfg.aggregateMetrics };
  const summary = matrixSummary(rows, policies, sizes);
  process.stdout.write(`\n${renderMatrix(rows)}\n${renderPolicies(policies, sizes)}\n${renderMemory(rows)}\n${renderSummary(summary)}`);
  for (const n of notes) process.stdout.write(`${n}\n`);
  process.stdout.write(`${o.matrix.cells.length} cell(s), total time ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  if (o.json) {
    const doc = {
      command: ['tally bench', ...argv].join(' '),
      date: new Date().toISOString(),
      machine: { host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? null, memoryBytes: totalmem(), node: process.version },
      matrix: o.matrix.cfg,
      ratioNote: 'ratio > 1 means Tally is better: Tally/Gnocchi for rates, Gnocchi/Tally for latencies, memory and bytes; processing: engine / baseline',
      cells: withRatios(rows, MATRIX_FIGURES),
      policies: policies.map((p) => ({ policy: p.policy, processing: p.processing, ...withRatios([p.figures], policyFigureDefs(sizes))[0],
        reads: withRatios(p.reads, readFigureDefs(sizes)) })),
      memory: runPeak(rows),
      summary,
      notes,
    };
    writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(`JSON written to ${o.json}\n`);
  }
  return notes.length > 0 ? 1 : 0;
}
