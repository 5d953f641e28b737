// The final table (medians over runs, one column per target, and the ratio Tally vs
// Gnocchi oriented so that > 1 always means Tally is better) and the JSON document.
import { median } from './stats.js';
import type { Figures } from './workload.js';

export type Better = 'higher' | 'lower';

export interface FigureDef {
  key: string;
  label: string;
  unit: string;
  better: Better;
  digits: number;
}

export function figureDefs(datasets: readonly string[], scale: readonly number[]): FigureDef[] {
  const defs: FigureDef[] = [
    { key: 'create_rate', label: 'metric creation', unit: 'metrics/s', better: 'higher', digits: 1 },
    { key: 'ingest_ack_rate', label: 'batch ingest, acknowledged', unit: 'measures/s', better: 'higher', digits: 0 },
    { key: 'e2e_rate', label: 'ingest end to end (backlog empty)', unit: 'measures/s', better: 'higher', digits: 0 },
    { key: 'read_p50', label: 'read full series p50', unit: 'ms', better: 'lower', digits: 2 },
    { key: 'read_p99', label: 'read full series p99', unit: 'ms', better: 'lower', digits: 2 },
    { key: 'aggregates_p50', label: '/v1/aggregates, 10 metrics p50', unit: 'ms', better: 'lower', digits: 2 },
    { key: 'aggregates_p99', label: '/v1/aggregates, 10 metrics p99', unit: 'ms', better: 'lower', digits: 2 },
    { key: 'resource_create_rate', label: 'resource creation', unit: 'resources/s', better: 'higher', digits: 1 },
    { key: 'search_p50', label: 'resource search p50', unit: 'ms', better: 'lower', digits: 2 },
    { key: 'search_p99', label: 'resource search p99', unit: 'ms', better: 'lower', digits: 2 },
  ];
  for (const ds of datasets) defs.push({ key: `bytes_${ds}`, label: `bytes per aggregate point, ${ds}`, unit: 'B', better: 'lower', digits: 3 });
  for (const ds of datasets) defs.push({ key: `bytes_alloc_${ds}`, label: `  ${ds}, allocated blocks (du)`, unit: 'B', better: 'lower', digits: 3 });
  defs.push(
    { key: 'rss_peak_ingest', label: 'peak RSS during ingest', unit: 'MiB', better: 'lower', digits: 1 },
    { key: 'rss_peak', label: 'peak RSS, whole run', unit: 'MiB', better: 'lower', digits: 1 },
    { key: 'pss_peak', label: 'peak PSS, whole run', unit: 'MiB', better: 'lower', digits: 1 },
    { key: 'rss_hwm_sum', label: 'sum of VmHWM of the processes', unit: 'MiB', better: 'lower', digits: 1 },
  );
  for (const s of scale) {
    defs.push(
      { key: `scale_${s}_create_rate`, label: `scale ${s}: metric creation`, unit: 'metrics/s', better: 'higher', digits: 1 },
      { key: `scale_${s}_ingest_ack_rate`, label: `scale ${s}: ingest acknowledged`, unit: 'measures/s', better: 'higher', digits: 0 },
      { key: `scale_${s}_e2e_rate`, label: `scale ${s}: ingest end to end`, unit: 'measures/s', better: 'higher', digits: 0 },
      { key: `scale_${s}_probe_ack_rate`, label: `scale ${s}: probe ingest acknowledged`, unit: 'measures/s', better: 'higher', digits: 0 },
      { key: `scale_${s}_probe_e2e_rate`, label: `scale ${s}: probe ingest end to end`, unit: 'measures/s', better: 'higher', digits: 0 },
      { key: `scale_${s}_read_p50`, label: `scale ${s}: read full series p50`, unit: 'ms', better: 'lower', digits: 2 },
      { key: `scale_${s}_read_p99`, label: `scale ${s}: read full series p99`, unit: 'ms', better: 'lower', digits: 2 },
    );
  }
  return defs;
}

export function medians(runs: readonly Figures[], keys: readonly string[]): Figures {
  const out: Figures = {};
  for (const k of keys) out[k] = median(runs.map((r) => r[k]));
  return out;
}

/** Oriented ratio: Tally/Gnocchi for higher-is-better figures, Gnocchi/Tally otherwise. */
export function ratio(def: FigureDef, tally: number | null, gnocchi: number | null): number | null {
  if (tally === null || gnocchi === null || tally <= 0 || gnocchi <= 0) return null;
  return def.better === 'higher' ? tally / gnocchi : gnocchi / tally;
}

export function formatValue(v: number | null | undefined, digits: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  if (digits === 0 || Math.abs(v) >= 10_000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 100) return v.toFixed(Math.min(digits, 1));
  return v.toFixed(digits);
}

export interface TableColumn {
  name: string;
  values: Figures;
}

/** A plain-text table; with both tally and gnocchi columns, a ratio column too. */
export function renderTable(defs: readonly FigureDef[], cols: readonly TableColumn[], runs: number): string {
  const tally = cols.find((c) => c.name === 'tally');
  const gnocchi = cols.find((c) => c.name === 'gnocchi');
  const withRatio = Boolean(tally && gnocchi);
  const header = ['figure', 'unit', ...cols.map((c) => c.name), ...(withRatio ? ['ratio', ''] : [])];
  const rows: string[][] = [header];
  for (const d of defs) {
    if (cols.every((c) => c.values[d.key] === undefined)) continue;
    const row = [d.label, d.unit, ...cols.map((c) => formatValue(c.values[d.key], d.digits))];
    if (withRatio && tally && gnocchi) {
      const r = ratio(d, tally.values[d.key] ?? null, gnocchi.values[d.key] ?? null);
      row.push(r === null ? 'n/a' : `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`, d.better === 'higher' ? 'T/G' : 'G/T');
    }
    rows.push(row);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (i: number) => i >= 2;
  const line = (r: string[]) => r.map((cell, i) => (numeric(i) && i < 2 + cols.length + 1 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  const notes = [runs > 1 ? `medians of ${runs} runs` : '1 run'];
  if (withRatio) notes.push('ratio > 1 means Tally is better: T/G = Tally/Gnocchi for rates, G/T = Gnocchi/Tally for latencies, bytes and memory');
  return `${out.join('\n')}\n(${notes.join('; ')})\n`;
}
