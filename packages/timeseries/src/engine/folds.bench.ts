// Processing in the shape the endpoint bench's matrix gives it: many metrics, each folded a
// few hundred points at a time, from a new metric on (its first fold creates every split
// and the state) to steady folds that append to open splits.
// Run: node packages/timeseries/dist/engine/folds.bench.js [folds=4] [metrics=100] [points per fold=400]
// Prints, per policy of the matrix, the best of many rounds (a round folds every metric
// from nothing), the rate in points per second, the time of each fold index summed over
// the metrics in that round, and the one-pass baseline (baseline.ts) over the same points
// with its ratio: how far the engine is from what the arithmetic needs.
import { parseTimespan } from '../time.js';
import type { ArchivePolicy } from '../policy.js';
import { processMeasures } from './process.js';
import { baselineAggregate } from './baseline.js';
import type { Measures } from './series.js';

const [folds = 4, metricCount = 100, perFold = 400] = process.argv.slice(2).map(Number);
const ROUNDS = 30;
const SIX = ['mean', 'min', 'max', 'sum', 'std', 'count'];

function policy(methods: string[], items: [string, number][]): ArchivePolicy {
  return {
    name: 'bench',
    backWindow: 0,
    aggregationMethods: methods,
    definition: items.map(([g, points]) => {
      const granularity = parseTimespan(g);
      return { granularity, points, timespan: granularity * BigInt(points) };
    }),
  };
}

// The matrix's policies (packages/bench/src/cells.ts).
const policies: [string, ArchivePolicy][] = [
  ['mean', policy(['mean'], [['1s', 86_400]])],
  ['medium', policy(SIX, [['60s', 10_080], ['3600s', 8_760]])],
  ['high', policy(SIX, [['1s', 3_600], ['60s', 10_080], ['3600s', 8_760]])],
  ['custom6x3', policy(SIX, [['1s', 86_400], ['60s', 10_080], ['3600s', 8_760]])],
  ['rate95', policy(['rate:mean', '95pct'], [['1s', 86_400], ['60s', 10_080]])],
];

/** A 3-decimal random walk at 1 s per metric, cut into folds. */
function metrics(): Measures[][] {
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const t0 = 1_704_067_200;
  return Array.from({ length: metricCount }, () => {
    let x = 100;
    return Array.from({ length: folds }, (_, f) => {
      const ts = new BigInt64Array(perFold);
      const values = new Float64Array(perFold);
      for (let i = 0; i < perFold; i++) {
        ts[i] = BigInt(t0 + f * perFold + i) * 1_000_000_000n;
        x = Math.round((x + rnd() - 0.5) * 1000) / 1000;
        values[i] = x;
      }
      return { ts, values };
    });
  });
}

async function round(p: ArchivePolicy, data: Measures[][], perIndex: Float64Array): Promise<number> {
  perIndex.fill(0);
  const t0 = performance.now();
  for (const metric of data) {
    let state: Uint8Array | null = null;
    const splits = new Map<string, Uint8Array>();
    const readSplit = async (k: string): Promise<Uint8Array | null> => splits.get(k) ?? null;
    for (let f = 0; f < metric.length; f++) {
      const s = performance.now();
      const r = await processMeasures(p, state, metric[f], readSplit);
      state = r.state;
      for (const k of r.del) splits.delete(k);
      for (const [k, b] of r.put) splits.set(k, b);
      perIndex[f] += performance.now() - s;
    }
  }
  return performance.now() - t0;
}

function baselineRound(p: ArchivePolicy, data: Measures[][]): number {
  const gs = p.definition.map((d) => Number(d.granularity) / 1e9);
  const whole = data.map((metric) => {
    const n = metric.length * perFold;
    const seconds = new Float64Array(n);
    const values = new Float64Array(n);
    metric.forEach((m, f) => {
      for (let i = 0; i < perFold; i++) seconds[f * perFold + i] = Number(m.ts[i] / 1_000_000_000n);
      values.set(m.values, f * perFold);
    });
    return { seconds, values };
  });
  let sink = 0;
  const t0 = performance.now();
  for (const m of whole) for (const s of baselineAggregate(m.seconds, m.values, p.aggregationMethods, gs)) sink += s.values.length;
  const ms = performance.now() - t0;
  if (sink < 0) throw new Error('unreachable: keeps the results alive');
  return ms;
}

const data = metrics();
const points = metricCount * folds * perFold;
console.log(`${metricCount} metrics x ${folds} folds of ${perFold} points, best of ${ROUNDS} rounds`);
console.log(`${'policy'.padEnd(10)} ${'engine ms'.padStart(9)} ${'M pts/s'.padStart(8)} ${'baseline'.padStart(9)} ${'ratio'.padStart(6)}  ms per fold index`);
for (const [name, p] of policies) {
  const perIndex = new Float64Array(folds);
  const best = new Float64Array(folds);
  let bestMs = Infinity;
  let baseMs = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const ms = await round(p, data, perIndex);
    if (ms < bestMs) {
      bestMs = ms;
      best.set(perIndex);
    }
    baseMs = Math.min(baseMs, baselineRound(p, data));
  }
  console.log(
    `${name.padEnd(10)} ${bestMs.toFixed(1).padStart(9)} ${(points / bestMs / 1000).toFixed(2).padStart(8)} ${baseMs.toFixed(1).padStart(9)} ${(baseMs / bestMs).toFixed(3).padStart(6)}  ${[...best].map((x) => x.toFixed(1)).join(' ')}`,
  );
}
