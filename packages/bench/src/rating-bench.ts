// The rating scenario (`--scenario rating`): the time to rate hours of hourly usage for N
// projects and M virtual machines (3 metrics each: instance-hours by flavor, disk, memory),
// Tally's rating (reading Tally in process, rating, storing in its index database) against
// Debian's CloudKitty 17 processor on the same Tally, metrics.yml and rules
// (scripts/cloudkitty-processor-run: PostgreSQL database, one worker). The totals of both are
// compared too: a benchmark of two raters that disagree would mean nothing.
import { loadavg } from 'node:os';
import { compareTotals } from './rating-compare.js';
import { openRatingStack, rateWithCloudKitty, rateWithTally, tallyTotals } from './rating-stack.js';
import type { Progress } from './progress.js';
import { DEFAULT_BATCH_PERIODS } from '@tally/rating';

export interface RatingBenchConfig {
  projects: number;
  resources: number;
  hours: number;
  /** Also run CloudKitty (the ratio); without it only Tally's time is measured. */
  cloudkitty: boolean;
  cloudkittyWorkers: number;
  /** Periods of one scope Tally's processor reads and writes at once. */
  batchPeriods: number;
  cloudkittyTimeoutS: number;
  seed: number;
}

export const RATING_BENCH_OPTIONS = {
  'rating-projects': { type: 'string' }, 'rating-resources': { type: 'string' }, 'rating-hours': { type: 'string' },
  'rating-no-cloudkitty': { type: 'boolean' }, 'rating-batch': { type: 'string' }, 'cloudkitty-workers': { type: 'string' }, 'cloudkitty-timeout': { type: 'string' },
} as const;

export const RATING_BENCH_HELP = `Rating (--scenario rating; Tally's rating against Debian's CloudKitty 17 processor on one Tally in process):
  --rating-projects N      projects (1000, the issue's size; run smaller here)
  --rating-resources N     VMs with 3 rated metrics each, round robin over the projects (100000)
  --rating-hours N         hours of hourly usage rated, ending at the last hour boundary (720: a month)
  --rating-no-cloudkitty   time Tally's rating only
  --rating-batch N         periods Tally reads and writes at once (168, as a pass over a backlog; 1: hour by
                           hour, as a processor keeping up rates each period when it is over)
  --cloudkitty-workers N   cloudkitty-processor workers (1, as Tally's one rating loop)
  --cloudkitty-timeout S   longest CloudKitty run (3600)
`;

type Raw = Partial<Record<keyof typeof RATING_BENCH_OPTIONS, string | boolean>>;

export function ratingBenchConfig(v: Raw, int: (name: string, raw: string | undefined, dflt: number, min?: number) => number, seed: number): RatingBenchConfig {
  const s = (k: keyof typeof RATING_BENCH_OPTIONS): string | undefined => (typeof v[k] === 'string' ? v[k] : undefined);
  return {
    projects: int('rating-projects', s('rating-projects'), 1000, 1),
    resources: int('rating-resources', s('rating-resources'), 100_000, 1),
    hours: int('rating-hours', s('rating-hours'), 720, 1),
    cloudkitty: v['rating-no-cloudkitty'] !== true,
    batchPeriods: int('rating-batch', s('rating-batch'), DEFAULT_BATCH_PERIODS, 1),
    cloudkittyWorkers: int('cloudkitty-workers', s('cloudkitty-workers'), 1, 1),
    cloudkittyTimeoutS: int('cloudkitty-timeout', s('cloudkitty-timeout'), 3600, 1),
    seed,
  };
}

export interface RatingFigures {
  config: RatingBenchConfig;
  measures: number;
  /** Generating the usage, posting it and processing it (not rating). */
  seedS: number;
  scopePeriods: number;
  /** Rated points (usage points of all scope-periods). */
  points: number;
  tallyS: number;
  /** CPU time of this process (all its threads) while Tally rated: what the load did not inflate. */
  tallyCpuS: number;
  /** One-minute load averages when Tally's rating started and ended (the machine is shared). */
  tallyLoad: [number, number];
  cloudkittyS: number | null;
  /** One-minute load averages when CloudKitty's run started and ended. */
  cloudkittyLoad: [number, number] | null;
  cloudkittyStartupS: number | null;
  /** CloudKitty's time without its start-up, over Tally's. */
  ratio: number | null;
  comparedPeriods: number;
  differentPeriods: number;
}

