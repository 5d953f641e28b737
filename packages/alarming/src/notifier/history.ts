// Delivery history: the outbox rows (one per notification and action, with their final or
// current status) and every attempt made at them, queried by alarm, status and time.
// Newest first; `marker` pages on from the last id of the previous page.
import type { Kysely } from 'kysely';
import { publicEntry, rowToEntry, type OutboxEntry, type OutboxStatus } from './outbox.js';
import { notifierDb, num } from './schema.js';

/** Largest page any history query returns. */
export const MAX_HISTORY_LIMIT = 1000;

export interface DeliveryQuery {
  alarm_id?: string;
  /** Who owns the alarms; a project's member sees only its own. */
  project_id?: string;
  status?: OutboxStatus;
  /** Created at or after (ms since the epoch). */
  since?: number;
  /** Created before (ms since the epoch). */
  until?: number;
  limit?: number;
  /** The id of the last row of the previous page. */
  marker?: number;
}

export interface AttemptQuery {
  alarm_id?: string;
  outbox_id?: number;
  outcome?: 'delivered' | 'retry' | 'failed';
  since?: number;
  until?: number;
  limit?: number;
  marker?: number;
}

export interface DeliveryAttempt {
  id: number;
  outbox_id: number;
  request_id: string;
  alarm_id: string | null;
  action: string;
  attempt: number;
  /** Milliseconds since the epoch. */
  started_at: number;
  latency_ms: number;
  status_code: number | null;
  error: string | null;
  outcome: 'delivered' | 'retry' | 'failed';
  notifier: string;
}

function pageSize(limit: number | undefined): number {
  return Math.max(1, Math.min(MAX_HISTORY_LIMIT, Math.floor(limit ?? 100)));
}

export async function listDeliveries<DB>(raw: Kysely<DB>, q: DeliveryQuery = {}): Promise<OutboxEntry[]> {
  let s = notifierDb(raw).selectFrom('notifier_outbox').selectAll();
  if (q.alarm_id !== undefined) s = s.where('alarm_id', '=', q.alarm_id);
  if (q.project_id !== undefined) s = s.where('project_id', '=', q.project_id);
  if (q.status !== undefined) s = s.where('status', '=', q.status);
  if (q.since !== undefined) s = s.where('created_at', '>=', q.since);
  if (q.until !== undefined) s = s.where('created_at', '<', q.until);
  if (q.marker !== undefined) s = s.where('id', '<', q.marker);
  const rows = await s.orderBy('id', 'desc').limit(pageSize(q.limit)).execute();
  return rows.map((r) => publicEntry(rowToEntry(r)));
}

export async function listAttempts<DB>(raw: Kysely<DB>, q: AttemptQuery = {}): Promise<DeliveryAttempt[]> {
  let s = notifierDb(raw).selectFrom('notifier_attempt').selectAll();
  if (q.alarm_id !== undefined) s = s.where('alarm_id', '=', q.alarm_id);
  if (q.outbox_id !== undefined) s = s.where('outbox_id', '=', q.outbox_id);
  if (q.outcome !== undefined) s = s.where('outcome', '=', q.outcome);
  if (q.since !== undefined) s = s.where('started_at', '>=', q.since);
  if (q.until !== undefined) s = s.where('started_at', '<', q.until);
  if (q.marker !== undefined) s = s.where('id', '<', q.marker);
  const rows = await s.orderBy('id', 'desc').limit(pageSize(q.limit)).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    outbox_id: num(r.outbox_id),
    request_id: r.request_id,
    alarm_id: r.alarm_id,
    action: r.action,
    attempt: num(r.attempt),
    started_at: num(r.started_at),
    latency_ms: Number(r.latency_ms),
    status_code: num(r.status_code),
    error: r.error,
    outcome: r.outcome as DeliveryAttempt['outcome'],
    notifier: r.notifier,
  }));
}

/**
 * Deletes finished rows (delivered, failed, held and already summarised) completed before
 * `before`; their attempts go with them (foreign key cascade). Pending rows, and held rows
 * whose silence is yet to be summarised, are kept. Returns how many rows went.
 */
export async function purgeHistory<DB>(raw: Kysely<DB>, before: number): Promise<number> {
  const db = notifierDb(raw);
  const old = db.selectFrom('notifier_outbox').select('id')
    .where('status', '!=', 'pending').where('completed_at', '<', before)
    .where((eb) => eb.or([
      eb('status', '!=', 'held'),
      eb.not(eb.exists(eb.selectFrom('notifier_silence').select('notifier_silence.id')
        .whereRef('notifier_silence.id', '=', 'notifier_outbox.silence_id')
        .where('notifier_silence.summarized', '=', 0))),
    ]));
  const res = await db.deleteFrom('notifier_outbox').where('id', 'in', old).executeTakeFirst();
  return Number(res.numDeletedRows);
}
