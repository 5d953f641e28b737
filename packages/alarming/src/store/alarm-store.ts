// Alarms, their history and quotas in the index database (tables of schema.ts), on SQLite
// and PostgreSQL alike. The store keeps Aodh's records: every change of an alarm leaves an
// entry in its history (creation, rule change, state transition, deletion) written in the
// same transaction as the change itself.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { inWriteTx } from '@tally/indexer';
import { pyJson } from '@tally/timeseries';
import type { Alarm, AlarmState, AlarmType, Severity } from '../model.js';
import type { Dialect } from '../db.js';
import { isoFromStored, nowStored } from './clock.js';
import { InvalidMarkerError } from './errors.js';
import { compileFilter, compileOrderBy, type ColumnKinds, type FilterExpr, type OrderBy } from './filter.js';
import type { AlarmHistoryRow, AlarmRow, AlarmTables } from './schema.js';

/** An alarm as stored: Aodh's document plus the time the evaluator last looked at it. */
export interface StoredAlarm extends Alarm {
  evaluate_timestamp: string | null;
}

/** What a client gives to create or replace an alarm; the store sets the timestamps. */
export type AlarmInput = Omit<Alarm, 'alarm_id' | 'timestamp' | 'state_timestamp'>;

export type ChangeType = 'creation' | 'rule change' | 'state transition' | 'deletion';

/** One entry of an alarm's history, as Aodh answers it. */
export interface AlarmChange {
  event_id: string;
  alarm_id: string;
  type: ChangeType;
  /** JSON text, as Aodh keeps it. */
  detail: string;
  project_id: string | null;
  user_id: string | null;
  on_behalf_of: string | null;
  timestamp: string;
  severity: string | null;
}

/** Who makes a change: the identity of the request (or of the service) behind it. */
export interface Actor {
  userId: string | null;
  projectId: string | null;
}

export interface Page {
  sort?: readonly OrderBy[];
  limit?: number;
  /** The id of the last item of the previous page. */
  marker?: string;
}

/** Equality filters of Aodh's simple alarm query (GET /v2/alarms). */
export type AlarmFilters = Partial<Record<'alarm_id' | 'user_id' | 'project_id' | 'type' | 'name' | 'state' | 'severity' | 'timestamp', string | null>>
  & Partial<Record<'enabled' | 'repeat_actions', boolean>>;

export interface HistoryFilters {
  /** Only changes made on behalf of this project (a non-administrator's view). */
  onBehalfOf?: string | null;
  userId?: string;
  projectId?: string;
  type?: string;
  severity?: string;
  /** Stored-form timestamps (clock.ts). */
  start?: { timestamp: string; inclusive: boolean };
  end?: { timestamp: string; inclusive: boolean };
}

export interface StateChange {
  state: AlarmState;
  reason: string;
  /** What the evaluator saw (for notifications); not stored. */
  reasonData?: Record<string, unknown>;
  /** Change only when the alarm is still in this state (compare and swap). */
  expectedState?: AlarmState;
  /** Record a history entry (and write) even when the state stays the same. */
  alwaysRecord?: boolean;
  /** Who asks; absent for the alarming service itself. */
  actor?: Actor;
  /**
   * The history entry's detail: the evaluator's `{state, transition_reason}` by default,
   * `manual` for the API's `{state, state_reason}`.
   */
  recordAs?: 'evaluator' | 'manual';
}

export interface Transition {
  alarm: StoredAlarm;
  previous: AlarmState;
  /** False when the alarm already was in that state (nothing written unless alwaysRecord). */
  changed: boolean;
  reasonData: Record<string, unknown>;
}

export interface Quota {
  resource: string;
  limit: number;
}

const ALARM_KINDS: ColumnKinds = {
  boolean: new Set(['enabled', 'repeat_actions']),
  text: new Set(['alarm_id', 'name', 'type', 'severity', 'description', 'timestamp', 'user_id', 'project_id', 'state',
    'state_reason', 'state_timestamp', 'ok_actions', 'alarm_actions', 'insufficient_data_actions', 'rule',
    'time_constraints', 'evaluate_timestamp']),
};

const HISTORY_KINDS: ColumnKinds = {
  boolean: new Set(),
  text: new Set(['event_id', 'alarm_id', 'on_behalf_of', 'project_id', 'user_id', 'type', 'detail', 'timestamp', 'severity']),
};

/** Aodh's default order of lists: the newest first. */
const DEFAULT_SORT: readonly OrderBy[] = [{ field: 'timestamp', dir: 'desc' }];

