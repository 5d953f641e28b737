// What to rate: a metrics configuration in CloudKitty's metrics.yml shape, for its gnocchi
// collector (metric name -> unit, factor, offset, alt_name, groupby, metadata, mutate,
// extra_args), with CloudKitty's defaults, validated with errors naming the metric and key.
import { parse as parseYaml } from 'yaml';

export const AGGREGATION_METHODS: ReadonlySet<string> = (() => {
  const basic = ['mean', 'sum', 'last', 'max', 'min', 'std', 'median', 'first', 'count'];
  const pct = Array.from({ length: 99 }, (_, i) => `${i + 1}pct`);
  const all = [...basic, ...pct];
  return new Set([...all, ...all.map((m) => `rate:${m}`)]);
})();

export const MUTATE_MODES = ['NONE', 'NUMBOOL', 'NOTNUMBOOL', 'FLOOR', 'CEIL', 'MAP'] as const;
export type MutateMode = typeof MUTATE_MODES[number];

export interface MetricExtraArgs {
  resource_type: string;
  resource_key: string;
  aggregation_method: string;
  re_aggregation_method: string;
  /** Seconds; 0 lets the store choose. */
  force_granularity: number;
  use_all_resource_revisions: boolean;
}

export interface MetricConfig {
  /** The Gnocchi metric name. */
  metric: string;
  /** The type rated points carry (alt_name, or the metric name): the hashmap service name. */
  type: string;
  unit: string;
  /**
   * Factor and offset as the binary floats CloudKitty turns them into (it reads them as int,
   * float or fraction and converts through float), so converted quantities match its own.
   */
  factor: number;
  offset: number;
  groupby: string[];
  metadata: string[];
  mutate: MutateMode;
  mutate_map: Map<number, number> | null;
  extra_args: MetricExtraArgs;
}

export class MetricsConfigError extends Error {
  constructor(readonly path: string, detail: string) {
    super(`metrics configuration: ${path}: ${detail}`);
    this.name = 'MetricsConfigError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function number(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const frac = /^\s*([+-]?\d+)\s*\/\s*(\d+)\s*$/.exec(v);
    if (frac !== null && Number(frac[2]) !== 0) return Number(frac[1]) / Number(frac[2]);
    if (/^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(v)) return Number(v);
  }
  throw new MetricsConfigError(path, `expected a number or a fraction such as "1/1024", got ${JSON.stringify(v)}`);
}

function str(v: unknown, path: string): string {
  if (typeof v === 'string' && v.length > 0) return v;
  throw new MetricsConfigError(path, `expected a non-empty string, got ${JSON.stringify(v)}`);
}

function strList(v: unknown, path: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new MetricsConfigError(path, 'expected a list of strings');
  return v.map((x, i) => str(x, `${path}[${i}]`));
}

const KNOWN_KEYS = new Set(['unit', 'factor', 'offset', 'alt_name', 'groupby', 'metadata', 'mutate', 'mutate_map', 'extra_args']);
const KNOWN_EXTRA = new Set(['resource_type', 'resource_key', 'aggregation_method', 're_aggregation_method', 'force_granularity', 'use_all_resource_revisions', 'custom_query']);

/** Validates a parsed metrics configuration; `scopeKey` is added to every groupby, as CloudKitty does. */
export function metricsConfig(doc: unknown, scopeKey = 'project_id'): MetricConfig[] {
  if (!isObj(doc) || !isObj(doc.metrics) || Object.keys(doc.metrics).length === 0) {
    throw new MetricsConfigError('metrics', 'expected a mapping of at least one metric');
  }
  const out: MetricConfig[] = [];
  for (const [name, raw] of Object.entries(doc.metrics)) {
    const p = `metrics.${name}`;
    if (!isObj(raw)) throw new MetricsConfigError(p, 'expected a mapping');
    for (const k of Object.keys(raw)) if (!KNOWN_KEYS.has(k)) throw new MetricsConfigError(`${p}.${k}`, 'unknown key');
    const ea = raw.extra_args;
    if (!isObj(ea)) throw new MetricsConfigError(`${p}.extra_args`, 'required (at least resource_type)');
    for (const k of Object.keys(ea)) if (!KNOWN_EXTRA.has(k)) throw new MetricsConfigError(`${p}.extra_args.${k}`, 'unknown key');
    if (ea.custom_query !== undefined && ea.custom_query !== '') throw new MetricsConfigError(`${p}.extra_args.custom_query`, 'custom queries are not supported');
    const method = (k: string): string => {
      const m = ea[k] === undefined ? 'max' : str(ea[k], `${p}.extra_args.${k}`);
      if (!AGGREGATION_METHODS.has(m)) throw new MetricsConfigError(`${p}.extra_args.${k}`, `unknown aggregation method ${JSON.stringify(m)}`);
      return m;
    };
    const gran = ea.force_granularity === undefined ? 3600 : ea.force_granularity;
    if (typeof gran !== 'number' || !Number.isInteger(gran) || gran < 0) throw new MetricsConfigError(`${p}.extra_args.force_granularity`, 'expected an integer >= 0');
    const allRev = ea.use_all_resource_revisions === undefined ? true : ea.use_all_resource_revisions;
    if (typeof allRev !== 'boolean') throw new MetricsConfigError(`${p}.extra_args.use_all_resource_revisions`, 'expected a boolean');
    const extra: MetricExtraArgs = {
      resource_type: str(ea.resource_type, `${p}.extra_args.resource_type`),
      resource_key: ea.resource_key === undefined ? 'id' : str(ea.resource_key, `${p}.extra_args.resource_key`),
      aggregation_method: method('aggregation_method'),
      re_aggregation_method: ea.re_aggregation_method === undefined ? method('aggregation_method') : method('re_aggregation_method'),
      force_granularity: gran,
      use_all_resource_revisions: allRev,
    };
    const mutate = raw.mutate === undefined ? 'NONE' : raw.mutate;
    if (!(MUTATE_MODES as readonly unknown[]).includes(mutate)) throw new MetricsConfigError(`${p}.mutate`, `expected one of ${MUTATE_MODES.join(', ')}`);
    let mutateMap: Map<number, number> | null = null;
    if (raw.mutate_map !== undefined) {
      if (!isObj(raw.mutate_map)) throw new MetricsConfigError(`${p}.mutate_map`, 'expected a mapping of numbers to numbers');
      mutateMap = new Map(Object.entries(raw.mutate_map).map(([k, v]) => [number(k, `${p}.mutate_map`), number(v, `${p}.mutate_map.${k}`)]));
    }
    const groupby = strList(raw.groupby, `${p}.groupby`);
    for (const k of [extra.resource_key, scopeKey]) if (!groupby.includes(k)) groupby.push(k);
    out.push({
      metric: name,
      type: raw.alt_name === undefined ? name : str(raw.alt_name, `${p}.alt_name`),
      unit: str(raw.unit, `${p}.unit`),
      factor: raw.factor === undefined ? 1 : number(raw.factor, `${p}.factor`),
      offset: raw.offset === undefined ? 0 : number(raw.offset, `${p}.offset`),
      groupby,
      metadata: strList(raw.metadata, `${p}.metadata`),
      mutate: mutate as MutateMode,
      mutate_map: mutateMap,
      extra_args: extra,
    });
  }
  // CloudKitty collects metrics in name order.
  return out.sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
}

/** Reads metrics.yml text. */
export function parseMetricsYaml(text: string, scopeKey?: string): MetricConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new MetricsConfigError('(file)', `not YAML: ${(e as Error).message}`);
  }
  return metricsConfig(doc, scopeKey);
}
