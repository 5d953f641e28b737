// The alarm API over a fresh SQLite index database, for the API's tests.
import { testDatabases } from '@tally/indexer/test-util';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { migrate, openAlarmDatabase } from '../db.js';
import { ALARM_STORE_MIGRATIONS, AlarmStore } from '../store/index.js';
import { NOTIFIER_MIGRATIONS } from '../notifier/index.js';
import { buildAlarmServer, type AlarmApiOptions } from './alarm-api.js';

/** `notifier`: the notifier's tables too, and Tally's routes over them. */
export async function alarmServer(opts: Partial<AlarmApiOptions> = {}, { notifier = false } = {}): Promise<{ app: FastifyInstance; store: AlarmStore; db: Kysely<unknown>; done: () => Promise<void> }> {
  const sqlite = testDatabases().find((d) => d.name === 'sqlite');
  if (!sqlite) throw new Error('no SQLite test database');
  const { url, drop } = await sqlite.create();
  const database = await openAlarmDatabase(url);
  await migrate(database, notifier ? [...ALARM_STORE_MIGRATIONS, ...NOTIFIER_MIGRATIONS] : ALARM_STORE_MIGRATIONS);
  const store = new AlarmStore(database.db, database.dialect);
  const app = buildAlarmServer({ store, authMode: 'noauth', bodyLimit: 1 << 20, ...(notifier ? { notifierDb: database.db } : {}), ...opts });
  await app.ready();
  return { app, store, db: database.db, done: async () => { await app.close(); await database.close(); await drop(); } };
}

/** noauth identity headers. */
export const as = (user: string, project: string, roles = ''): Record<string, string> =>
  ({ 'x-user-id': user, 'x-project-id': project, 'x-roles': roles, 'content-type': 'application/json' });

export const threshold = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'cpu', type: 'gnocchi_resources_threshold',
  gnocchi_resources_threshold_rule: { metric: 'cpu', resource_id: 'r1', resource_type: 'instance', threshold: 80, aggregation_method: 'mean' },
  ...over,
});
