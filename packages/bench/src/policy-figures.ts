// The matrix's figures that belong to a policy rather than to a cell (reads of long
// series, /v1/aggregates, bytes per aggregate point, the processing machine limit) and
// to a target over the whole run (peak memory), their tables and the summary of every
// figure: worst and best. Pure: unit-tested apart from the servers.
import { floorLimit, floorParseLimit, fmtNum, fmtRatio, machineLimitRange, MATRIX_FIGURES, worstBest, type CellResult, type Extreme, type MatrixPolicy } from './cells.js';
import type { ProcessingLimit } from './processing.js';
import { ratio, type FigureDef } from './report.js';

/** What the issue asks of the processing machine limit (engine / baseline). */
export const PROCESSING_TARGET = 0.3;

export interface PolicyResult {
  policy: MatrixPolicy;
  /** Measured in the bench process, the same for every target; null when not run. */
  processing: ProcessingLimit | null;
  /** cell = the policy: aggregates and bytes per point, per target. */
  figures: CellResult;
  /** cell = "policy method granularity": series reads, per target. */
  reads: CellResult[];
}

export interface MatrixSizes {
  /** Points of the long series read (e.g. 10 000 and 100 000). */
  seriesPoints: readonly number[];
  /** Metrics aggregated by POST /v1/aggregates (e.g. 10 and 100). */
  aggregateMetrics: readonly number[];
}

export function readFigureDefs(sizes: MatrixSizes): FigureDef[] {
  return sizes.seriesPoints.map((p) => ({ key: `read_p50_${p}`, label: `read p50, ${p.toLocaleString('en-US')}-point series`, unit: 'ms', better: 'lower', digits: 2 }));
}

export function policyFigureDefs(sizes: MatrixSizes): FigureDef[] {
  return [
    ...sizes.aggregateMetrics.map((k): FigureDef => ({ key: `aggregates_p50_${k}`, label: `POST /v1/aggregates over ${k} metrics p50`, unit: 'ms', better: 'lower', digits: 2 })),
    { key: 'bytes_walk3', label: 'bytes per aggregate point, walk3', unit: 'B', better: 'lower', digits: 3 },
  ];
}

export const MEMORY_FIGURE: FigureDef = { key: 'rss_peak', label: 'peak RSS over the matrix', unit: 'MiB', better: 'lower', digits: 1 };

/** The largest per-group peak of each target: its peak over the whole run. */
export function runPeak(cells: readonly CellResult[]): { tally: number | null; gnocchi: number | null } {
  const peak = (xs: (number | null | undefined)[]) => {
    const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return v.length > 0 ? Math.max(...v) : null;
  };
  return { tally: peak(cells.map((c) => c.tally?.rss_peak)), gnocchi: peak(cells.map((c) => c.gnocchi?.rss_peak)) };
}

export interface SummaryEntry {
  figure: string;
  unit: string;
  /** Oriented ratio (> 1: Tally better), or for the processing limit engine/baseline. */
  worst: Extreme | null;
  best: Extreme | null;
  /** The value Tally must reach on the worst ratio, when the issue gives one. */
  target: number | null;
}

/** Targets the issue sets, as oriented ratios (> 1: Tally better). */
const TARGETS: Record<string, number> = {
  read_p50: 10, aggregates_p50: 10, rss_peak: 3,
};

function targetFor(key: string, state: 'cold' | 'warm' | null): number | null {
  if (key === 'create_rate') return state === 'cold' ? 5 : state === 'warm' ? 20 : null;
  const prefix = Object.keys(TARGETS).find((k) => key === k || key.startsWith(`${k}_`));
  return prefix === undefined ? null : TARGETS[prefix];
}

/**
 * Worst and best of every figure of the run: per cell figure over the cells (metric
 * creation apart for cold and warm, whose targets differ), per policy figure over the
 * policies, series reads over every policy, method and granularity, peak memory of the
 * whole run, and the processing limit over the policies.
 */
