// Aggregates answers: [[timestamp, granularity, value], ...] lists written once as JSON
// text, nested by metric (or resource and metric name) and aggregation as Gnocchi does.
import { formatTimestampIn, TimeZone, type AggregatesResult, type CalendarUnit, type Nanos, type Series } from '@tally/timeseries';
import { pyFloat, Raw } from '../pyjson.js';
import { granularityText } from '../read.js';
import type { Measured } from '../domain/aggregates.js';

/** [[timestamp, granularity, value], ...] items, written once as JSON text (timestamps in `zone`). */
export function triples(out: string[], s: Series, g: Nanos | CalendarUnit, zone: TimeZone = TimeZone.UTC): void {
  const gText = granularityText(g);
  for (let i = 0; i < s.ts.length; i++) out.push(`["${formatTimestampIn(s.ts[i], zone)}", ${gText}, ${pyFloat(s.values[i])}]`);
}

/** All granularities of the single aggregated series. */
export function aggregatedItems(r: AggregatesResult, zone: TimeZone = TimeZone.UTC): string[] {
  const out: string[] = [];
  for (const grp of r.groups) triples(out, grp.series[0], grp.calendar ?? grp.granularity, zone);
  return out;
}

export const rawList = (items: string[]): Raw => new Raw('[' + items.join(', ') + ']');

/** {"aggregated": [...]} or {id: {agg: [...]}} / {resource: {name: {agg: [...]}}}. */
export function measuresBody({ result: r, inputRefs }: Measured): Record<string, unknown> {
  if (r.aggregated) return { aggregated: rawList(aggregatedItems(r)) };
  const byPath = new Map<string, { path: string[]; items: string[] }>();
  for (const grp of r.groups) {
    grp.inputs.forEach((inputIndex, i) => {
      const ref = inputRefs[inputIndex];
      const path = ref.resourceId === undefined ? [ref.name, ref.aggregation] : [ref.resourceId, ref.name, ref.aggregation];
      const key = JSON.stringify(path);
      let entry = byPath.get(key);
      if (entry === undefined) byPath.set(key, (entry = { path, items: [] }));
      triples(entry.items, grp.series[i], grp.calendar ?? grp.granularity);
    });
  }
  // Keys are metric names users chose ("__proto__" included): objects without a prototype.
  const root: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const { path, items } of byPath.values()) {
    let node = root;
    for (const p of path.slice(0, -1)) node = (node[p] ??= Object.create(null)) as Record<string, unknown>;
    node[path[path.length - 1]] = rawList(items);
  }
  return root;
}
