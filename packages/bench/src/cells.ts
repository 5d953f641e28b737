// The cells of the matrix (archive policy x request shape x server state), their stable
// names, selection by name, and the worst/best ratio summary. Pure: unit-tested apart
// from the servers.
import { ratio, type FigureDef } from './report.js';
import type { Figures } from './workload.js';

export const MATRIX_POLICIES = ['mean', 'medium', 'high', 'custom6x3', 'rate95'] as const;
export const MATRIX_SHAPES = ['single', 'batch10k', 'batch100k', 'promwrite', 'influx'] as const;
export const MATRIX_STATES = ['cold', 'warm'] as const;
export type MatrixPolicy = (typeof MATRIX_POLICIES)[number];
export type MatrixShape = (typeof MATRIX_SHAPES)[number];
export type MatrixState = (typeof MATRIX_STATES)[number];

export interface Cell {
  /** policy/shape/state, e.g. medium/batch10k/warm. */
  readonly name: string;
  readonly policy: MatrixPolicy;
  readonly shape: MatrixShape;
  readonly state: MatrixState;
}

export const POLICY_HELP: Record<MatrixPolicy, string> = {
  mean: 'mean at 1 s for a day',
  medium: "Gnocchi's medium: 6 default methods, 1 min x 7 days + 1 h x 365 days",
  high: "Gnocchi's high: 6 default methods, 1 s x 1 h + 1 min x 7 days + 1 h x 365 days",
  custom6x3: 'mean min max sum std count at 1 s x 1 day, 1 min x 7 days, 1 h x 365 days',
  rate95: 'rate:mean and 95pct at 1 s x 1 day and 1 min x 7 days',
};

export const SHAPE_HELP: Record<MatrixShape, string> = {
  single: 'POST /v1/metric/ID/measures with 1-10 measures, 32 clients',
  batch10k: 'POST /v1/batch/metrics/measures, 25 metrics x 400 measures, 4 clients',
  batch100k: 'POST /v1/batch/metrics/measures, 100 metrics x 1 000 measures, 1 client',
  promwrite: 'POST /v1/prometheus/write, snappy protobuf, 25 series x 400 samples, 4 clients',
  influx: 'POST /v1/influxdb/write, line protocol, 400 lines of 25 fields, 4 clients',
};

export const STATE_HELP: Record<MatrixState, string> = {
  cold: 'a fresh server: the first ingest after start (only the policy and metrics created before)',
  warm: 'the same server after an untimed ingest of the same size, backlog drained',
};

export function allCells(): Cell[] {
  const out: Cell[] = [];
  for (const policy of MATRIX_POLICIES) {
    for (const shape of MATRIX_SHAPES) {
      for (const state of MATRIX_STATES) out.push({ name: `${policy}/${shape}/${state}`, policy, shape, state });
    }
  }
  return out;
}

export class CellSelectionError extends Error {}

/**
 * The cells named, in matrix order, each once. A name is policy/shape/state where any
 * part may be `*` (every policy, shape or state); an empty list selects every cell.
 */
export function selectCells(patterns: readonly string[]): Cell[] {
  const cells = allCells();
  if (patterns.length === 0) return cells;
  const chosen = new Set<string>();
  for (const p of patterns) {
    const parts = p.split('/');
    if (parts.length !== 3) throw new CellSelectionError(`--cell: '${p}' is not policy/shape/state (see --list-cells)`);
    const hits = cells.filter((c) => [c.policy, c.shape, c.state].every((v, i) => parts[i] === '*' || parts[i] === v));
    if (hits.length === 0) throw new CellSelectionError(`--cell: no cell named '${p}' (see --list-cells)`);
    for (const h of hits) chosen.add(h.name);
  }
  return cells.filter((c) => chosen.has(c.name));
}

/** Cells sharing a server: one fresh server per policy and shape, cold measured first. */
export function groupCells(cells: readonly Cell[]): { policy: MatrixPolicy; shape: MatrixShape; states: MatrixState[] }[] {
  const groups = new Map<string, { policy: MatrixPolicy; shape: MatrixShape; states: MatrixState[] }>();
  for (const c of cells) {
    const key = `${c.policy}/${c.shape}`;
    const g = groups.get(key) ?? { policy: c.policy, shape: c.shape, states: [] };
    g.states.push(c.state);
    groups.set(key, g);
  }
  return [...groups.values()];
}

export const MATRIX_FIGURES: FigureDef[] = [
  { key: 'ack_rate', label: 'ingest acknowledged', unit: 'measures/s', better: 'higher', digits: 0 },
  { key: 'e2e_rate', label: 'ingest end to end', unit: 'measures/s', better: 'higher', digits: 0 },
  { key: 'read_p50', label: 'read one series p50', unit: 'ms', better: 'lower', digits: 2 },
  // Creation is timed once per server: a cold cell holds the first creations after start,
  // a warm cell those after an untimed warm-up of as many.
  { key: 'create_rate', label: 'metric creation, 8 clients', unit: 'metrics/s', better: 'higher', digits: 1 },
  // The peak of the server that measured the cell, over its whole life (both states).
  { key: 'rss_peak', label: 'peak RSS of the server', unit: 'MiB', better: 'lower', digits: 1 },
];

