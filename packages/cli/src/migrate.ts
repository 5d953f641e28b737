// `tally migrate --from URL`: copies a running Gnocchi (4.x) into a Tally data folder.
//
// Reads go through Gnocchi's REST API (GnocchiClient: every call retried with bounded
// backoff and jitter). Writes go to the data folder's index and aggregate storage in this
// process rather than through Tally's API: Gnocchi keeps aggregates, not raw measures, and
// Tally's API only takes raw measures, so aggregates are stored as they are
// (importAggregates); the API also has no way to write a resource's past revisions with
// their own timestamps (importResource).
//
// Order: archive policies, rules, resource types, resources (each with its history),
// metrics, then each metric's aggregates. Every item is recorded in the journal once
// committed; a rerun skips those, and the writes themselves tolerate an item committed
// but not yet journaled (found present, or aggregates replaced by the same ones).
import {
  GnocchiApiError, GnocchiClient, GnocchiTransportError,
  type ArchivePolicy as GnocchiPolicy, type GnocchiAuth, type JsonValue, type Metric as GnocchiMetric,
  type Resource as GnocchiResource, type ResourceType as GnocchiResourceType, type ResourceTypeAttribute,
} from '@tally/client';
import type { Coordinator } from '@tally/coordination';
import type { IncomingStore } from '@tally/incoming';
import {
  IndexerError, type ArchivePolicy, type AttributeValue, type ImportedRevision, type Indexer, type ResourceAttributeSchema,
} from '@tally/indexer';
import { eachLimited } from '@tally/retry';
import type { AggregateStorage } from '@tally/storage';
import {
  formatTimespan, importAggregates, parseTimespan, parseTimestamp, policyMethods, secondsRepr,
  type AggregateSeries,
} from '@tally/timeseries';
import { ConfigError, intIn, resolveSettings } from './config.js';
import { MigrationJournal, JournalSourceMismatch, type JournalKind } from './migrate-journal.js';
import { Progress, type ProgressSink } from './migrate-progress.js';
import { openServices, upgrade } from './services.js';

export type MigratedKind = 'policies' | 'rules' | 'resource_types' | 'resources' | 'revisions' | 'metrics' | 'aggregate_points';

/** One item not copied: skipped (Tally cannot hold it, or what it needs was not copied) or failed. */
export interface MigrationIssue {
  /** `listing`: a list of items Gnocchi did not give (the run stops there). */
  kind: JournalKind | 'listing';
  id: string;
  reason: string;
}

export interface MigrationReport {
  source: string;
  /** Copied by this run. */
  copied: Record<MigratedKind, number>;
  /** Found done in the journal (an earlier run) or already present in Tally, identical. */
  alreadyDone: Record<MigratedKind, number>;
  skipped: MigrationIssue[];
  failed: MigrationIssue[];
  interrupted: boolean;
  seconds: number;
}

export interface MigrateOptions {
  /** The Gnocchi to read. */
  source: GnocchiClient;
  /** Its URL, recorded in the journal (a journal of another source is refused). */
  sourceUrl: string;
  indexer: Indexer;
  storage: AggregateStorage;
  /** For the sack of a metric: its aggregates are written under that sack's processing lock. */
  incoming: IncomingStore;
  coordinator: Coordinator;
  journalPath: string;
  /** Resources and metrics copied at once (default 4). */
  concurrency?: number;
  progress?: ProgressSink;
  /** Stops starting new items; those under way finish and are journaled. */
  signal?: AbortSignal;
}

/** Tally already holds an item of that name or id, different from Gnocchi's: nothing is overwritten. */
export class MigrationConflict extends Error {
  override name = 'MigrationConflict';
}

/** An answer of Gnocchi that does not fit what was asked. */
export class UnexpectedAnswer extends Error {
  override name = 'UnexpectedAnswer';
}

const KINDS: MigratedKind[] = ['policies', 'rules', 'resource_types', 'resources', 'revisions', 'metrics', 'aggregate_points'];
const zero = (): Record<MigratedKind, number> => Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<MigratedKind, number>;