/** The fields of an alarm in the order of Aodh's records (history details follow it). */
const RECORD_ORDER = ['alarm_id', 'type', 'enabled', 'name', 'description', 'timestamp', 'user_id', 'project_id', 'state',
  'state_timestamp', 'state_reason', 'ok_actions', 'alarm_actions', 'insufficient_data_actions', 'repeat_actions',
  'time_constraints', 'severity', 'rule'] as const;

function toRow(a: StoredAlarm & { timestamp: string; state_timestamp: string }): AlarmRow {
  return {
    alarm_id: a.alarm_id, enabled: a.enabled ? 1 : 0, name: a.name, type: a.type, severity: a.severity,
    description: a.description, timestamp: a.timestamp, user_id: a.user_id, project_id: a.project_id, state: a.state,
    state_reason: a.state_reason, state_timestamp: a.state_timestamp, ok_actions: JSON.stringify(a.ok_actions),
    alarm_actions: JSON.stringify(a.alarm_actions), insufficient_data_actions: JSON.stringify(a.insufficient_data_actions),
    repeat_actions: a.repeat_actions ? 1 : 0, rule: JSON.stringify(a.rule), time_constraints: JSON.stringify(a.time_constraints),
    evaluate_timestamp: a.evaluate_timestamp,
  };
}

/** The row's alarm with stored-form timestamps (rows hold them so). */
function fromRowStored(r: AlarmRow): StoredAlarm {
  return {
    alarm_id: r.alarm_id, name: r.name, description: r.description, type: r.type as AlarmType, enabled: Number(r.enabled) !== 0,
    state: r.state as AlarmState, state_reason: r.state_reason, severity: r.severity as Severity,
    ok_actions: JSON.parse(r.ok_actions) as string[], alarm_actions: JSON.parse(r.alarm_actions) as string[],
    insufficient_data_actions: JSON.parse(r.insufficient_data_actions) as string[], repeat_actions: Number(r.repeat_actions) !== 0,
    user_id: r.user_id, project_id: r.project_id, time_constraints: JSON.parse(r.time_constraints) as Alarm['time_constraints'],
    timestamp: r.timestamp, state_timestamp: r.state_timestamp, rule: JSON.parse(r.rule) as Alarm['rule'],
    evaluate_timestamp: r.evaluate_timestamp,
  };
}

/** The alarm as answered: timestamps as Python's isoformat(). */
function published(a: StoredAlarm): StoredAlarm {
  return {
    ...a, timestamp: isoFromStored(a.timestamp), state_timestamp: isoFromStored(a.state_timestamp),
    evaluate_timestamp: a.evaluate_timestamp === null ? null : isoFromStored(a.evaluate_timestamp),
  };
}

function fromHistoryRow(r: AlarmHistoryRow): AlarmChange {
  return { ...r, type: r.type as ChangeType, timestamp: isoFromStored(r.timestamp) };
}

/** Order-insensitive equality of JSON values (Python's == on dicts and lists). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => k in b && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** A record in Aodh's field order, with its timestamps as isoformat() (history details). */
function record(a: StoredAlarm, keys: readonly (typeof RECORD_ORDER)[number][] = RECORD_ORDER): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = a[k];
    out[k] = k === 'timestamp' || k === 'state_timestamp' ? isoFromStored(v as string) : v;
  }
  return out;
}

/**
 * Fields of alarms that Python holds as floats, written so ("threshold": 300.0) wherever
 * they are nested: JavaScript has one number type.
 */
export const ALARM_FLOAT_FIELDS: ReadonlySet<string> = new Set(['threshold']);

const detailJson = (value: Record<string, unknown>): string => pyJson(value, { floatKeys: ALARM_FLOAT_FIELDS });

export class AlarmStore {
  private readonly db: Kysely<AlarmTables>;

  constructor(db: Kysely<unknown>, readonly dialect: Dialect) {
    this.db = db as unknown as Kysely<AlarmTables>;
  }

  private write<T>(fn: (tx: Kysely<AlarmTables>) => Promise<T>): Promise<T> {
    return inWriteTx(this.db, this.dialect, fn);
  }

  private async addChange(tx: Kysely<AlarmTables>, alarm: StoredAlarm, type: ChangeType, detail: Record<string, unknown>,
    actor: Actor | undefined, onBehalfOf: string | null, timestamp: string): Promise<void> {
    await tx.insertInto('alarm_history').values({
      event_id: randomUUID(), alarm_id: alarm.alarm_id, on_behalf_of: onBehalfOf, project_id: actor?.projectId ?? null,
      user_id: actor?.userId ?? null, type, detail: detailJson(detail), timestamp, severity: alarm.severity,
    }).execute();
  }

