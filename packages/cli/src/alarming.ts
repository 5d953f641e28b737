// The alarm service's part of the `tally` command: its schema steps (applied by upgrade
// and by serve on a new folder) and its API server.
import { timingSafeEqual, createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { migrate, openAlarmDatabase, type AlarmDatabase, type Migration } from '@tally/alarming';
import { ALARM_STORE_MIGRATIONS, AlarmStore } from '@tally/alarming/store';
import { buildAlarmServer } from '@tally/alarming/api';
import type { Identity, TlsFiles, TokenVerifier } from '@tally/rest';
import type { Settings } from './config.js';

/** Every schema step of the alarming service, all roles together: `tally upgrade` applies them. */
export const ALARMING_MIGRATIONS: readonly Migration[] = [...ALARM_STORE_MIGRATIONS];

/** Applies the alarming service's pending schema steps to the index database; returns how many ran. */
export async function upgradeAlarming(s: Settings): Promise<number> {
  mkdirSync(s.dataDir, { recursive: true });
  const database = await openAlarmDatabase(s.indexerUrl);
  try {
    return await migrate(database, ALARMING_MIGRATIONS);
  } finally {
    await database.close();
  }
}

const digest = (t: string): Buffer => createHash('sha256').update(t).digest();

/**
 * Accepts `token` as an administrator (a service account's credential given in the
 * settings), then asks `next` (users' tokens). Compared through digests in constant time,
 * so that neither the length nor a prefix leaks.
 */
export function withAdminToken(token: string, next: TokenVerifier | undefined): TokenVerifier {
  const expected = digest(token);
  const admin: Identity = { userId: 'admin', projectId: null, roles: ['admin'], creator: 'admin' };
  return {
    async verify(candidate: string): Promise<Identity | null> {
      if (timingSafeEqual(digest(candidate), expected)) return admin;
      return next ? next.verify(candidate) : null;
    },
  };
}

/** Opens the alarm API on --alarm-port over the index database; resolves to its stop function. */
export async function startAlarmApi(s: Settings, log: Logger, tls: TlsFiles | undefined, tokens: TokenVerifier | undefined): Promise<() => Promise<void>> {
  mkdirSync(s.dataDir, { recursive: true });
  const database: AlarmDatabase = await openAlarmDatabase(s.indexerUrl);
  let app: ReturnType<typeof buildAlarmServer> | undefined;
  try {
    await migrate(database, ALARMING_MIGRATIONS);
    app = buildAlarmServer({
      store: new AlarmStore(database.db, database.dialect), authMode: s.authMode, tokens, policy: s.alarmPolicy,
      corsAllowedOrigins: s.corsAllowedOrigins, bodyLimit: s.bodyLimitBytes, https: tls, log,
    });
    await app.listen({ host: s.host, port: s.alarmPort });
  } catch (e) {
    await app?.close();
    await database.close();
    throw e;
  }
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  // --alarm-port 0 takes any free port: say which.
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : s.alarmPort;
  log.info({ url: `${tls ? 'https' : 'http'}://${host}:${port}`, policy: s.alarmPolicy }, 'Tally alarm API listening');
  const server = app;
  return async () => {
    await server.close();
    await database.close();
  };
}
