// The notifier's tables, in the index database beside the alarm store's, versioned under
// the module name 'notifier'. Times are integer milliseconds since the Unix epoch (every
// process of one deployment shares the clock that leases and retry times are read on).
import { sql, type ColumnDefinitionBuilder, type Generated, type Kysely } from 'kysely';
import type { Migration } from '../db.js';

/**
 * One row per notification and action URL. A row is `pending` until it is `delivered`,
 * `failed` (gave up or refused by the receiver) or `held` (a silence muted it). The oldest
 * pending row of an (alarm, action) pair is the only one that may be delivered, so that a
 * receiver sees an alarm's changes in the order they happened.
 */
export interface OutboxTable {
  id: Generated<number | bigint | string>;
  /** 'notification', or 'summary' for the digest sent when a silence ends. */
  kind: string;
  request_id: string;
  /** Null for summaries, which speak of several alarms. */
  alarm_id: string | null;
  project_id: string | null;
  alarm_name: string;
  severity: string;
  previous: string;
  current: string;
  reason: string;
  /** JSON. For a summary, the whole body. */
  reason_data: string;
  action: string;
  /** Where the action delivers to (scheme://host:port): retries back off per receiver. */
  receiver: string;
  status: string;
  created_at: number | bigint | string;
  next_attempt_at: number | bigint | string;
  attempts: number | bigint;
  /** The claim that holds the row (notifier id and round), with its lease. */
  claim: string | null;
  lease_until: number | bigint | string | null;
  completed_at: number | bigint | string | null;
  last_status: number | bigint | null;
  last_error: string | null;
  silence_id: string | null;
}

/** The columns that say what a notification is about, as the outbox row and its readers hold them. */
export type NotificationColumn = 'request_id' | 'alarm_id' | 'project_id' | 'alarm_name' | 'severity' | 'previous' | 'current' | 'reason';

/** Every attempt at delivering an outbox row. */
export interface AttemptTable {
  id: Generated<number | bigint | string>;
  outbox_id: number | bigint | string;
  request_id: string;
  alarm_id: string | null;
  /** The action with any password in it masked. */
  action: string;
  attempt: number | bigint;
  started_at: number | bigint | string;
  latency_ms: number;
  status_code: number | bigint | null;
  error: string | null;
  /** 'delivered', 'retry', 'failed' or 'held'. */
  outcome: string;
  notifier: string;
}

export interface SilenceTable {
  id: string;
  /** The project that owns the silence; null for an administrator's silence. */
  owner_project_id: string | null;
  created_by: string | null;
  comment: string;
  alarm_id: string | null;
  project_id: string | null;
  name_pattern: string | null;
  severity: string | null;
  starts_at: number | bigint | string;
  ends_at: number | bigint | string;
  created_at: number | bigint | string;
  /** 1 once the summaries of what it held are in the outbox. */
  summarized: number | bigint;
}

export interface NotifierTables {
  notifier_outbox: OutboxTable;
  notifier_attempt: AttemptTable;
  notifier_silence: SilenceTable;
}

/** The notifier's view of a handle on the index database (or of a transaction on it). */
export function notifierDb<DB>(db: Kysely<DB>): Kysely<NotifierTables> {
  return db as unknown as Kysely<NotifierTables>;
}

/** Reads an integer column: SQLite gives bigints here, node-postgres strings for BIGINT. */
export function num(v: number | bigint | string): number;
export function num(v: number | bigint | string | null): number | null;
export function num(v: number | bigint | string | null): number | null {
  return v === null ? null : Number(v);
}

export const NOTIFIER_MIGRATIONS: readonly Migration[] = [
  {
    module: 'notifier',
    version: 1,
    name: 'outbox, attempts, silences',
    async up(raw, dialect) {
      const db = notifierDb(raw);
      const id = dialect === 'sqlite' ? 'integer' : 'bigint';
      // AUTOINCREMENT: ids order deliveries and appear in history queries, never reuse one.
      const serial = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder => (dialect === 'sqlite'
        ? c.primaryKey().autoIncrement()
        : c.primaryKey().generatedByDefaultAsIdentity());
      await db.schema
        .createTable('notifier_outbox')
        .addColumn('id', id, serial)
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('request_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('alarm_id', 'varchar(128)')
        .addColumn('project_id', 'varchar(255)')
        .addColumn('alarm_name', 'varchar(255)', (c) => c.notNull())
        .addColumn('severity', 'varchar(16)', (c) => c.notNull())
        .addColumn('previous', 'varchar(32)', (c) => c.notNull())
        .addColumn('current', 'varchar(32)', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('reason_data', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('receiver', 'varchar(512)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('claim', 'varchar(128)')
        .addColumn('lease_until', 'bigint')
        .addColumn('completed_at', 'bigint')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('silence_id', 'varchar(36)')
        .addCheckConstraint('ck_notifier_outbox_status', sql`status in ('pending', 'delivered', 'failed', 'held')`)
        .addCheckConstraint('ck_notifier_outbox_kind', sql`kind in ('notification', 'summary')`)
        // A notification lists an action once however often the alarm names it.
        .addUniqueConstraint('uq_notifier_outbox_request_action', ['request_id', 'action'])
        .execute();
      // The claim's scan (due pending rows) and its ordering test (earlier pending rows of
      // the same alarm and action).
      await db.schema.createIndex('ix_notifier_outbox_due').on('notifier_outbox')
        .columns(['status', 'next_attempt_at']).execute();
      await db.schema.createIndex('ix_notifier_outbox_alarm').on('notifier_outbox')
        .columns(['alarm_id', 'action', 'id']).execute();
      await db.schema.createIndex('ix_notifier_outbox_silence').on('notifier_outbox')
        .column('silence_id').execute();
      await db.schema.createIndex('ix_notifier_outbox_created').on('notifier_outbox')
        .column('created_at').execute();

      await db.schema
        .createTable('notifier_attempt')
        .addColumn('id', id, serial)
        .addColumn('outbox_id', 'bigint', (c) => c.notNull()
          .references('notifier_outbox.id').onDelete('cascade'))
        .addColumn('request_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('alarm_id', 'varchar(128)')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('latency_ms', 'double precision', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('error', 'text')
        .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
        .addColumn('notifier', 'varchar(128)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ix_notifier_attempt_outbox').on('notifier_attempt').column('outbox_id').execute();
      await db.schema.createIndex('ix_notifier_attempt_alarm').on('notifier_attempt')
        .columns(['alarm_id', 'started_at']).execute();
      await db.schema.createIndex('ix_notifier_attempt_started').on('notifier_attempt').column('started_at').execute();

      await db.schema
        .createTable('notifier_silence')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('owner_project_id', 'varchar(255)')
        .addColumn('created_by', 'varchar(255)')
        .addColumn('comment', 'text', (c) => c.notNull())
        .addColumn('alarm_id', 'varchar(128)')
        .addColumn('project_id', 'varchar(255)')
        .addColumn('name_pattern', 'varchar(255)')
        .addColumn('severity', 'varchar(16)')
        .addColumn('starts_at', 'bigint', (c) => c.notNull())
        .addColumn('ends_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('summarized', 'integer', (c) => c.notNull())
        .addCheckConstraint('ck_notifier_silence_period', sql`starts_at < ends_at`)
        .execute();
      await db.schema.createIndex('ix_notifier_silence_period').on('notifier_silence')
        .columns(['summarized', 'ends_at']).execute();
    },
  },
];