  private async readRow(db: Kysely<AlarmTables>, alarmId: string): Promise<StoredAlarm | null> {
    const row = await db.selectFrom('alarm').selectAll().where('alarm_id', '=', alarmId).executeTakeFirst();
    return row ? fromRowStored(row) : null;
  }

  /** Stores a new alarm (a new UUID unless `alarmId` is given) and its creation entry. */
  async create(input: AlarmInput, actor: Actor, opts: { alarmId?: string } = {}): Promise<StoredAlarm> {
    return this.write(async (tx) => {
      const now = nowStored();
      const alarm: StoredAlarm = {
        ...input, alarm_id: opts.alarmId ?? randomUUID(), timestamp: now, state_timestamp: now, evaluate_timestamp: now,
      };
      await tx.insertInto('alarm').values(toRow(alarm)).execute();
      await this.addChange(tx, alarm, 'creation', record(alarm), actor, actor.projectId, now);
      return published(alarm);
    });
  }

  async get(alarmId: string): Promise<StoredAlarm | null> {
    const a = await this.readRow(this.db, alarmId);
    return a ? published(a) : null;
  }

  /** Keyset condition: the rows after the marker row in the order `sort` (alarm_id breaking ties). */
  private async after<T extends 'alarm' | 'alarm_history'>(table: T, idField: string, marker: string, sort: readonly OrderBy[], base: RawBuilder<boolean> | null): Promise<RawBuilder<boolean>> {
    const keys = [...sort, { field: idField, dir: sort.at(-1)?.dir ?? 'asc' } as OrderBy];
    const exprs = keys.map((k) => keyExpr(k.field));
    const probe = await sql<Record<string, unknown>>`select ${sql.join(exprs.map((e, i) => sql`${e} as ${sql.ref(`k${i}`)}`))} from ${sql.table(table)} where ${sql.ref(idField)} = ${marker}${base ? sql` and ${base}` : sql``}`.execute(this.db);
    const row = probe.rows[0];
    if (!row) throw new InvalidMarkerError(marker);
    const terms: RawBuilder<boolean>[] = [];
    for (let i = 0; i < keys.length; i++) {
      const parts: RawBuilder<boolean>[] = [];
      for (let j = 0; j < i; j++) parts.push(eqOrBothNull(exprs[j], row[`k${j}`]));
      const v = row[`k${i}`];
      if (v === null || v === undefined) {
        // Nulls sort first ascending (as a missing value), last descending: with desc the
        // rows after a null are none; with asc, all non-null ones.
        parts.push(keys[i].dir === 'asc' ? sql<boolean>`${exprs[i]} is not null` : sql<boolean>`1 = 0`);
      } else {
        parts.push(keys[i].dir === 'asc' ? sql<boolean>`${exprs[i]} > ${v}` : sql<boolean>`(${exprs[i]} < ${v} or ${exprs[i]} is null)`);
      }
      terms.push(sql<boolean>`(${sql.join(parts, sql` and `)})`);
    }
    return sql<boolean>`(${sql.join(terms, sql` or `)})`;
  }

  private async select<T extends 'alarm' | 'alarm_history'>(table: T, idField: string, kinds: ColumnKinds, where: RawBuilder<boolean> | null, page: Page): Promise<unknown[]> {
    if (page.limit === 0) return [];
    const sort = page.sort && page.sort.length ? page.sort : DEFAULT_SORT;
    const conds: RawBuilder<boolean>[] = where ? [where] : [];
    if (page.marker !== undefined) conds.push(await this.after(table, idField, page.marker, sort, where));
    const lastDir = sort.at(-1)?.dir ?? 'asc';
    const order = [...compileOrderBy(sort, kinds), ...compileOrderBy([{ field: idField, dir: lastDir }], kinds)];
    const q = sql`select * from ${sql.table(table)}${conds.length ? sql` where ${sql.join(conds, sql` and `)}` : sql``} order by ${sql.join(order)}${page.limit !== undefined ? sql` limit ${page.limit}` : sql``}`;
    return (await q.execute(this.db)).rows;
  }

  /** Alarms matching every equality in `filters` (null matches a missing owner). */
  async list(filters: AlarmFilters = {}, page: Page = {}): Promise<StoredAlarm[]> {
    const clauses: FilterExpr[] = Object.entries(filters)
      .filter(([, v]) => v !== undefined)
      .map(([field, value]) => ({ op: '=', field, value: value as string | boolean | null }));
    const where = clauses.length ? compileFilter({ and: clauses }, ALARM_KINDS) : null;
    const rows = await this.select('alarm', 'alarm_id', ALARM_KINDS, where, page);
    return rows.map((r) => published(fromRowStored(r as AlarmRow)));
  }

