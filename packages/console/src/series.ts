// Measures as the API answers them ([timestamp, granularity, value] triples) turned into
// the columnar form uPlot draws without a per-point object: one Float64Array of times in
// seconds, one per series of values.

export type Point = [string, number | string, number];

export interface Series {
  name: string;
  /** Seconds since the epoch. */
  x: Float64Array;
  y: Float64Array;
}

/** The points of one granularity (seconds, or a calendar grouping name), in columns. */
export function columns(name: string, points: readonly Point[], granularity?: number | string): Series {
  const kept = granularity === undefined ? points : points.filter((p) => p[1] === granularity);
  const x = new Float64Array(kept.length);
  const y = new Float64Array(kept.length);
  for (let i = 0; i < kept.length; i++) {
    x[i] = Date.parse(kept[i][0]) / 1000;
    y[i] = kept[i][2];
  }
  return { name, x, y };
}

/** Granularities present in an answer, finest first. */
export function granularities(points: readonly Point[]): Array<number | string> {
  const seen = [...new Set(points.map((p) => p[1]))];
  return seen.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));
}

export interface Aligned {
  x: Float64Array;
  /** Typed arrays when every series has the shared axis; arrays with null gaps otherwise. */
  ys: Array<Float64Array | Array<number | null>>;
}

/** Series on one time axis: the union of their times, in order. */
export function align(series: readonly Series[]): Aligned {
  if (series.length === 0) return { x: new Float64Array(0), ys: [] };
  const first = series[0].x;
  const same = series.every((s) => s.x.length === first.length && s.x.every((t, i) => t === first[i]));
  if (same) return { x: first, ys: series.map((s) => s.y) };
  const all = new Float64Array(series.reduce((n, s) => n + s.x.length, 0));
  let k = 0;
  for (const s of series) { all.set(s.x, k); k += s.x.length; }
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i];
  const x = all.slice(0, n);
  const ys = series.map((s) => {
    const out: Array<number | null> = new Array<number | null>(n).fill(null);
    let j = 0;
    for (let i = 0; i < s.x.length; i++) {
      while (x[j] < s.x[i]) j++;
      out[j] = s.y[i];
    }
    return out;
  });
  return { x, ys };
}

function isPoint(v: unknown): v is Point {
  return Array.isArray(v) && v.length === 3 && typeof v[0] === 'string' && typeof v[2] === 'number';
}

/**
 * Every series in an answer of POST /v1/aggregates, named by its path: {"measures":
 * {"aggregated": [...]}}, {"measures": {metric: {aggregation: [...]}}}, or with groupby a
 * list of {"group": {...}, "measures": {...}} (the group's attributes name the series).
 */
export function aggregateSeries(answer: unknown): Array<{ name: string; points: Point[] }> {
  const out: Array<{ name: string; points: Point[] }> = [];
  const walk = (v: unknown, path: string[]): void => {
    if (Array.isArray(v) && (v.length === 0 || v.every(isPoint))) {
      out.push({ name: path.join(' / ') || 'aggregated', points: v as Point[] });
    } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, child] of Object.entries(v)) walk(child, k === 'measures' || k === 'aggregated' ? path : [...path, k]);
    }
  };
  if (Array.isArray(answer)) {
    for (const g of answer as Array<{ group?: Record<string, unknown>; measures?: unknown }>) {
      const label = Object.entries(g.group ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(', ');
      walk(g.measures, [label]);
    }
  } else {
    walk(answer, []);
  }
  return out;
}

export type Operations = Array<string | Operations>;

/**
 * The operations of POST /v1/aggregates for metrics (ids, or names over resources), in the
 * list form Gnocchi accepts beside the string form: names need no quoting there.
 */
export function buildOperations(metrics: readonly string[], aggregation: string, reduce: string): Operations {
  const inner: Operations = metrics.length === 1
    ? ['metric', metrics[0], aggregation]
    : ['metric', ...metrics.map((m): Operations => [m, aggregation])];
  return reduce ? ['aggregate', reduce, inner] : inner;
}
