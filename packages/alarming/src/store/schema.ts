// The alarm store's tables, as steps of the 'alarms' module of the index database.
// Aodh's columns and names, with three storage choices that keep one code path on both
// dialects: booleans are 0/1 integers (better-sqlite3 binds no booleans), JSON fields are
// text, and timestamps are Aodh's naive-UTC ISO text with a fixed six-digit fraction, so
// that comparing and sorting the text compares the instants.
import type { Kysely } from 'kysely';
import type { Migration } from '../db.js';

export interface AlarmRow {
  alarm_id: string;
  enabled: number;
  name: string;
  type: string;
  severity: string;
  description: string;
  timestamp: string;
  user_id: string | null;
  project_id: string | null;
  state: string;
  state_reason: string;
  state_timestamp: string;
  ok_actions: string;
  alarm_actions: string;
  insufficient_data_actions: string;
  repeat_actions: number;
  rule: string;
  time_constraints: string;
  evaluate_timestamp: string | null;
}

export interface AlarmHistoryRow {
  event_id: string;
  alarm_id: string;
  on_behalf_of: string | null;
  project_id: string | null;
  user_id: string | null;
  type: string;
  detail: string;
  timestamp: string;
  severity: string | null;
}

export interface AlarmQuotaRow {
  project_id: string;
  resource: string;
  quota_limit: number;
}

export interface AlarmTables {
  alarm: AlarmRow;
  alarm_history: AlarmHistoryRow;
  alarm_quota: AlarmQuotaRow;
}

export const ALARM_STORE_MODULE = 'alarms';

async function createTables(raw: Kysely<unknown>): Promise<void> {
  const db = raw as Kysely<AlarmTables>;
  await db.schema.createTable('alarm')
    .addColumn('alarm_id', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('type', 'varchar(50)', (c) => c.notNull())
    .addColumn('severity', 'varchar(50)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('timestamp', 'varchar(32)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(128)')
    .addColumn('project_id', 'varchar(128)')
    .addColumn('state', 'varchar(255)', (c) => c.notNull())
    .addColumn('state_reason', 'text', (c) => c.notNull())
    .addColumn('state_timestamp', 'varchar(32)', (c) => c.notNull())
    .addColumn('ok_actions', 'text', (c) => c.notNull())
    .addColumn('alarm_actions', 'text', (c) => c.notNull())
    .addColumn('insufficient_data_actions', 'text', (c) => c.notNull())
    .addColumn('repeat_actions', 'integer', (c) => c.notNull())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('time_constraints', 'text', (c) => c.notNull())
    .addColumn('evaluate_timestamp', 'varchar(32)')
    .execute();
  for (const col of ['user_id', 'project_id', 'enabled', 'type'] as const) {
    await db.schema.createIndex(`ix_alarm_${col}`).on('alarm').column(col).execute();
  }
  await db.schema.createTable('alarm_history')
    .addColumn('event_id', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('alarm_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('on_behalf_of', 'varchar(128)')
    .addColumn('project_id', 'varchar(128)')
    .addColumn('user_id', 'varchar(128)')
    .addColumn('type', 'varchar(20)', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('timestamp', 'varchar(32)', (c) => c.notNull())
    .addColumn('severity', 'varchar(50)')
    .execute();
  await db.schema.createIndex('ix_alarm_history_alarm_id').on('alarm_history').columns(['alarm_id', 'timestamp']).execute();
  await db.schema.createTable('alarm_quota')
    .addColumn('project_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('resource', 'varchar(50)', (c) => c.notNull())
    .addColumn('quota_limit', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('alarm_quota_pk', ['project_id', 'resource'])
    .execute();
}

/** The alarm store's schema steps; `tally upgrade` applies them with every alarming module's. */
export const ALARM_STORE_MIGRATIONS: readonly Migration[] = [
  { module: ALARM_STORE_MODULE, version: 1, name: 'alarms, alarm history and quotas', up: createTables },
];
