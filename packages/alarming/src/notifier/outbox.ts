// The durable outbox: what the alarm store queues in the transaction that changes an
// alarm's state, and what notifier processes claim, deliver and record.
//
// Claims: several notifiers may share the database. A notifier claims due rows with one
// conditional UPDATE (pending, due, and not under a live lease), stamping them with a
// claim token and a lease; it then reads back the rows that carry its token. A row whose
// notifier died keeps its token until the lease runs out, then any notifier may claim it
// again: delivery is at least once, with the same request id on every attempt. Results
// are written only while the row still carries the writer's token, so a notifier that lost
// its lease cannot overwrite the outcome of the one that took the row over.
//
// Order: only the oldest pending row of an (alarm, action) pair may be claimed, so a
// receiver gets an alarm's notifications in the order the state changes were committed,
// even across retries and takeovers.
import { randomUUID } from 'node:crypto';
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import { inWriteTx } from '@tally/indexer';
import type { AlarmNotification } from '../model.js';
import type { Dialect } from '../db.js';
import { receiverOf, redactAction } from './deliver.js';
import { pyJson } from '@tally/timeseries';
import { notifierDb, num, type NotificationColumn, type OutboxTable } from './schema.js';

export type OutboxStatus = 'pending' | 'delivered' | 'failed' | 'held';

/** An outbox row as the worker and the history read it. */
export interface OutboxEntry extends Pick<OutboxTable, NotificationColumn> {
  id: number;
  kind: 'notification' | 'summary';
  reason_data: Record<string, unknown>;
  /** Masked when it holds a password. */
  action: string;
  receiver: string;
  status: OutboxStatus;
  /** Milliseconds since the epoch. */
  created_at: number;
  next_attempt_at: number;
  attempts: number;
  completed_at: number | null;
  last_status: number | null;
  last_error: string | null;
  silence_id: string | null;
}

/** A claimed row: the action in full, for delivery. */
export interface ClaimedEntry extends OutboxEntry {
  rawAction: string;
  claim: string;
}

export function rowToEntry(r: Selectable<OutboxTable>): ClaimedEntry {
  return {
    id: Number(r.id),
    kind: r.kind as OutboxEntry['kind'],
    request_id: r.request_id,
    alarm_id: r.alarm_id,
    project_id: r.project_id,
    alarm_name: r.alarm_name,
    severity: r.severity,
    previous: r.previous,
    current: r.current,
    reason: r.reason,
    reason_data: JSON.parse(r.reason_data) as Record<string, unknown>,
    action: redactAction(r.action),
    rawAction: r.action,
    receiver: r.receiver,
    status: r.status as OutboxStatus,
    created_at: num(r.created_at),
    next_attempt_at: num(r.next_attempt_at),
    attempts: num(r.attempts),
    completed_at: num(r.completed_at),
    last_status: num(r.last_status),
    last_error: r.last_error,
    silence_id: r.silence_id,
    claim: r.claim ?? '',
  };
}

/** Drops the fields only the worker needs. */
export function publicEntry(e: ClaimedEntry): OutboxEntry {
  const { rawAction: _raw, claim: _claim, ...rest } = e;
  return rest;
}

/** A new row, due at once: what a notification or a summary says, and the action it goes to. */
function pendingRow(what: Pick<Insertable<OutboxTable>, NotificationColumn | 'kind' | 'reason_data' | 'action' | 'silence_id'>, now: number): Insertable<OutboxTable> {
  return {
    ...what, receiver: receiverOf(what.action), status: 'pending', created_at: now, next_attempt_at: now, attempts: 0,
    claim: null, lease_until: null, completed_at: null, last_status: null, last_error: null,
  };
}

/**
 * Queues `notification` for each of its actions, in the caller's transaction `tx`: commit
 * the state change and its notification together, or neither. Queuing the same request id
 * again adds nothing. Returns the number of rows added. To keep an alarm's notifications
 * in order, call it after the statement that changes the alarm's row (whose lock orders
 * concurrent changes of one alarm).
 */
export async function enqueue<DB>(tx: Kysely<DB>, notification: AlarmNotification, now = Date.now()): Promise<number> {
  const actions = [...new Set(notification.actions)];
  if (actions.length === 0) return 0;
  const { request_id, alarm_id, project_id, alarm_name, severity, previous, current, reason } = notification;
  const rows = actions.map((action) => pendingRow({
    kind: 'notification', request_id, alarm_id, project_id, alarm_name, severity, previous, current, reason,
    reason_data: JSON.stringify(notification.reason_data), action, silence_id: null,
  }, now));
  const res = await notifierDb(tx).insertInto('notifier_outbox').values(rows)
    .onConflict((oc) => oc.columns(['request_id', 'action']).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n);
}