export interface CellResult {
  cell: string;
  tally: Figures | null;
  gnocchi: Figures | null;
}

export interface Extreme {
  ratio: number;
  cell: string;
}

/**
 * Per figure, the worst (smallest oriented ratio: > 1 means Tally is better) and the
 * best over the cells where both targets have the figure; null when no cell has both.
 */
export function worstBest(defs: readonly FigureDef[], rows: readonly CellResult[]): Record<string, { worst: Extreme; best: Extreme } | null> {
  const out: Record<string, { worst: Extreme; best: Extreme } | null> = {};
  for (const d of defs) {
    let worst: Extreme | null = null;
    let best: Extreme | null = null;
    for (const r of rows) {
      const x = ratio(d, r.tally?.[d.key] ?? null, r.gnocchi?.[d.key] ?? null);
      if (x === null) continue;
      if (worst === null || x < worst.ratio) worst = { ratio: x, cell: r.cell };
      if (best === null || x > best.ratio) best = { ratio: x, cell: r.cell };
    }
    out[d.key] = worst && best ? { worst, best } : null;
  }
  return out;
}

export function fmtRatio(r: number | null): string {
  if (r === null) return 'n/a';
  // Small ratios (the machine limits) keep two significant digits rather than print 0.00x.
  return `${r >= 10 ? r.toFixed(1) : r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}x`;
}

export function fmtNum(v: number | null | undefined, digits: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return digits === 0 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits);
}

/** Tally's acknowledged rate over the rate of JSON.parse + validation of the same bodies. */
export function machineLimit(f: Figures | null): number | null {
  const ack = f?.ack_rate ?? null;
  const parse = f?.parse_rate ?? null;
  return ack !== null && parse !== null && parse > 0 ? ack / parse : null;
}

/** Tally's acknowledged rate over a bare HTTP server's on the same requests (http-floor.ts). */
export function floorLimit(f: Figures | null): number | null {
  const ack = f?.ack_rate ?? null;
  const floor = f?.floor_rate ?? null;
  return ack !== null && floor !== null && floor > 0 ? ack / floor : null;
}

/** The parse limit a bare HTTP server reaches on the same requests: what HTTP leaves for the shape. */
export function floorParseLimit(f: Figures | null): number | null {
  const floor = f?.floor_rate ?? null;
  const parse = f?.parse_rate ?? null;
  return floor !== null && parse !== null && parse > 0 ? floor / parse : null;
}

/** One line per cell and figure (Tally, Gnocchi, oriented ratio); the summary is matrixSummary's. */
export function renderMatrix(rows: readonly CellResult[]): string {
  const table: string[][] = [['cell', 'figure', 'unit', 'tally', 'gnocchi', 'ratio']];
  for (const r of rows) {
    for (const d of MATRIX_FIGURES) {
      const t = r.tally?.[d.key] ?? null;
      const g = r.gnocchi?.[d.key] ?? null;
      if (t === null && g === null) continue;
      table.push([r.cell, d.label, d.unit, fmtNum(t, d.digits), r.gnocchi ? fmtNum(g, d.digits) : '-', fmtRatio(ratio(d, t, g))]);
    }
    const ml = machineLimit(r.tally);
    if (ml !== null) table.push([r.cell, 'machine limit: ack / JSON.parse+validate', '', ml.toPrecision(2), r.gnocchi ? (machineLimit(r.gnocchi)?.toPrecision(2) ?? 'n/a') : '-', '']);
    const fl = floorLimit(r.tally);
    if (fl !== null) table.push([r.cell, 'ack / bare HTTP server, same requests', '', fl.toPrecision(2), r.gnocchi ? (floorLimit(r.gnocchi)?.toPrecision(2) ?? 'n/a') : '-', '']);
    const fp = floorParseLimit(r.tally);
    if (fp !== null) table.push([r.cell, 'bare HTTP server / JSON.parse+validate', '', fp.toPrecision(2), '-', '']);
  }
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(table[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...table.slice(1).map(line)];
  out.push('ratio > 1 means Tally is better: Tally/Gnocchi for rates, Gnocchi/Tally for latencies, memory and bytes');
  return `${out.join('\n')}\n`;
}

/** The lowest and highest of a per-cell limit (by default acknowledged / parse) over the cells. */
export function machineLimitRange(rows: readonly CellResult[], limit: (f: Figures | null) => number | null = machineLimit): { worst: Extreme; best: Extreme } | null {
  const limits = rows.map((r) => ({ cell: r.cell, ratio: limit(r.tally) })).filter((x): x is Extreme => x.ratio !== null);
  if (limits.length === 0) return null;
  return { worst: limits.reduce((a, b) => (b.ratio < a.ratio ? b : a)), best: limits.reduce((a, b) => (b.ratio > a.ratio ? b : a)) };
}
