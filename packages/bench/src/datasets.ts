// Synthetic series, pre-rendered as JSON text. Bodies of batch requests are assembled
// by concatenating these fragments, so that building a request costs the bench almost no
// CPU: the bench shares the machine's two cores with the target it measures.

export const DATASETS = ['walk3', 'constant', 'noise', 'counter'] as const;
export type Dataset = (typeof DATASETS)[number];

export const DATASET_HELP: Record<Dataset, string> = {
  walk3: 'regular 1 s random walk, values with 3 decimal digits (gaussian steps, sd 0.5: ~11 bits/point)',
  constant: 'the same value (42) at every point',
  noise: 'uniform random doubles in [0, 100) with full 53-bit mantissas (incompressible)',
  counter: 'monotonic integer counter, increments uniform in [0, 1000)',
};

export function isDataset(s: string): s is Dataset {
  return (DATASETS as readonly string[]).includes(s);
}

/** xorshift32: deterministic, seedable, fast enough to generate millions of values. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }
  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }
  /** Standard normal (Box-Muller). */
  gauss(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }
}

/** `points` values of one series of the dataset. */
export function generate(kind: Dataset, points: number, rng: Rng): Float64Array {
  const out = new Float64Array(points);
  switch (kind) {
    case 'walk3': {
      // Walk in integer thousandths so that every value has at most 3 decimal digits.
      let v = 1_000_000;
      for (let i = 0; i < points; i++) {
        out[i] = v / 1000;
        v += Math.round(rng.gauss() * 500);
      }
      break;
    }
    case 'constant':
      out.fill(42);
      break;
    case 'noise':
      for (let i = 0; i < points; i++) out[i] = rng.float() * 100;
      break;
    case 'counter': {
      let v = 0;
      for (let i = 0; i < points; i++) {
        out[i] = v;
        v += Math.floor(rng.float() * 1000);
      }
      break;
    }
  }
  return out;
}

/** Naive ISO 8601 (UTC) as Gnocchi and Tally both accept: "2024-01-01T00:00:00". */
export function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 19);
}

export interface SeriesText {
  readonly dataset: Dataset;
  readonly points: number;
  readonly perRequest: number;
  /** Number of time windows of `perRequest` measures (the last may be shorter). */
  readonly windows: number;
  readonly variants: number;
  /** frag[window][variant]: the JSON array of measures of that window. */
  readonly frag: string[][];
}

/**
 * Renders `variants` different series of `points` measures at 1 s starting at
 * `startSec`, cut in windows of `perRequest` measures. Metric i uses variant i % variants:
 * each metric still gets a genuine series of the dataset, at a bounded rendering cost.
 */
export function renderSeries(kind: Dataset, opts: { points: number; startSec: number; perRequest: number; variants: number; seed: number }): SeriesText {
  const { points, startSec, perRequest, variants, seed } = opts;
  const windows = Math.ceil(points / perRequest);
  const stamps = new Array<string>(points);
  for (let i = 0; i < points; i++) stamps[i] = `{"timestamp":"${isoSeconds(startSec + i)}","value":`;
  const frag: string[][] = Array.from({ length: windows }, () => new Array<string>(variants));
  for (let v = 0; v < variants; v++) {
    const values = generate(kind, points, new Rng(seed * 7919 + v + 1));
    for (let w = 0; w < windows; w++) {
      const parts: string[] = [];
      for (let i = w * perRequest; i < Math.min(points, (w + 1) * perRequest); i++) parts.push(`${stamps[i]}${values[i]}}`);
      frag[w][v] = `[${parts.join(',')}]`;
    }
  }
  return { dataset: kind, points, perRequest, windows, variants, frag };
}

/** The body of POST /v1/batch/metrics/measures for these metrics and one window. */
export function batchBody(series: SeriesText, window: number, metrics: ReadonlyArray<{ id: string; index: number }>): string {
  const parts = new Array<string>(metrics.length);
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i];
    parts[i] = `"${m.id}":${series.frag[window][m.index % series.variants]}`;
  }
  return `{${parts.join(',')}}`;
}
