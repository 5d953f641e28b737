// Gnocchi's aggregates evaluation (its processor.get_measures): which metrics the
// operations name, by id or by name over the resources a search found, the granularities
// they share, the checks, the reads through the engine, then the columnar computation of
// @tally/timeseries' ops. The engine's UnaggregableError and OperationsEvalError pass through.
import {
  computeAggregates, compileGlob,
  type AggregatesResult, type ArchivePolicy, type Fill, type Nanos, type OpNode, type RefKey, type Series, type SeriesInput,
} from '@tally/timeseries';
import { parseUuid, type Metric } from '@tally/indexer';
import { eachLimited } from '@tally/retry';
import type { MetricSnapshot } from '@tally/storage';
import { GranularitiesMissing, InvalidMetricReferences, MetricsNotFound, NoGranularityMatch, UnknownAggregations, UnknownMetrics } from './errors.js';
import { metricMeasures, policiesOf } from './measures.js';
import { requestDeadline, type Deadline } from './deadline.js';
import type { AggregateResource } from './resource-search.js';
import type { Services } from './services.js';

/** Metrics whose storage records an aggregates request reads at once. */
const RECORDS_READ_AT_ONCE = 8;

type ReadServices = Pick<Services, 'indexer' | 'storage' | 'requestDeadlineMs' | 'maxAnswerPoints'>;

/** What the computation needs besides the operations (Gnocchi's validated query string). */
export interface CommonArgs {
  start?: Nanos;
  stop?: Nanos;
  granularities?: Nanos[];
  neededOverlap: number;
  fill: Fill;
}

/** One series the operations refer to: a metric's aggregation, under its lookup key. */
export interface Ref {
  metric: Metric;
  aggregation: string;
  /** The metric id (metric form) or name (resource form). */
  name: string;
  lookup: RefKey;
  resourceId?: string;
}

/** Granularities every reference has (Gnocchi counts one per reference and definition). */
function commonGranularities(refs: Ref[], aps: Map<string, ArchivePolicy>): Nanos[] {
  const counts = new Map<Nanos, number>();
  for (const r of refs) for (const d of aps.get(r.metric.archivePolicyName)!.definition) counts.set(d.granularity, (counts.get(d.granularity) ?? 0) + 1);
  return [...counts].filter(([, n]) => n === refs.length).map(([g]) => g);
}

function checkReferences(refs: Ref[], aps: Map<string, ArchivePolicy>, granularities: Nanos[]): void {
  const missing: GranularitiesMissing['missing'] = [];
  for (const r of refs) {
    const ap = aps.get(r.metric.archivePolicyName)!;
    if (!ap.aggregationMethods.includes(r.aggregation)) throw new UnknownAggregations([[r.metric.id, r.aggregation]]);
    const g = granularities.find((x) => !ap.definition.some((d) => d.granularity === x));
    if (g !== undefined) missing.push({ name: r.name, aggregation: r.aggregation, granularity: g });
  }
  if (missing.length > 0) throw new GranularitiesMissing(missing);
}

async function readSeries(s: ReadServices, ref: Ref, ap: ArchivePolicy, g: Nanos, args: CommonArgs, deadline: Deadline, record: MetricSnapshot): Promise<Series> {
  const r = await metricMeasures(s, ref.metric, ap, { aggregation: ref.aggregation, granularity: g, start: args.start, stop: args.stop }, deadline, record);
  return { ts: r.ts, values: r.values };
}

export interface Measured {
  result: AggregatesResult;
  /** The reference of each computation input (result groups index inputs). */
  inputRefs: Ref[];
}

/**
 * Gnocchi's processor.get_measures: granularities, checks, reads, then the computation.
 * The reads share the event loop and stop at the request's deadline (DeadlineExceeded);
 * the computation runs in one go once every series is read, and the deadline is checked
 * again after it.
 */
export async function measuresFor(s: ReadServices, refs: Ref[], op: OpNode, args: CommonArgs, deadline: Deadline = requestDeadline(s)): Promise<Measured> {
  const aps = await policiesOf(s, refs.map((r) => r.metric));
  const granularities = checkedGranularities(refs, aps, args);
  const records = await recordsOf(s, refs.map((r) => r.metric.id), deadline);
  return measuresOfRecords(s, refs, op, args, deadline, aps, granularities, records);
}

/** The granularities the references are read at, checked (Gnocchi's errors when they do not fit). */
function checkedGranularities(refs: Ref[], aps: Map<string, ArchivePolicy>, args: CommonArgs): Nanos[] {
  const granularities = args.granularities ?? commonGranularities(refs, aps);
  if (granularities.length === 0) throw new NoGranularityMatch(refs.map((r) => [r.name, r.aggregation]));
  checkReferences(refs, aps, granularities);
  return granularities;
}

/**
 * Each metric looked up in the storage once, whatever the number of granularities and of
 * references to it, so that every series of one metric comes from one commit; a few at a
 * time, as a lookup may be a file operation waiting on the thread pool.
 */