export function matrixSummary(cells: readonly CellResult[], policies: readonly PolicyResult[], sizes: MatrixSizes): SummaryEntry[] {
  const out: SummaryEntry[] = [];
  const add = (d: FigureDef, rows: readonly CellResult[], label: string, state: 'cold' | 'warm' | null) => {
    const e = worstBest([d], rows)[d.key];
    out.push({ figure: label, unit: d.unit, worst: e?.worst ?? null, best: e?.best ?? null, target: targetFor(d.key, state) });
  };
  for (const d of MATRIX_FIGURES) {
    if (d.key === 'create_rate') {
      for (const s of ['cold', 'warm'] as const) add(d, cells.filter((c) => c.cell.endsWith(`/${s}`)), `${d.label}, ${s}`, s);
    } else {
      add(d, cells, d.label, null);
    }
  }
  const ml = machineLimitRange(cells);
  out.push({ figure: 'ingest machine limit (Tally acknowledged / JSON.parse + validation in the bench)', unit: '',
    worst: ml?.worst ?? null, best: ml?.best ?? null, target: null });
  const fl = machineLimitRange(cells, floorLimit);
  out.push({ figure: 'ingest against a bare HTTP server (Tally acknowledged / bare server, same requests)', unit: '',
    worst: fl?.worst ?? null, best: fl?.best ?? null, target: null });
  const fp = machineLimitRange(cells, floorParseLimit);
  out.push({ figure: 'what HTTP leaves (bare server / JSON.parse + validation)', unit: '',
    worst: fp?.worst ?? null, best: fp?.best ?? null, target: null });
  const peak = runPeak(cells);
  const r = peak.tally !== null && peak.gnocchi !== null && peak.tally > 0 ? peak.gnocchi / peak.tally : null;
  const whole: Extreme | null = r === null ? null : { ratio: r, cell: 'whole matrix' };
  out.push({ figure: MEMORY_FIGURE.label, unit: MEMORY_FIGURE.unit, worst: whole, best: whole, target: TARGETS.rss_peak });
  const readRows = policies.flatMap((p) => p.reads);
  for (const d of readFigureDefs(sizes)) add(d, readRows, d.label, null);
  const polRows = policies.map((p) => p.figures);
  for (const d of policyFigureDefs(sizes)) add(d, polRows, d.label, null);
  const limits = policies.filter((p) => p.processing !== null).map((p) => ({ ratio: (p.processing as ProcessingLimit).ratio, cell: p.policy }));
  out.push({
    figure: 'processing machine limit (engine / one-pass baseline)', unit: '',
    worst: limits.length > 0 ? limits.reduce((a, b) => (b.ratio < a.ratio ? b : a)) : null,
    best: limits.length > 0 ? limits.reduce((a, b) => (b.ratio > a.ratio ? b : a)) : null,
    target: PROCESSING_TARGET,
  });
  return out;
}

/** Rows with the oriented ratio of each figure both targets have (null otherwise). */
export function withRatios(rows: readonly CellResult[], defs: readonly FigureDef[]): (CellResult & { ratios: Record<string, number | null> })[] {
  return rows.map((r) => ({ ...r, ratios: Object.fromEntries(defs.map((d) => [d.key, ratio(d, r.tally?.[d.key] ?? null, r.gnocchi?.[d.key] ?? null)])) }));
}

export function renderSummary(entries: readonly SummaryEntry[]): string {
  const lines = entries.map((e) => {
    if (e.worst === null || e.best === null) return `${e.figure}: no ratio (a target lacks the figure)`;
    const verdict = e.target === null ? '' : e.worst.ratio >= e.target ? `, target ${e.target}x met` : `, target ${e.target}x NOT met`;
    const best = e.best.cell === e.worst.cell ? '' : `, best ${fmtRatio(e.best.ratio)} (${e.best.cell})`;
    return `${e.figure}: worst ${fmtRatio(e.worst.ratio)} (${e.worst.cell})${best}${verdict}`;
  });
  return `${['summary, one run: worst and best ratio per figure (> 1: Tally better; processing: engine / baseline)', ...lines].join('\n')}\n`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function figureRows(defs: readonly FigureDef[], rows: readonly CellResult[]): string[][] {
  const out: string[][] = [];
  for (const r of rows) {
    for (const d of defs) {
      const t = r.tally?.[d.key] ?? null;
      const g = r.gnocchi?.[d.key] ?? null;
      if (t === null && g === null) continue;
      out.push([r.cell, d.label, d.unit, fmtNum(t, d.digits), r.gnocchi ? fmtNum(g, d.digits) : '-', fmtRatio(ratio(d, t, g))]);
    }
  }
  return out;
}

/** Per policy: the processing limit, aggregates, bytes per point and every series read. */
export function renderPolicies(policies: readonly PolicyResult[], sizes: MatrixSizes): string {
  if (policies.length === 0) return '';
  const rows: string[][] = [['policy', 'figure', 'unit', 'tally', 'gnocchi', 'ratio']];
  for (const p of policies) {
    const pl = p.processing;
    if (pl) {
      rows.push([p.policy, `processing: engine, ${pl.chunk} points per metric and call`, 'points/s', fmtNum(pl.engineRate, 0), '-', '']);
      rows.push([p.policy, 'processing: one-pass baseline', 'points/s', fmtNum(pl.baselineRate, 0), '-', '']);
      rows.push([p.policy, `processing machine limit (target >= ${PROCESSING_TARGET})`, '', pl.ratio.toFixed(3), '-', '']);
    }
    rows.push(...figureRows(policyFigureDefs(sizes), [p.figures]));
    rows.push(...figureRows(readFigureDefs(sizes), p.reads));
  }
  return `${table(rows)}\n`;
}

export function renderMemory(cells: readonly CellResult[]): string {
  const p = runPeak(cells);
  const r = p.tally !== null && p.gnocchi !== null && p.tally > 0 ? p.gnocchi / p.tally : null;
  return `${MEMORY_FIGURE.label} (API and metricd processes, largest group): tally ${fmtNum(p.tally, 1)} MiB, gnocchi ${fmtNum(p.gnocchi, 1)} MiB, ratio ${fmtRatio(r)}\n`;
}