  /** Aodh's complex query over alarms: timestamps in `filter` must be in the stored form. */
  async query(filter: FilterExpr | null, orderby: readonly OrderBy[] | null, limit?: number): Promise<StoredAlarm[]> {
    const where = filter ? compileFilter(filter, ALARM_KINDS) : null;
    const rows = await this.select('alarm', 'alarm_id', ALARM_KINDS, where, { sort: orderby ?? undefined, limit });
    return rows.map((r) => published(fromRowStored(r as AlarmRow)));
  }

  /** How many alarms a project, or a user, owns. */
  async count(owner: { projectId: string | null } | { userId: string | null }): Promise<number> {
    const field = 'projectId' in owner ? 'project_id' : 'user_id';
    const value = 'projectId' in owner ? owner.projectId : owner.userId;
    const r = await sql<{ n: number | string }>`select count(*) as n from alarm where ${compileFilter({ op: '=', field, value }, ALARM_KINDS)}`.execute(this.db);
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * Replaces an alarm's document. The timestamp becomes now; the state's timestamp and
   * reason change only with the state. Records a `rule change` entry holding only the
   * fields that changed (none: no entry). Null when the alarm does not exist.
   */
  async update(alarmId: string, input: AlarmInput, actor: Actor, inTx?: (tx: Kysely<unknown>, alarm: StoredAlarm) => Promise<void>): Promise<StoredAlarm | null> {
    return this.write(async (tx) => {
      const old = await this.readRow(tx, alarmId);
      if (!old) return null;
      const now = nowStored();
      const stateChanged = old.state !== input.state;
      const next: StoredAlarm = {
        ...input, alarm_id: alarmId, timestamp: now,
        state_timestamp: stateChanged ? now : old.state_timestamp,
        state_reason: stateChanged ? input.state_reason : old.state_reason,
        evaluate_timestamp: null,
      };
      await tx.updateTable('alarm').set(toRow(next)).where('alarm_id', '=', alarmId).execute();
      const changed = RECORD_ORDER.filter((k) => k !== 'timestamp' && k !== 'state_timestamp' && !sameJson(next[k], old[k]));
      if (changed.length) await this.addChange(tx, next, 'rule change', record(next, changed), actor, next.project_id, now);
      await inTx?.(tx as unknown as Kysely<unknown>, published(next));
      return published(next);
    });
  }

  /**
   * Moves an alarm to `change.state`, records a `state transition` entry, and runs `inTx`
   * in the same transaction (the notifier adds its outbox row there), so that either all of
   * it is committed or none. `inTx` also runs when the state stays the same (repeated
   * actions), with `changed` false. The transaction is retried on lock conflicts: `inTx`
   * must be safe to run again. Null when the alarm does not exist or is no longer in
   * `expectedState` (nothing written, `inTx` not called).
   */
  async transitionState(alarmId: string, change: StateChange, inTx?: (tx: Kysely<unknown>, t: Transition) => Promise<void>): Promise<Transition | null> {
    return this.write(async (tx) => {
      const old = await this.readRow(tx, alarmId);
      if (!old) return null;
      if (change.expectedState !== undefined && old.state !== change.expectedState) return null;
      const changed = old.state !== change.state;
      const now = nowStored();
      const next: StoredAlarm = changed || change.alwaysRecord
        ? { ...old, state: change.state, state_reason: change.reason, state_timestamp: changed ? now : old.state_timestamp }
        : old;
      if (changed || change.alwaysRecord) {
        await tx.updateTable('alarm')
          .set({ state: next.state, state_reason: next.state_reason, state_timestamp: next.state_timestamp })
          .where('alarm_id', '=', alarmId).execute();
        const detail = change.recordAs === 'manual'
          ? { state: next.state, state_reason: next.state_reason }
          : { state: next.state, transition_reason: change.reason };
        await this.addChange(tx, next, 'state transition', detail, change.actor, next.project_id, now);
      }
      const t: Transition = { alarm: published(next), previous: old.state, changed, reasonData: change.reasonData ?? {} };
      await inTx?.(tx as unknown as Kysely<unknown>, t);
      return t;
    });
  }

  /** Marks an alarm as evaluated now (the evaluator's bookkeeping). */
  async touchEvaluated(alarmId: string): Promise<void> {
    await this.write((tx) => tx.updateTable('alarm').set({ evaluate_timestamp: nowStored() }).where('alarm_id', '=', alarmId).execute());
  }

  /**
   * Deletes an alarm and records a `deletion` entry (holding its last state); its history
   * stays, so the history query still shows what happened to it. False when it did not exist.
   */
  async delete(alarmId: string, actor: Actor, inTx?: (tx: Kysely<unknown>, alarm: StoredAlarm) => Promise<void>): Promise<boolean> {
    return this.write(async (tx) => {
      const old = await this.readRow(tx, alarmId);
      if (!old) return false;
      await tx.deleteFrom('alarm').where('alarm_id', '=', alarmId).execute();
      await this.addChange(tx, old, 'deletion', { state: old.state }, actor, actor.projectId, nowStored());
      await inTx?.(tx as unknown as Kysely<unknown>, published(old));
      return true;
    });
  }

  /** An alarm's history, newest first unless `page.sort` says otherwise. */
  async history(alarmId: string, filters: HistoryFilters = {}, page: Page = {}): Promise<AlarmChange[]> {
    const c: RawBuilder<boolean>[] = [sql<boolean>`alarm_id = ${alarmId}`];
    if (filters.onBehalfOf !== undefined) c.push(compileFilter({ op: '=', field: 'on_behalf_of', value: filters.onBehalfOf }, HISTORY_KINDS));
    if (filters.userId !== undefined) c.push(sql<boolean>`user_id = ${filters.userId}`);
    if (filters.projectId !== undefined) c.push(sql<boolean>`project_id = ${filters.projectId}`);
    if (filters.type !== undefined) c.push(sql<boolean>`type = ${filters.type}`);
    if (filters.severity !== undefined) c.push(sql<boolean>`severity = ${filters.severity}`);
    if (filters.start) c.push(filters.start.inclusive ? sql<boolean>`timestamp >= ${filters.start.timestamp}` : sql<boolean>`timestamp > ${filters.start.timestamp}`);
    if (filters.end) c.push(filters.end.inclusive ? sql<boolean>`timestamp <= ${filters.end.timestamp}` : sql<boolean>`timestamp < ${filters.end.timestamp}`);
    const rows = await this.select('alarm_history', 'event_id', HISTORY_KINDS, sql<boolean>`(${sql.join(c, sql` and `)})`, page);
    return rows.map((r) => fromHistoryRow(r as AlarmHistoryRow));
  }

  /** Aodh's complex query over every alarm's history. */
  async queryHistory(filter: FilterExpr | null, orderby: readonly OrderBy[] | null, limit?: number): Promise<AlarmChange[]> {
    const where = filter ? compileFilter(filter, HISTORY_KINDS) : null;
    const rows = await this.select('alarm_history', 'event_id', HISTORY_KINDS, where, { sort: orderby ?? undefined, limit });
    return rows.map((r) => fromHistoryRow(r as AlarmHistoryRow));
  }

  /** A project's stored quotas (none: the defaults apply). */
  async getQuotas(projectId: string | null): Promise<Quota[]> {
    const rows = await this.db.selectFrom('alarm_quota').select(['resource', 'quota_limit'])
      .where(sql<boolean>`${compileFilter({ op: '=', field: 'project_id', value: projectId }, { text: new Set(['project_id']), boolean: new Set() })}`)
      .orderBy('resource').execute();
    return rows.map((r) => ({ resource: r.resource, limit: Number(r.quota_limit) }));
  }

  /** Creates or replaces some of a project's quotas; returns all of them. */
  async setQuotas(projectId: string, quotas: readonly Quota[]): Promise<Quota[]> {
    await this.write(async (tx) => {
      for (const q of quotas) {
        await tx.insertInto('alarm_quota').values({ project_id: projectId, resource: q.resource, quota_limit: q.limit })
          .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ quota_limit: q.limit }))
          .execute();
      }
    });
    return this.getQuotas(projectId);
  }

  async deleteQuotas(projectId: string): Promise<void> {
    await this.write((tx) => tx.deleteFrom('alarm_quota').where('project_id', '=', projectId).execute());
  }
}

/** The value a sort key orders by (severity by rank, as compileOrderBy). */
function keyExpr(field: string): RawBuilder<unknown> {
  return field === 'severity'
    ? sql`case ${sql.ref(field)} when 'low' then 0 when 'moderate' then 1 when 'critical' then 2 else 3 end`
    : sql`${sql.ref(field)}`;
}

function eqOrBothNull(expr: RawBuilder<unknown>, v: unknown): RawBuilder<boolean> {
  return v === null || v === undefined ? sql<boolean>`${expr} is null` : sql<boolean>`${expr} = ${v}`;
}