export interface ClaimOptions {
  /** This claim's token (unique per notifier and round). */
  claim: string;
  now: number;
  leaseMs: number;
  limit: number;
  /** Rows at most per receiver, counting `inFlight`. */
  perReceiver: number;
  /** Deliveries this notifier already has running, per receiver. */
  inFlight: ReadonlyMap<string, number>;
}

/** Claims up to `limit` due rows; returns those this claim holds. */
export async function claimDue<DB>(raw: Kysely<DB>, o: ClaimOptions): Promise<ClaimedEntry[]> {
  if (o.limit <= 0) return [];
  const db = notifierDb(raw);
  const candidates = await db.selectFrom('notifier_outbox as o')
    .select(['o.id', 'o.receiver'])
    .where('o.status', '=', 'pending')
    .where('o.next_attempt_at', '<=', o.now)
    .where((eb) => eb.or([eb('o.lease_until', 'is', null), eb('o.lease_until', '<=', o.now)]))
    .where(({ not, exists, selectFrom }) => not(exists(
      selectFrom('notifier_outbox as e').select(sql<number>`1`.as('one'))
        .whereRef('e.alarm_id', '=', 'o.alarm_id')
        .whereRef('e.action', '=', 'o.action')
        .where('e.status', '=', 'pending')
        .whereRef('e.id', '<', 'o.id'),
    )))
    .orderBy('o.id')
    .limit(o.limit * 4)
    .execute();
  const counts = new Map(o.inFlight);
  const picked: (number | bigint | string)[] = [];
  for (const c of candidates) {
    if (picked.length >= o.limit) break;
    const n = counts.get(c.receiver) ?? 0;
    if (n >= o.perReceiver) continue;
    counts.set(c.receiver, n + 1);
    picked.push(c.id);
  }
  if (picked.length === 0) return [];
  await db.updateTable('notifier_outbox')
    .set({ claim: o.claim, lease_until: o.now + o.leaseMs })
    .where('id', 'in', picked)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', o.now)]))
    .execute();
  const rows = await db.selectFrom('notifier_outbox').selectAll()
    .where('claim', '=', o.claim).where('status', '=', 'pending').orderBy('id').execute();
  return rows.map(rowToEntry);
}

export interface AttemptRecord {
  startedAt: number;
  latencyMs: number;
  status: number | null;
  error: string | null;
  notifier: string;
}

export type Completion =
  | { status: 'delivered' }
  | { status: 'failed' }
  | { status: 'retry'; nextAttemptAt: number }
  | { status: 'held'; silenceId: string };

/**
 * Records an attempt and its consequence for the row, if `entry.claim` still holds it.
 * Held rows record no attempt (nothing was sent). Returns whether the row was updated.
 */
export async function complete<DB>(
  raw: Kysely<DB>,
  dialect: Dialect,
  entry: ClaimedEntry,
  done: Completion,
  attempt: AttemptRecord | null,
  now: number,
): Promise<boolean> {
  return inWriteTx(notifierDb(raw), dialect, async (tx) => {
    const base = { claim: null, lease_until: null };
    const change = done.status === 'retry'
      ? { ...base, next_attempt_at: done.nextAttemptAt }
      : { ...base, status: done.status, completed_at: now, silence_id: done.status === 'held' ? done.silenceId : null };
    const res = await tx.updateTable('notifier_outbox')
      .set({
        ...change,
        ...(attempt === null ? {} : {
          attempts: sql<number>`attempts + 1`,
          last_status: attempt.status,
          last_error: attempt.error,
        }),
      })
      .where('id', '=', entry.id).where('claim', '=', entry.claim).where('status', '=', 'pending')
      .executeTakeFirst();
    if (attempt !== null) {
      await tx.insertInto('notifier_attempt').values({
        outbox_id: entry.id,
        request_id: entry.request_id,
        alarm_id: entry.alarm_id,
        action: entry.action,
        attempt: entry.attempts + 1,
        started_at: attempt.startedAt,
        latency_ms: attempt.latencyMs,
        status_code: attempt.status,
        error: attempt.error,
        outcome: done.status,
        notifier: attempt.notifier,
      }).execute();
    }
    return Number(res.numUpdatedRows) === 1;
  });
}

/**
 * Pushes back the pending rows of a receiver that just failed, so that other notifications
 * to it wait for the same backoff instead of each trying (and timing out) in turn.
 */