const NOOP_PROGRESS: ProgressSink = { phase: () => undefined, advance: () => undefined, end: () => undefined };

/** A reason in one line, for the report: Gnocchi's answer, the network failure, Tally's refusal. */
function describe(e: unknown): string {
  if (e instanceof GnocchiApiError) return `Gnocchi answered ${e.status} to ${e.method} ${e.url}: ${e.message}`;
  if (e instanceof GnocchiTransportError) return `no answer from Gnocchi to ${e.method} ${e.url} (${e.code})`;
  if (e instanceof Error) return e.message;
  return String(e);
}

// ------------------------------------------------------------------ Gnocchi -> Tally values

export function toTallyPolicy(p: GnocchiPolicy): ArchivePolicy {
  return {
    name: p.name,
    backWindow: p.back_window,
    aggregationMethods: [...p.aggregation_methods],
    definition: p.definition.map((d) => ({
      granularity: parseTimespan(d.granularity),
      points: d.points,
      timespan: d.timespan === null ? null : parseTimespan(d.timespan),
    })),
  };
}

/** Same policy; Gnocchi keeps aggregation methods as a set, so their order is not compared. */
function samePolicy(a: ArchivePolicy, b: ArchivePolicy): boolean {
  const methods = (p: ArchivePolicy) => JSON.stringify([...new Set(p.aggregationMethods)].sort());
  const items = (p: ArchivePolicy) => p.definition.map((d) => `${d.granularity}/${d.points}/${d.timespan}`).join(',');
  return a.backWindow === b.backWindow && methods(a) === methods(b) && items(a) === items(b);
}

export function toTallyAttribute(a: ResourceTypeAttribute): ResourceAttributeSchema {
  switch (a.type) {
    case 'string': return { type: 'string', required: a.required, minLength: a.min_length, maxLength: a.max_length };
    case 'number': return { type: 'number', required: a.required, min: a.min, max: a.max };
    default: return { type: a.type, required: a.required };
  }
}

function attributeValue(v: JsonValue | undefined): AttributeValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  throw new UnexpectedAnswer(`attribute value ${JSON.stringify(v)} is not a scalar`);
}

/** Gnocchi's revisions of one resource (any order) as the indexer imports them, oldest first. */
export function toRevisions(history: readonly GnocchiResource[], attributes: readonly string[]): ImportedRevision[] {
  const revisions = history.map((r): ImportedRevision => ({
    userId: r.user_id,
    projectId: r.project_id,
    startedAt: parseTimestamp(r.started_at),
    endedAt: r.ended_at === null ? null : parseTimestamp(r.ended_at),
    revisionStart: parseTimestamp(r.revision_start),
    revisionEnd: r.revision_end === null ? null : parseTimestamp(r.revision_end),
    attributes: Object.fromEntries(attributes.map((a) => [a, attributeValue(r[a])])),
  }));
  return revisions.sort((a, b) => (a.revisionStart < b.revisionStart ? -1 : a.revisionStart > b.revisionStart ? 1 : 0));
}

// ------------------------------------------------------------------ the migration

class Migration {
  readonly report: MigrationReport;
  private readonly journal: MigrationJournal;
  private readonly progress: ProgressSink;
  private readonly concurrency: number;
  /** Copied or present in Tally: what later items may refer to. */
  private readonly policies = new Set<string>();
  private readonly types = new Map<string, string[]>();
  /** Resources not copied (their metrics are not either), with why. */
  private readonly missingResources = new Map<string, string>();
  private readonly started = Date.now();

  constructor(private readonly o: MigrateOptions) {
    this.journal = new MigrationJournal(o.journalPath, o.sourceUrl);
    this.progress = o.progress ?? NOOP_PROGRESS;
    this.concurrency = Math.max(1, o.concurrency ?? 4);
    this.report = { source: o.sourceUrl, copied: zero(), alreadyDone: zero(), skipped: [], failed: [], interrupted: false, seconds: 0 };
  }

  private get stopped(): boolean {
    return this.o.signal?.aborted === true;
  }

