// Aggregates answers: [[timestamp, granularity, value], ...] lists written once as JSON
// bytes, nested by metric (or resource and metric name) and aggregation as Gnocchi does.
// Answers can be large (up to the request's bound on points): their size is checked
// before anything is written, the lists are written in chunks with the event loop given
// back between them (read.ts' writers), and they stay bytes (RawBytes) to the socket.
import { TimeZone, type AggregatesResult, type CalendarUnit, type Nanos, type Series, RawBytes } from '@tally/timeseries';
import { measuresChunks } from '../read.js';
import { writeInChunks } from '../series-json.js';
import type { Deadline } from '../domain/deadline.js';
import type { Measured } from '../domain/aggregates.js';

/** The [[timestamp, granularity, value], ...] list of one series (timestamps in `zone`), as JSON bytes (ASCII). */
async function seriesList(s: Series, g: Nanos | CalendarUnit, zone: TimeZone, deadline: Deadline): Promise<Uint8Array> {
  const r = typeof g === 'string'
    ? { ts: s.ts, values: s.values, granularity: new BigInt64Array(0), calendar: g }
    : { ts: s.ts, values: s.values, granularity: new BigInt64Array(s.ts.length).fill(g) };
  const body = await writeInChunks(measuresChunks(r, zone), () => deadline.pause());
  // The generic writer's text is ASCII too.
  return typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
}

const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');
const SEPARATOR = Buffer.from(', ');

/** Lists joined as one, "[a..., b...]" from "[a...]" and "[b...]", without copying them. */
function concatLists(lists: Uint8Array[]): RawBytes {
  const chunks: Uint8Array[] = [OPEN];
  for (const l of lists) {
    if (l.length <= 2) continue; // "[]"
    if (chunks.length > 1) chunks.push(SEPARATOR);
    chunks.push(l.subarray(1, l.length - 1));
  }
  chunks.push(CLOSE);
  return new RawBytes(chunks);
}

/** Points `labelled` series carry together: the answer's size, checked before it is written. */
function checkSize(series: Iterable<Series>, deadline: Deadline): void {
  let n = 0;
  for (const s of series) n += s.ts.length;
  deadline.answer(n);
}

/** One list of labelled series (the older /v1/aggregation answer). */
export async function labelledList(items: { label: Nanos | CalendarUnit; series: Series }[], zone: TimeZone, deadline: Deadline): Promise<RawBytes> {
  checkSize(items.map((x) => x.series), deadline);
  const lists: Uint8Array[] = [];
  for (const { label, series } of items) lists.push(await seriesList(series, label, zone, deadline));
  return concatLists(lists);
}

/** {"aggregated": [...]} or {id: {agg: [...]}} / {resource: {name: {agg: [...]}}}. */
export async function measuresBody({ result: r, inputRefs }: Measured, deadline: Deadline): Promise<Record<string, unknown>> {
  checkSize(r.groups.flatMap((grp) => (r.aggregated ? grp.series.slice(0, 1) : grp.series)), deadline);
  if (r.aggregated) return { aggregated: await aggregatedList(r, deadline) };
  const byPath = new Map<string, { path: string[]; lists: Uint8Array[] }>();
  for (const grp of r.groups) {
    for (const [i, inputIndex] of grp.inputs.entries()) {
      const ref = inputRefs[inputIndex];
      const path = ref.resourceId === undefined ? [ref.name, ref.aggregation] : [ref.resourceId, ref.name, ref.aggregation];
      const key = JSON.stringify(path);
      let entry = byPath.get(key);
      if (entry === undefined) byPath.set(key, (entry = { path, lists: [] }));
      entry.lists.push(await seriesList(grp.series[i], grp.calendar ?? grp.granularity, TimeZone.UTC, deadline));
    }
  }
  // Keys are metric names users chose ("__proto__" included): objects without a prototype.
  const root: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const { path, lists } of byPath.values()) {
    let node = root;
    for (const p of path.slice(0, -1)) node = (node[p] ??= Object.create(null)) as Record<string, unknown>;
    node[path[path.length - 1]] = concatLists(lists);
  }
  return root;
}

/** All granularities of the single aggregated series. */
function aggregatedList(r: AggregatesResult, deadline: Deadline): Promise<RawBytes> {
  return labelledList(r.groups.map((grp) => ({ label: grp.calendar ?? grp.granularity, series: grp.series[0] })), TimeZone.UTC, deadline);
}
