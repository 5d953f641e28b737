// `tally measures show|add|batch-metrics|batch-resources-metrics|aggregation`, as gnocchi's;
// `add` and the batches also read large files (or stdin) and send them in chunks, with progress.
import type { Command } from 'commander';
import type { JsonValue, Measure, MeasureInput, MeasuresQuery, MetricsMeasuresBatch, NamedMetricMeasures, Query, ResourcesMetricsMeasuresBatch } from '@tally/client';
import { action, clientCommand, collect, float, int, parseJson, readInput, type Ctx } from './command.js';
import { list, UsageError, type Result } from './output.js';
import { group } from './groups.js';

const COLUMNS = ['timestamp', 'granularity', 'value'];
const DEFAULT_BATCH = 10_000;

/**
 * A timestamp in the local time zone as gnocchi prints them (Python's isoformat with the
 * offset); unchanged with --utc or where local time is UTC, and when it cannot be read.
 */
export function localTimestamp(ts: string, utc: boolean, tzOffsetMinutes?: number): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const offset = -(tzOffsetMinutes ?? d.getTimezoneOffset());
  if (utc || offset === 0) return ts;
  const frac = /\.(\d+)/.exec(ts)?.[1];
  const local = new Date(d.getTime() + offset * 60_000).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${local}${frac && /[1-9]/.test(frac) ? `.${frac.padEnd(6, '0').slice(0, 6)}` : ''}${sign}${hhmm}`;
}

export const measureRows = (ms: Measure[], utc: boolean): JsonValue[][] => ms.map(([t, g, v]) => [localTimestamp(t, utc), g, v]);

/** gnocchi's -m TIMESTAMP@VALUE (the last @ separates them; the timestamp may be relative, e.g. "-1 hour"). */
export function parseMeasure(text: string): MeasureInput {
  const at = text.lastIndexOf('@');
  const [ts, v] = at < 0 ? ['', text] : [text.slice(0, at), text.slice(at + 1)];
  const value = Number(v);
  if (ts === '' || v.trim() === '' || Number.isNaN(value)) throw new UsageError(`measure ${JSON.stringify(text)} must be TIMESTAMP@VALUE, e.g. 2024-01-01T00:00:00@42.5`);
  return { timestamp: ts, value };
}

/** A file of measures: a JSON list ({timestamp, value} or [timestamp, value]), or lines of TIMESTAMP@VALUE (or TIMESTAMP,VALUE). */
export function parseMeasuresFile(text: string, what: string): MeasureInput[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    const v = parseJson(trimmed, what);
    if (!Array.isArray(v)) throw new UsageError(`${what} must be a JSON list of measures`);
    return v.map((m, i) => {
      if (Array.isArray(m) && m.length === 2 && (typeof m[0] === 'string' || typeof m[0] === 'number') && typeof m[1] === 'number') return { timestamp: m[0], value: m[1] };
      if (m !== null && typeof m === 'object' && !Array.isArray(m) && (typeof m.timestamp === 'string' || typeof m.timestamp === 'number') && typeof m.value === 'number') {
        return { timestamp: m.timestamp, value: m.value };
      }
      throw new UsageError(`${what}: item ${i} is not {"timestamp": ..., "value": NUMBER}`);
    });
  }
  const out: MeasureInput[] = [];
  trimmed.split(/\r?\n/).forEach((line, i) => {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) return;
    const sep = l.includes('@') ? l.lastIndexOf('@') : l.lastIndexOf(',');
    try {
      out.push(parseMeasure(sep < 0 ? l : `${l.slice(0, sep)}@${l.slice(sep + 1)}`));
    } catch {
      throw new UsageError(`${what} line ${i + 1}: ${JSON.stringify(l)} is not TIMESTAMP@VALUE`);
    }
  });
  return out;
}

/** Splits a metrics batch so that no request carries more than `size` measures. */
export function chunkMetricsBatch(batch: MetricsMeasuresBatch, size: number): MetricsMeasuresBatch[] {
  const chunks: MetricsMeasuresBatch[] = [];
  let cur: MetricsMeasuresBatch = {};
  let n = 0;
  for (const [id, ms] of Object.entries(batch)) {
    if (ms.length === 0) cur[id] ??= []; // still sent: the server checks that the metric exists
    for (let i = 0; i < ms.length; ) {
      const take = Math.min(size - n, ms.length - i);
      cur[id] = [...(cur[id] ?? []), ...ms.slice(i, i + take)];
      i += take;
      n += take;
      if (n >= size) {
        chunks.push(cur);
        cur = {};
        n = 0;
      }
    }
  }
  if (Object.keys(cur).length > 0) chunks.push(cur);
  return chunks;
}

const measuresOf = (v: NamedMetricMeasures | MeasureInput[]): MeasureInput[] => (Array.isArray(v) ? v : v.measures);

/** As chunkMetricsBatch, keeping each named metric's archive policy and unit with every part of it. */
export function chunkResourcesBatch(batch: ResourcesMetricsMeasuresBatch, size: number): ResourcesMetricsMeasuresBatch[] {
  const flat: MetricsMeasuresBatch = {};
  const keys: [string, string, NamedMetricMeasures | MeasureInput[]][] = [];
  for (const [rid, metrics] of Object.entries(batch)) {
    for (const [name, v] of Object.entries(metrics)) {
      flat[String(keys.length)] = measuresOf(v);
      keys.push([rid, name, v]);
    }
  }
  return chunkMetricsBatch(flat, size).map((c) => {
    const out: ResourcesMetricsMeasuresBatch = {};
    for (const [k, ms] of Object.entries(c)) {
      const [rid, name, v] = keys[Number(k)];
      (out[rid] ??= {})[name] = Array.isArray(v) ? ms : { ...v, measures: ms };
    }
    return out;
  });
}

const countMeasures = (b: MetricsMeasuresBatch): number => Object.values(b).reduce((s, m) => s + m.length, 0);

async function sendChunks<T extends object>(ctx: Ctx, label: string, chunks: T[], count: (c: T) => number, send: (c: T) => Promise<void>): Promise<void> {
  const p = ctx.progress(label, chunks.reduce((s, c) => s + count(c), 0), 'measures');
  try {
    for (const c of chunks) {
      await send(c);
      p.add(count(c));
    }
  } finally {
    p.finish();
  }
}

function batchSize(flags: Record<string, unknown>): number {
  const n = (flags.batchSize as number | undefined) ?? DEFAULT_BATCH;
  if (n < 1) throw new UsageError('batch-size must be at least 1');
  return n;
}

function isRecord(v: JsonValue): v is { [k: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function timeOptions(cmd: Command): Command {
  return cmd
    .option('--start <time>', 'beginning of the period (ISO 8601, Unix seconds, or relative such as -1 hour)')
    .option('--stop <time>', 'end of the period')
    .option('--granularity <timespan>', 'granularity to retrieve')
    .option('--utc', 'print timestamps in UTC (default: the local time zone, as gnocchi)');
}

export function addMeasuresCommands(prog: Command): void {
  const m = group(prog, 'measures', "a metric's measures: add, read, aggregate");
  timeOptions(clientCommand(m, 'show <metric>', 'get the measures of a metric (by id, or by name with --resource-id)'))
    .option('-r, --resource-id <id>', 'the resource whose metric this name is')
    .option('--aggregation <method>', 'aggregation method to retrieve (default mean)')
    .option('--refresh', 'process the pending measures first')
    .option('--resample <timespan>', 'resample to this granularity (needs --granularity)')
    .action(action('measures show', async (ctx, a, f): Promise<Result> => {
      const q: MeasuresQuery = {};
      for (const k of ['start', 'stop', 'aggregation', 'granularity', 'resample'] as const) if (f[k] !== undefined) q[k] = f[k] as string;
      if (f.refresh === true) q.refresh = true;
      const g = ctx.gnocchi();
      const metric = a[0] as string;
      const ms = f.resourceId === undefined ? await g.metric.measures(metric, q) : await g.resource.measures('generic', f.resourceId as string, metric, q);
      return list(COLUMNS, measureRows(ms, f.utc === true));
    }));

  clientCommand(m, 'add <metric>', 'add measures to a metric (by id, or by name with --resource-id)', { output: false })
    .option('-m, --measure <timestamp@value>', 'a measure, e.g. 2024-01-01T00:00:00@42.5 (repeatable)', collect)
    .option('--file <path>', 'measures from a file, - for stdin: lines TIMESTAMP@VALUE, or a JSON list')
    .option('-r, --resource-id <id>', 'the resource whose metric this name is')
    .option('--batch-size <n>', `measures per request (default ${DEFAULT_BATCH})`, int('batch-size'))
    .action(action('measures add', async (ctx, a, f) => {
      const measures = [
        ...((f.measure as string[] | undefined) ?? []).map(parseMeasure),
        ...(f.file === undefined ? [] : parseMeasuresFile(readInput(f.file as string), f.file === '-' ? 'stdin' : (f.file as string))),
      ];
      if (measures.length === 0) throw new UsageError('no measures: give -m TIMESTAMP@VALUE or --file PATH');
      const size = batchSize(f);
      const chunks: MeasureInput[][] = [];
      for (let i = 0; i < measures.length; i += size) chunks.push(measures.slice(i, i + size));
      const g = ctx.gnocchi();
      const metric = a[0] as string;
      const rid = f.resourceId as string | undefined;
      await sendChunks(ctx, 'adding measures', chunks, (c) => c.length,
        (c) => (rid === undefined ? g.metric.addMeasures(metric, c) : g.resource.addMeasures('generic', rid, metric, c)));
    }));

  clientCommand(m, 'batch-metrics <file>', 'add measures of several metrics by id from a JSON file (- for stdin): {"METRIC_ID": [{"timestamp": ..., "value": ...}]}', { output: false })
    .option('--batch-size <n>', `measures per request (default ${DEFAULT_BATCH})`, int('batch-size'))
    .action(action('measures batch-metrics', async (ctx, a, f) => {
      const file = a[0] as string;
      const v = parseJson(readInput(file), file === '-' ? 'stdin' : file);
      if (!isRecord(v) || !Object.values(v).every(Array.isArray)) throw new UsageError(`${file} must be a JSON object of metric ids to lists of measures`);
      const g = ctx.gnocchi();
      await sendChunks(ctx, 'adding measures', chunkMetricsBatch(v as unknown as MetricsMeasuresBatch, batchSize(f)), countMeasures, (c) => g.batch.metricsMeasures(c));
    }));

  clientCommand(m, 'batch-resources-metrics <file>', 'add measures of named metrics of resources from a JSON file (- for stdin): {"RESOURCE_ID": {"METRIC_NAME": [...]}}', { output: false })
    .option('--create-metrics', 'create the metrics that do not exist')
    .option('--batch-size <n>', `measures per request (default ${DEFAULT_BATCH})`, int('batch-size'))
    .action(action('measures batch-resources-metrics', async (ctx, a, f) => {
      const file = a[0] as string;
      const v = parseJson(readInput(file), file === '-' ? 'stdin' : file);
      if (!isRecord(v) || !Object.values(v).every((r) => isRecord(r) && Object.values(r).every((x) => Array.isArray(x) || (isRecord(x) && Array.isArray(x.measures))))) {
        throw new UsageError(`${file} must be a JSON object of resource ids to metric names to measures`);
      }
      const batch = v as unknown as ResourcesMetricsMeasuresBatch;
      const g = ctx.gnocchi();
      const count = (b: ResourcesMetricsMeasuresBatch) => Object.values(b).reduce((s, r) => s + Object.values(r).reduce((t, x) => t + measuresOf(x).length, 0), 0);
      await sendChunks(ctx, 'adding measures', chunkResourcesBatch(batch, batchSize(f)), count,
        (c) => g.batch.resourcesMetricsMeasures(c, { createMetrics: f.createMetrics === true }));
    }));

  timeOptions(clientCommand(m, 'aggregation', "aggregate several metrics' measures (the older API; see also `tally aggregates`)"))
    .requiredOption('-m, --metric <metric...>', 'metric ids, or with --query one metric name')
    .option('--aggregation <method>', 'aggregation method of each metric (default mean)')
    .option('--reaggregation <method>', 'method aggregating the metrics together (default: as --aggregation)')
    .option('--needed-overlap <percent>', 'percentage of timestamps the series must share', float('needed-overlap'))
    .option('--query <query>', 'the resources whose metric to aggregate, e.g. project_id=P and started_at>="2024-01-01"')
    .option('--resource-type <type>', 'type of the resources --query searches', 'generic')
    .option('--groupby <attribute>', 'group the resources by this attribute (repeatable)', collect)
    .option('--refresh', 'process the pending measures first')
    .option('--resample <timespan>', 'resample to this granularity')
    .option('--fill <value>', "fill missing points: a number, 'null', 'ffill' or 'dropna'")
    .action(action('measures aggregation', async (ctx, _a, f): Promise<Result> => {
      const metrics = f.metric as string[];
      const params: Query = {};
      for (const k of ['start', 'stop', 'aggregation', 'reaggregation', 'granularity', 'resample', 'fill'] as const) if (f[k] !== undefined) params[k] = f[k] as string;
      if (f.neededOverlap !== undefined) params.needed_overlap = f.neededOverlap as number;
      if (f.refresh === true) params.refresh = true;
      if (f.groupby !== undefined) params.groupby = f.groupby as string[];
      const t = ctx.gnocchi().transport;
      let answer: JsonValue;
      if (f.query === undefined) {
        answer = (await t.json<JsonValue>({ method: 'GET', path: '/v1/aggregation/metric', query: { ...params, metric: metrics } })).value;
      } else {
        if (metrics.length !== 1) throw new UsageError('with --query, give one metric name');
        answer = (await t.json<JsonValue>({
          method: 'POST', idempotent: true, path: `/v1/aggregation/resource/${encodeURIComponent(f.resourceType as string)}/metric/${encodeURIComponent(metrics[0])}`,
          query: { ...params, filter: f.query as string },
        })).value;
      }
      const utc = f.utc === true;
      if (f.groupby === undefined) return list(COLUMNS, measureRows(answer as unknown as Measure[], utc));
      const rows: JsonValue[][] = [];
      for (const gr of answer as unknown as { group: Record<string, JsonValue>; measures: Measure[] }[]) {
        const name = Object.keys(gr.group).sort().map((k) => `${k}: ${String(gr.group[k])}`).join(', ');
        for (const r of measureRows(gr.measures, utc)) rows.push([name, ...r]);
      }
      return list(['group', ...COLUMNS], rows);
    }));
}