async function recordsOf(s: ReadServices, ids: readonly string[], deadline: Deadline, into = new Map<string, MetricSnapshot>()): Promise<Map<string, MetricSnapshot>> {
  await eachLimited([...new Set(ids)].filter((id) => !into.has(id)), RECORDS_READ_AT_ONCE, async (id) => {
    into.set(id, await s.storage.read(id));
    await deadline.pause();
  });
  return into;
}

/** The series of the references, from records already looked up, and the computation over them. */
async function measuresOfRecords(
  s: ReadServices, refs: Ref[], op: OpNode, args: CommonArgs, deadline: Deadline,
  aps: Map<string, ArchivePolicy>, granularities: Nanos[], records: Map<string, MetricSnapshot>,
): Promise<Measured> {
  const inputs: SeriesInput[] = [];
  const inputRefs: Ref[] = [];
  for (const ref of refs) {
    const ap = aps.get(ref.metric.archivePolicyName)!;
    const record = records.get(ref.metric.id)!;
    for (const g of granularities) {
      await deadline.pause();
      inputs.push({ key: ref.lookup, granularity: g, series: await readSeries(s, ref, ap, g, args, deadline, record) });
      inputRefs.push(ref);
    }
  }
  await deadline.pause();
  const result = computeAggregates(op, inputs, args);
  deadline.check();
  return { result, inputRefs };
}


// ------------------------------------------------------------ metric ids form

/** The metrics the references name by id (each once, in first-reference order), and the references. */
export async function refsByMetricIds(s: Pick<Services, 'indexer'>, keys: RefKey[]): Promise<{ refs: Ref[]; metrics: Metric[] }> {
  const ids = keys.map(([id]) => parseUuid(id));
  if (ids.some((id) => id === null)) throw new InvalidMetricReferences(keys.map((k) => [...k]));
  const wanted = [...new Set(ids as string[])];
  const metrics = await s.indexer.getMetrics(wanted);
  const byId = new Map(metrics.map((m) => [m.id, m]));
  const missing = wanted.filter((id) => !byId.has(id)).sort();
  if (missing.length > 0) throw new UnknownMetrics(missing);
  const refs = keys.map(([, agg], i): Ref => {
    const m = byId.get(ids[i] as string)!;
    return { metric: m, aggregation: agg, name: m.id, lookup: [m.id, agg] };
  });
  return { refs, metrics: wanted.map((id) => byId.get(id)!) };
}

/** References name metrics by id as given; lookups use the canonical id. */
export function canonicalOperations(op: OpNode): OpNode {
  if (op.kind === 'metric') return { ...op, refs: op.refs.map(([id, agg]): RefKey => [parseUuid(id) ?? id, agg]) };
  if (op.kind === 'number') return op;
  if (op.kind === 'binary') return { ...op, left: canonicalOperations(op.left), right: canonicalOperations(op.right) };
  if (op.kind === 'clip') return { ...op, arg: canonicalOperations(op.arg), min: canonicalOperations(op.min), max: op.max && canonicalOperations(op.max) };
  return { ...op, arg: canonicalOperations(op.arg) };
}

// ------------------------------------------------------------ resources form

function refsOfResources(resources: readonly AggregateResource[], keys: RefKey[], globs = keys.map(([wildcard]) => compileGlob(wildcard))): Ref[] {
  const refs: Ref[] = [];
  for (const r of resources) {
    for (const [k, [wildcard, agg]] of keys.entries()) {
      for (const { name, metric } of r.metrics) {
        if (globs[k].test(name)) refs.push({ metric, aggregation: agg, name, lookup: [wildcard, agg], resourceId: r.id });
      }
    }
  }
  return refs;
}

/** Gnocchi's NoSuchMetric: the wildcards that matched nothing (a set, sorted here). */
function noSuchMetric(keys: RefKey[]): MetricsNotFound {
  return new MetricsNotFound([...new Set(keys.map(([n]) => n))].sort());
}

export interface ResourcesMeasured extends Measured {
  /** The resources that had a metric the operations name. */
  used: AggregateResource[];
}

async function resourcesMeasures(s: ReadServices, resources: AggregateResource[], op: OpNode, keys: RefKey[], args: CommonArgs, deadline: Deadline): Promise<ResourcesMeasured | null> {
  const refs = refsOfResources(resources, keys);
  if (refs.length === 0) return null;
  const measured = await measuresFor(s, refs, op, args, deadline);
  const used = new Set(refs.map((r) => r.resourceId));
  return { ...measured, used: resources.filter((r) => used.has(r.id)) };
}

function groupKey(r: AggregateResource, groupby: readonly string[]): string {
  return JSON.stringify(groupby.map((a) => r.json[a] ?? null));
}

/** The operations over all `resources` (found sorted by the search). */
export async function measureResources(
  s: ReadServices, resources: AggregateResource[], op: OpNode, keys: RefKey[], args: CommonArgs, deadline: Deadline = requestDeadline(s),
): Promise<ResourcesMeasured> {
  const out = await resourcesMeasures(s, resources, op, keys, args, deadline);
  if (out === null) throw noSuchMetric(keys);
  return out;
}