  private fail(kind: JournalKind, id: string, e: unknown): void {
    this.report.failed.push({ kind, id, reason: describe(e) });
  }

  private skip(kind: JournalKind, id: string, reason: string): void {
    this.report.skipped.push({ kind, id, reason });
  }

  /** Runs `fn` over items, `concurrency` at a time, until interrupted. */
  private async each<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
    await eachLimited(items, this.concurrency, async (item) => {
      if (!this.stopped) await fn(item);
    });
  }

  async run(): Promise<MigrationReport> {
    try {
      const src = this.o.source;
      await this.copyPolicies(await src.archivePolicy.list());
      if (!this.stopped) await this.copyRules(await src.archivePolicyRule.list());
      if (!this.stopped) await this.copyResourceTypes(await src.resourceType.list());
      if (!this.stopped) await this.copyResources();
      if (!this.stopped) await this.copyMetrics();
      if (!this.stopped) await this.checkBacklog();
    } catch (e) {
      // A list Gnocchi did not give (after the retries): what follows depends on it.
      if (!(e instanceof GnocchiApiError || e instanceof GnocchiTransportError)) throw e;
      this.report.failed.push({ kind: 'listing', id: '*', reason: `${describe(e)}; the migration stopped there` });
    } finally {
      this.progress.end();
      this.journal.close();
    }
    this.report.interrupted = this.stopped;
    this.report.seconds = (Date.now() - this.started) / 1000;
    return this.report;
  }

  private async copyPolicies(list: GnocchiPolicy[]): Promise<void> {
    this.progress.phase('archive policies', list.length);
    for (const gp of list) {
      const p = toTallyPolicy(gp);
      try {
        const existing = await this.o.indexer.getArchivePolicy(p.name);
        if (existing !== null) {
          if (!samePolicy(existing, p)) throw new MigrationConflict(`Tally already has an archive policy ${p.name} with another definition`);
          this.done('policy', p.name, 'policies');
        } else {
          await this.o.indexer.createArchivePolicy(p);
          this.copied('policy', p.name, 'policies');
        }
        this.policies.add(p.name);
      } catch (e) {
        this.fail('policy', p.name, e);
      }
      this.progress.advance(1);
    }
  }

  private async copyRules(list: Array<{ name: string; metric_pattern: string; archive_policy_name: string }>): Promise<void> {
    this.progress.phase('archive policy rules', list.length);
    for (const r of list) {
      try {
        if (!this.policies.has(r.archive_policy_name)) {
          this.skip('rule', r.name, `its archive policy ${r.archive_policy_name} was not copied`);
          continue;
        }
        const existing = await this.o.indexer.getArchivePolicyRule(r.name);
        if (existing !== null) {
          if (existing.metricPattern !== r.metric_pattern || existing.archivePolicyName !== r.archive_policy_name) {
            throw new MigrationConflict(`Tally already has a rule ${r.name} with another pattern or policy`);
          }
          this.done('rule', r.name, 'rules');
        } else {
          await this.o.indexer.createArchivePolicyRule({ name: r.name, metricPattern: r.metric_pattern, archivePolicyName: r.archive_policy_name });
          this.copied('rule', r.name, 'rules');
        }
      } catch (e) {
        this.fail('rule', r.name, e);
      } finally {
        this.progress.advance(1);
      }
    }
  }

  private async copyResourceTypes(list: GnocchiResourceType[]): Promise<void> {
    this.progress.phase('resource types', list.length);
    for (const t of list) {
      try {
        if (t.state !== 'active') {
          this.skip('resource_type', t.name, `its state on Gnocchi is ${t.state}`);
          continue;
        }
        const attrs = Object.fromEntries(Object.entries(t.attributes).map(([n, a]) => [n, toTallyAttribute(a)]));
        const existing = await this.o.indexer.getResourceType(t.name);
        if (existing !== null) {
          if (JSON.stringify(existing.attributes) !== JSON.stringify(attrs)) {
            throw new MigrationConflict(`Tally already has a resource type ${t.name} with other attributes`);
          }
          this.done('resource_type', t.name, 'resource_types');
        } else {
          try {
            await this.o.indexer.createResourceType(t.name, attrs);
          } catch (e) {
            // A definition Gnocchi took that Tally refuses (too many attributes, a name Tally reserves).
            if (e instanceof IndexerError) {
              this.skip('resource_type', t.name, `Tally cannot hold this type: ${e.message}`);
              continue;
            }
            throw e;
          }
          this.copied('resource_type', t.name, 'resource_types');
        }
        this.types.set(t.name, Object.keys(t.attributes));
      } catch (e) {
        this.fail('resource_type', t.name, e);
      } finally {
        this.progress.advance(1);
      }
    }
  }

  /** Every page of a resource's history, oldest first. */
  private async history(type: string, id: string): Promise<GnocchiResource[]> {
    const out: GnocchiResource[] = [];
    let q: { marker?: string; limit?: number; sort?: string | string[] } | undefined;
    for (;;) {
      const page = await this.o.source.resource.history(type, id, q);
      out.push(...page.items);
      if (page.next === null || page.items.length === 0) return out;
      q = page.next;
    }
  }

  private async copyResources(): Promise<void> {
    this.progress.phase('listing resources', null);
    const all: GnocchiResource[] = [];
    for await (const r of this.o.source.resource.listAll('generic')) {
      all.push(r);
      this.progress.advance(1);
    }
    this.progress.phase('resources', all.length);
    await this.each(all, async (r) => {
      try {
        if (this.journal.has('resource', r.id)) {
          this.report.alreadyDone.resources++;
          this.report.alreadyDone.revisions += this.journal.count('resource', r.id);
          return;
        }
        const attributes = this.types.get(r.type);
        if (attributes === undefined) {
          this.missing(r.id, `its resource type ${r.type} was not copied`);
          return;
        }
        const revisions = toRevisions(await this.history(r.type, r.id), attributes);
        const existing = await this.o.indexer.getResource('generic', r.id);
        if (existing !== null) {
          // importResource writes everything in one transaction: present means complete.
          if (existing.revisionStart !== revisions[revisions.length - 1]?.revisionStart) {
            throw new MigrationConflict('Tally already has this resource, at another revision');
          }
          this.journal.record('resource', r.id, revisions.length);
          this.report.alreadyDone.resources++;
          this.report.alreadyDone.revisions += revisions.length;
          return;
        }
        await this.o.indexer.importResource({
          type: r.type, id: r.id, originalResourceId: r.original_resource_id, creator: r.creator, revisions,
        });
        this.journal.record('resource', r.id, revisions.length);
        this.report.copied.resources++;
        this.report.copied.revisions += revisions.length;
      } catch (e) {
        this.missing(r.id, describe(e), true);
      } finally {
        this.progress.advance(1);
      }
    });
  }

  private missing(id: string, reason: string, failed = false): void {
    this.missingResources.set(id, reason);
    (failed ? this.report.failed : this.report.skipped).push({ kind: 'resource', id, reason });
  }

  private async copyMetrics(): Promise<void> {
    this.progress.phase('listing metrics', null);
    const all: GnocchiMetric[] = [];
    for await (const m of this.o.source.metric.listAll()) {
      all.push(m);
      this.progress.advance(1);
    }
    this.progress.phase('metrics', all.length);
    await this.each(all, async (m) => {
      try {
        if (await this.copyMetric(m)) await this.copyMeasures(m);
      } catch (e) {
        this.fail('metric', m.id, e);
      } finally {
        this.progress.advance(1);
      }
    });
  }

  /**
   * Measures Gnocchi holds but has not aggregated are not in what it serves, so not in the
   * copy: refresh asks it to process them first, but its metricd may fail on some (or be
   * behind on metrics copied before new measures came). Such metrics are reported failed
   * and forgotten by the journal, so that a later run copies them again.
   */
  private async checkBacklog(): Promise<void> {
    let pending: Record<string, number>;
    try {
      pending = (await this.o.source.status({ details: true })).storage.measures_to_process ?? {};
    } catch (e) {
      this.skip('measures', '*', `Gnocchi's backlog could not be read (${describe(e)}): measures it had not processed may be missing`);
      return;
    }
    for (const [id, n] of Object.entries(pending)) {
      if (!this.journal.has('measures', id)) continue;
      this.journal.forget('measures', id);
      this.fail('measures', id, `Gnocchi's backlog lists this metric (${n} to process): measures it has not processed are not in the copy; run the migration again once Gnocchi's metricd processed them`);
    }
  }

  /** The metric's index row; false when it is skipped. */
  private async copyMetric(m: GnocchiMetric): Promise<boolean> {
    if (this.journal.has('metric', m.id)) {
      this.report.alreadyDone.metrics++;
      return true;
    }
    const policy = m.archive_policy.name;
    if (!this.policies.has(policy)) {
      this.skip('metric', m.id, `its archive policy ${policy} was not copied`);
      return false;
    }
    if (m.resource_id !== null && this.missingResources.has(m.resource_id)) {
      this.skip('metric', m.id, `its resource ${m.resource_id} was not copied`);
      return false;
    }
    const [existing] = await this.o.indexer.getMetrics([m.id]);
    if (existing !== undefined) {
      if (existing.archivePolicyName !== policy || existing.name !== m.name || existing.resourceId !== m.resource_id ||
          existing.creator !== m.creator || existing.unit !== m.unit) {
        throw new MigrationConflict('Tally already has this metric, with other attributes');
      }
      this.report.alreadyDone.metrics++;
    } else {
      await this.o.indexer.createMetric({
        id: m.id, creator: m.creator, archivePolicyName: policy, name: m.name, unit: m.unit, resourceId: m.resource_id,
      });
      this.report.copied.metrics++;
    }
    this.journal.record('metric', m.id);
    return true;
  }

  private async copyMeasures(m: GnocchiMetric): Promise<void> {
    if (this.journal.has('measures', m.id)) {
      this.report.alreadyDone.aggregate_points += this.journal.count('measures', m.id);
      return;
    }
    const policy = await this.o.indexer.getArchivePolicy(m.archive_policy.name);
    if (policy === null) throw new MigrationConflict(`archive policy ${m.archive_policy.name} is no longer in Tally`);
    const series: AggregateSeries[] = [];
    let points = 0;
    // The first read asks Gnocchi to process the metric's pending measures (refresh): by
    // default it answers without them, and they would be lost to the copy.
    let refresh = true;
    for (const method of policyMethods(policy)) {
      for (const { granularity } of policy.definition) {
        const got = await this.o.source.metric.measures(m.id, { aggregation: method, granularity: secondsRepr(granularity), refresh });
        refresh = false;
        const ts = new BigInt64Array(got.length);
        const values = new Float64Array(got.length);
        for (let i = 0; i < got.length; i++) {
          const [t, g, v] = got[i];
          if (typeof g !== 'number' || parseTimespan(g) !== granularity) {
            throw new UnexpectedAnswer(`Gnocchi answered granularity ${g} for ${method} at ${formatTimespan(granularity)}`);
          }
          ts[i] = parseTimestamp(t);
          values[i] = v;
        }
        series.push({ method, granularity, ts, values });
        points += got.length;
      }
    }
    await this.writeAggregates(m.id, policy, series);
    this.journal.record('measures', m.id, points);
    this.report.copied.aggregate_points += points;
    this.progress.advance(0, points);
  }

  /** Replaces the metric's aggregates, under its sack's processing lock (metricd's). */
  private async writeAggregates(id: string, policy: ArchivePolicy, series: AggregateSeries[]): Promise<void> {
    const lock = await this.o.coordinator.lock(`sack-${this.o.incoming.sackOf(id)}`, { timeoutMs: 60_000 });
    try {
      const current = await this.o.storage.update(id, { signal: lock.signal });
      const change = importAggregates(policy, current.state, series);
      await current.commit({ ...change, applied: [], forget: [] });
    } finally {
      await lock.release();
    }
  }

  private copied(kind: JournalKind, id: string, counted: MigratedKind): void {
    this.journal.record(kind, id);
    this.report.copied[counted]++;
  }

  private done(kind: JournalKind, id: string, counted: MigratedKind): void {
    if (!this.journal.has(kind, id)) this.journal.record(kind, id);
    this.report.alreadyDone[counted]++;
  }
}