export async function deferReceiver<DB>(raw: Kysely<DB>, receiver: string, until: number): Promise<void> {
  await notifierDb(raw).updateTable('notifier_outbox').set({ next_attempt_at: until })
    .where('receiver', '=', receiver).where('status', '=', 'pending').where('next_attempt_at', '<', until)
    .execute();
}

/** Writes the time of an instant as Aodh's API does (naive ISO UTC, microseconds). */
function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000');
}

/**
 * Queues, for each silence that ended and was not summarised yet, one summary per action
 * that had notifications held: for each alarm, the state before the silence's first held
 * change, the state after its last, how many changes were held, and the last `maxChanges`
 * of them. Several notifiers may race here; the silence's flag lets one of them do it.
 * Returns the number of summaries queued.
 */
export async function summarizeEndedSilences<DB>(
  raw: Kysely<DB>,
  dialect: Dialect,
  now: number,
  maxChanges: number,
): Promise<number> {
  const db = notifierDb(raw);
  const ended = await db.selectFrom('notifier_silence').selectAll()
    .where('summarized', '=', 0).where('ends_at', '<=', now).execute();
  let queued = 0;
  for (const s of ended) {
    queued += await inWriteTx(db, dialect, async (tx) => {
      const took = await tx.updateTable('notifier_silence').set({ summarized: 1 })
        .where('id', '=', s.id).where('summarized', '=', 0).executeTakeFirst();
      if (Number(took.numUpdatedRows) !== 1) return 0;
      const held = (await tx.selectFrom('notifier_outbox').selectAll()
        .where('silence_id', '=', s.id).where('status', '=', 'held').where('kind', '=', 'notification')
        .orderBy('id').execute()).map(rowToEntry);
      const byAction = new Map<string, ClaimedEntry[]>();
      for (const e of held) {
        const list = byAction.get(e.rawAction) ?? [];
        list.push(e);
        byAction.set(e.rawAction, list);
      }
      const silence = {
        id: s.id,
        comment: s.comment,
        starts_at: isoTime(num(s.starts_at)),
        ends_at: isoTime(num(s.ends_at)),
        alarm_id: s.alarm_id,
        project_id: s.project_id,
        name_pattern: s.name_pattern,
        severity: s.severity,
      };
      for (const [action, entries] of byAction) {
        const perAlarm = new Map<string, ClaimedEntry[]>();
        for (const e of entries) {
          const key = e.alarm_id ?? '';
          perAlarm.set(key, [...(perAlarm.get(key) ?? []), e]);
        }
        const alarms = [...perAlarm.values()].map((changes) => {
          const first = changes[0];
          const last = changes[changes.length - 1];
          return {
            alarm_id: last.alarm_id,
            alarm_name: last.alarm_name,
            severity: last.severity,
            previous: first.previous,
            current: last.current,
            reason: last.reason,
            changes: changes.length,
            held: changes.slice(-maxChanges).map((c) => ({
              request_id: c.request_id,
              previous: c.previous,
              current: c.current,
              reason: c.reason,
              timestamp: isoTime(c.created_at),
            })),
          };
        });
        const body = { summary: 'silence ended', silence, alarms };
        await tx.insertInto('notifier_outbox').values(pendingRow({
          kind: 'summary', request_id: `req-${randomUUID()}`, alarm_id: null, project_id: s.owner_project_id,
          alarm_name: '', severity: '', previous: '', current: '',
          reason: `${entries.length} notification(s) of ${alarms.length} alarm(s) held by silence ${s.id}`,
          reason_data: JSON.stringify(body), action, silence_id: s.id,
        }, now)).execute();
      }
      return byAction.size;
    });
  }
  return queued;
}

/**
 * Aodh posts json.dumps's defaults (ASCII); the values it holds as floats are written so:
 * a threshold rule's most recent point (Gnocchi's values are floats) and thresholds.
 */
const BODY_JSON = { ensureAscii: true, floatKeys: new Set(['most_recent', 'threshold']) } as const;

/** The bytes posted for an entry: Aodh's body for a notification, the digest for a summary. */
export function entryBody(e: OutboxEntry): string {
  if (e.kind === 'summary') return pyJson(e.reason_data, BODY_JSON);
  return pyJson({
    alarm_name: e.alarm_name,
    alarm_id: e.alarm_id,
    severity: e.severity,
    previous: e.previous,
    current: e.current,
    reason: e.reason,
    reason_data: e.reason_data,
  }, BODY_JSON);
}