export interface GroupMeasured {
  /** The groupby attributes' values. */
  group: Record<string, unknown>;
  measured: ResourcesMeasured;
}

/** The operations per group of `resources` (sorted by `groupby` by the search); groups without metrics are left out. */
export async function measureResourceGroups(
  s: ReadServices, resources: AggregateResource[], groupby: string[], op: OpNode, keys: RefKey[], args: CommonArgs, deadline: Deadline = requestDeadline(s),
): Promise<GroupMeasured[]> {
  const [answer] = await measureResourceGroupsOfQueries(s, resources, groupby, [{ op, keys, args }], { deadline });
  if ('error' in answer) throw answer.error;
  return answer.groups;
}

/** One groupby evaluation of measureResourceGroupsOfQueries. */
export interface GroupQuery {
  op: OpNode;
  keys: RefKey[];
  args: CommonArgs;
}

/** What measureResourceGroups answers for one query: its groups, or the error it throws. */
export type GroupQueryAnswer = { groups: GroupMeasured[] } | { error: unknown };

/**
 * measureResourceGroups of several queries over the same resources, each answered as that
 * function answers it alone (its groups in order, or the error the first failing group
 * throws). What does not depend on the group is done once for all of them: the groups'
 * keys, the metric patterns, the archive policies (per query) and the storage lookups (each
 * metric once). A reader of many small groups (one per resource) otherwise pays these per
 * group and query. `concurrency` groups are evaluated at once (1: in order, each one after
 * the previous, as a request does); their series reads wait on storage.
 */
export async function measureResourceGroupsOfQueries(
  s: ReadServices, resources: readonly AggregateResource[], groupby: readonly string[], queries: readonly GroupQuery[],
  opts: { deadline?: Deadline; concurrency?: number } = {},
): Promise<GroupQueryAnswer[]> {
  const deadline = opts.deadline ?? requestDeadline(s);
  const runs: { resources: readonly AggregateResource[]; group: Record<string, unknown> }[] = [];
  let at = 0;
  while (at < resources.length) {
    const key = groupKey(resources[at], groupby);
    let end = at + 1;
    while (end < resources.length && groupKey(resources[end], groupby) === key) end++;
    runs.push({ resources: resources.slice(at, end), group: Object.fromEntries(groupby.map((a) => [a, resources[at].json[a] ?? null])) });
    at = end;
  }
  interface Prepared { refs: (Ref[] | null)[]; aps: Map<string, ArchivePolicy> }
  const prepared: (Prepared | { error: unknown })[] = [];
  for (const q of queries) {
    const globs = q.keys.map(([wildcard]) => compileGlob(wildcard));
    const refs = runs.map((run) => {
      const found = refsOfResources(run.resources, q.keys, globs);
      return found.length === 0 ? null : found;
    });
    try {
      prepared.push({ refs, aps: await policiesOf(s, refs.flatMap((r) => (r ?? []).map((x) => x.metric))) });
    } catch (error) {
      prepared.push({ error });
    }
  }
  const records = new Map<string, MetricSnapshot>();
  for (const p of prepared) if ('refs' in p) await recordsOf(s, p.refs.flatMap((r) => (r ?? []).map((x) => x.metric.id)), deadline, records);
  // Each query's answer per group; a query stops at its first failing group, as a request does.
  const measured: (ResourcesMeasured | null)[][] = queries.map(() => runs.map(() => null));
  const failed: ({ at: number; error: unknown } | null)[] = queries.map(() => null);
  const work: [number, number][] = [];
  for (const [qi, p] of prepared.entries()) if ('refs' in p) for (const [ri, refs] of p.refs.entries()) if (refs !== null) work.push([qi, ri]);
  await eachLimited(work, Math.max(1, opts.concurrency ?? 1), async ([qi, ri]) => {
    const p = prepared[qi] as Prepared;
    const refs = p.refs[ri] as Ref[];
    const f = failed[qi];
    if (f !== null && f.at < ri) return;
    try {
      const m = await measuresOfRecords(s, refs, queries[qi].op, queries[qi].args, deadline, p.aps, checkedGranularities(refs, p.aps, queries[qi].args), records);
      const used = new Set(refs.map((r) => r.resourceId));
      measured[qi][ri] = { ...m, used: runs[ri].resources.filter((r) => used.has(r.id)) };
    } catch (error) {
      const g = failed[qi];
      if (g === null || ri < g.at) failed[qi] = { at: ri, error };
    }
  });
  return prepared.map((p, qi): GroupQueryAnswer => {
    if ('error' in p) return p;
    const f = failed[qi];
    if (f !== null) return { error: f.error };
    const groups: GroupMeasured[] = [];
    for (const [ri, m] of measured[qi].entries()) if (m !== null) groups.push({ group: runs[ri].group, measured: m });
    return groups.length === 0 ? { error: noSuchMetric(queries[qi].keys) } : { groups };
  });
}