export async function runRatingBench(cfg: RatingBenchConfig, repoRoot: string, progress: Progress): Promise<RatingFigures> {
  progress.log(`rating: generating ${cfg.projects} projects, ${cfg.resources} VMs, ${cfg.hours} h of usage`);
  const t0 = process.hrtime.bigint();
  const stack = await openRatingStack(cfg, (m) => progress.log(`rating: ${m}`));
  const seedS = Number(process.hrtime.bigint() - t0) / 1e9;
  try {
    progress.log('rating: Tally rating every project-period');
    const load0 = loadavg()[0];
    const cpu0 = process.cpuUsage();
    const tallyS = await rateWithTally(stack, cfg.batchPeriods);
    const cpu = process.cpuUsage(cpu0);
    const tallyLoad: [number, number] = [load0, loadavg()[0]];
    const tally = await tallyTotals(stack);
    let points = 0;
    for (const per of tally.values()) for (const c of per.values()) points += c.points;
    const figures: RatingFigures = {
      config: cfg, measures: stack.measures, seedS, scopePeriods: stack.scopes.length * cfg.hours, points, tallyS,
      tallyCpuS: (cpu.user + cpu.system) / 1e6, tallyLoad, cloudkittyS: null, cloudkittyLoad: null, cloudkittyStartupS: null, ratio: null, comparedPeriods: 0, differentPeriods: 0,
    };
    progress.log(`rating: Tally ${tallyS.toFixed(2)} s`);
    if (cfg.cloudkitty) {
      progress.log('rating: CloudKitty processor rating the same project-periods');
      const ckLoad0 = loadavg()[0];
      const ck = await rateWithCloudKitty(stack, repoRoot, { workers: cfg.cloudkittyWorkers, timeoutS: cfg.cloudkittyTimeoutS, log: (m) => progress.log(m) });
      figures.cloudkittyLoad = [ckLoad0, loadavg()[0]];
      const rows = compareTotals(tally, ck.totals);
      figures.cloudkittyS = ck.elapsedS;
      figures.cloudkittyStartupS = ck.startupS;
      figures.ratio = (ck.elapsedS - (ck.startupS ?? 0)) / tallyS;
      figures.comparedPeriods = rows.length;
      figures.differentPeriods = rows.filter((r) => !r.same).length;
    }
    return figures;
  } finally {
    await stack.close();
  }
}

/** The figures, and what the issue's size would take at the same rate per project-period (a linear extrapolation, said as such). */
export function renderRatingFigures(f: RatingFigures): string {
  const c = f.config;
  const load = ([a, b]: [number, number]): string => `${a.toFixed(1)} -> ${b.toFixed(1)}`;
  const perPeriodMs = (s: number): string => `${((s * 1000) / f.scopePeriods).toFixed(2)} ms`;
  const issuePeriods = 1000 * 720;
  const lines = [
    `rating ${c.projects} projects x ${c.hours} h (${f.scopePeriods} project-periods), ${c.resources} VMs, ${f.points} rated points, ${f.measures} measures`,
    `  seeding (generate, post, process; not rating) ${f.seedS.toFixed(2)} s`,
    `  Tally (read in process + rate + store, batches of ${c.batchPeriods} periods)   ${f.tallyS.toFixed(2)} s   ${perPeriodMs(f.tallyS)} per project-period (CPU ${f.tallyCpuS.toFixed(2)} s; load average ${load(f.tallyLoad)})`,
  ];
  if (f.cloudkittyS !== null) {
    const net = f.cloudkittyS - (f.cloudkittyStartupS ?? 0);
    lines.push(`  CloudKitty 17 processor (${c.cloudkittyWorkers} worker)      ${f.cloudkittyS.toFixed(2)} s   (start-up ${f.cloudkittyStartupS?.toFixed(2) ?? '?'} s; without it ${net.toFixed(2)} s, ${perPeriodMs(net)} per project-period; load average ${f.cloudkittyLoad === null ? '?' : load(f.cloudkittyLoad)})`);
    lines.push(`  ratio CloudKitty / Tally                 ${f.ratio?.toFixed(1)}x (target >= 20x)`);
    lines.push(`  totals compared: ${f.comparedPeriods} project-periods, ${f.differentPeriods} different`);
  }
  lines.push(`  linear extrapolation to 1000 projects x 720 h at ${(c.resources / c.projects).toFixed(0)} VMs per project (not measured): Tally ${((f.tallyS / f.scopePeriods) * issuePeriods / 60).toFixed(0)} min` +
    (f.cloudkittyS !== null ? `, CloudKitty ${(((f.cloudkittyS - (f.cloudkittyStartupS ?? 0)) / f.scopePeriods) * issuePeriods / 60).toFixed(0)} min` : ''));
  return `${lines.join('\n')}\n`;
}