/** Copies everything `o.source` holds into the stores given; see the file's header. */
export async function migrate(o: MigrateOptions): Promise<MigrationReport> {
  return new Migration(o).run();
}

// ------------------------------------------------------------------ the command

/** The report as text: counts per kind, then every item not copied and why. */
export function formatReport(r: MigrationReport): string {
  const lines = [`migration from ${r.source}${r.interrupted ? ' (interrupted: run the same command again to resume)' : ''}, ${r.seconds.toFixed(1)} s`];
  lines.push(`  ${'kind'.padEnd(18)} ${'copied'.padStart(10)} ${'already done'.padStart(13)}`);
  for (const k of KINDS) lines.push(`  ${k.padEnd(18)} ${String(r.copied[k]).padStart(10)} ${String(r.alreadyDone[k]).padStart(13)}`);
  for (const [title, list] of [['skipped', r.skipped], ['failed', r.failed]] as const) {
    lines.push(`${title}: ${list.length}`);
    for (const i of list) lines.push(`  ${i.kind} ${i.id}: ${i.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The identity of the requests to Gnocchi, from the command's options. */
export function sourceAuth(flags: { fromAuthMode?: string; fromUser?: string; fromProject?: string; fromRoles?: string; fromToken?: string }): GnocchiAuth {
  const mode = flags.fromAuthMode ?? 'basic';
  switch (mode) {
    case 'basic': return { type: 'basic', user: flags.fromUser ?? 'admin' };
    case 'noauth': return {
      type: 'noauth', userId: flags.fromUser ?? 'admin', projectId: flags.fromProject ?? 'admin',
      roles: (flags.fromRoles ?? 'admin').split(',').filter((x) => x !== ''),
    };
    case 'keystone':
      if (!flags.fromToken) throw new ConfigError('--from-auth-mode keystone needs --from-token');
      return { type: 'keystone', token: flags.fromToken };
    default: throw new ConfigError(`--from-auth-mode must be basic, noauth or keystone, got ${mode}`);
  }
}

/** `tally migrate` (migrate-command.ts defines its options). */
export async function runMigrate(flags: Record<string, unknown>): Promise<void> {
  const s = resolveSettings(flags);
  const str = (k: string): string | undefined => (typeof flags[k] === 'string' ? flags[k] : undefined);
  const concurrency = intIn('--concurrency', 1, 64)(String(flags.concurrency));
  const from = str('from') ?? '';
  try {
    new URL(from);
  } catch {
    throw new ConfigError(`--from must be a URL, got ${from}`);
  }
  const source = new GnocchiClient({
    url: from,
    auth: sourceAuth({ fromAuthMode: str('fromAuthMode'), fromUser: str('fromUser'), fromProject: str('fromProject'), fromRoles: str('fromRoles'), fromToken: str('fromToken') }),
    timeoutMs: 120_000,
  });
  const svc = await openServices(s);
  const stop = new AbortController();
  const onSignal = () => {
    process.stderr.write('\ntally migrate: stopping after the items under way (run the command again to resume)\n');
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let report: MigrationReport;
  try {
    // The schema only: policies, rules and resource types are Gnocchi's, copied as they are.
    await upgrade(svc.indexer, { skipArchivePolicies: true, skipResourceTypes: true });
    const progress = new Progress({ out: process.stderr });
    report = await migrate({
      source, sourceUrl: from, indexer: svc.indexer, storage: svc.storage, incoming: svc.incoming, coordinator: svc.coordinator,
      journalPath: str('state') ?? `${s.dataDir}/migrate-journal.jsonl`, concurrency, progress, signal: stop.signal,
    });
  } catch (e) {
    if (e instanceof JournalSourceMismatch) throw new ConfigError(e.message);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    source.close();
    await svc.close();
  }
  process.stdout.write(flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  process.exitCode = report.failed.length > 0 ? 1 : report.interrupted ? 130 : 0;
}
