// The alarm service's part of the `tally` command: its schema steps (applied by upgrade
// and by serve on a new folder), its API server, the evaluator and the notifier.
import { timingSafeEqual, createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { migrate, openAlarmDatabase, type AlarmDatabase } from '@tally/alarming';
import { AlarmStore } from '@tally/alarming/store';
import { buildAlarmServer } from '@tally/alarming/api';
import { EventEvaluator, GnocchiMetricSource, type MetricSource } from '@tally/alarming/evaluator';
import { ALARMING_MIGRATIONS, eventRecorder, inProcessMetricSource, startAlarmRoles, type AlarmRolesOptions } from '@tally/alarming/service';
import { GnocchiClient, type GnocchiAuth } from '@tally/client';
import { openMembership, type Membership } from '@tally/coordination';
import { buildApi, DEFAULT_HTTP_CONFIG, type Identity, type TlsFiles, type TokenVerifier } from '@tally/rest';
import { ConfigError, type Settings } from './config.js';
import { openServices, type Services } from './services.js';

export { ALARMING_MIGRATIONS };

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

/** The notifier's HMAC secrets from --alarm-hmac-secrets: a JSON object of name -> secret. */
export function readHmacSecrets(path: string): Record<string, string> {
  if (path === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`--alarm-hmac-secrets ${path}: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`--alarm-hmac-secrets ${path}: expected a JSON object of name -> secret`);
  }
  const out: Record<string, string> = {};
  for (const [name, secret] of Object.entries(parsed)) {
    if (typeof secret !== 'string' || secret === '') throw new ConfigError(`--alarm-hmac-secrets ${path}: the secret of "${name}" must be a non-empty string`);
    out[name] = secret;
  }
  return out;
}

/** What --gnocchi-user/--gnocchi-password/--gnocchi-token send to --gnocchi-url. */
export function gnocchiAuth(s: Settings): GnocchiAuth {
  if (s.gnocchiToken) return { type: 'keystone', token: s.gnocchiToken };
  return { type: 'basic', user: s.gnocchiUser, password: s.gnocchiPassword };
}

/**
 * The evaluator's metric source: the metric API at --gnocchi-url over HTTP; otherwise
 * this data folder's metric store in process, through a Gnocchi API that never listens
 * (over `services` when the process already has them open, else over its own).
 */
export async function openMetricSource(s: Settings, services?: Services): Promise<{ source: MetricSource; close(): Promise<void> }> {
  if (s.gnocchiUrl) {
    // No retries in the client: the evaluator retries a failing alarm within its round.
    const client = new GnocchiClient({ url: s.gnocchiUrl, auth: gnocchiAuth(s), retry: false, timeoutMs: Math.max(1_000, s.evaluationInterval * 250) });
    return { source: new GnocchiMetricSource(client), close: async () => client.close() };
  }
  const { api, close } = await openInProcessApi(s, 'alarm-evaluator', services);
  return { source: inProcessMetricSource(api, { type: 'basic', user: 'admin' }), close };
}

/**
 * This data folder's metric API for a role of this process, never listening (over
 * `services` when the process already has them open, else over its own): its own instance
 * in basic mode, reached only through inject, so the role reads as the administrator
 * whatever the listening API's auth mode.
 */
export async function openInProcessApi(s: Settings, role: string, services?: Services): Promise<{ api: FastifyInstance; close(): Promise<void> }> {
  const svc = services ?? await openServices(s);
  const api = buildApi({ ...svc, processor: svc.refresher, version: role, requestDeadlineMs: s.requestDeadlineMs, maxAnswerPoints: s.maxAnswerPoints },
    { ...DEFAULT_HTTP_CONFIG, authMode: 'basic', maxLimit: s.maxLimit });
  await api.ready();
  return {
    api,
    async close() {
      await api.close();
      if (!services) await svc.close();
    },
  };
}

export interface AlarmingParts {
  /** The alarm API on --alarm-port. */
  api?: { tls: TlsFiles | undefined; tokens: TokenVerifier | undefined; onListening?: (url: string, app: FastifyInstance) => void };
  /** An evaluator; `services`: the metric store this process has open, read in process. */
  evaluator?: { services?: Services };
  notifier?: boolean;
}

/**
 * Starts the parts of the alarm service this process runs, over one handle on the index
 * database (SQLite cannot overlap two write transactions of one process on two handles);
 * resolves to the function that stops them.
 */
export async function startAlarming(s: Settings, log: Logger, parts: AlarmingParts): Promise<() => Promise<void>> {
  mkdirSync(s.dataDir, { recursive: true });
  const hmacSecrets = parts.notifier ? readHmacSecrets(s.alarmHmacSecrets) : {};
  const database: AlarmDatabase = await openAlarmDatabase(s.indexerUrl);
  const closers: Array<() => Promise<void>> = [() => database.close()];
  const stopAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    await migrate(database, ALARMING_MIGRATIONS);
    const store = new AlarmStore(database.db, database.dialect);
    const roles: AlarmRolesOptions = { database, store, logger: log };
    if (parts.evaluator) {
      const { source, close } = await openMetricSource(s, parts.evaluator.services);
      closers.push(close);
      const membership: Membership = await openMembership(s.coordinationUrl);
      closers.push(() => membership.close());
      roles.evaluator = { source, membership, intervalMs: s.evaluationInterval * 1000, group: s.evaluatorGroup };
    }
    if (parts.notifier) {
      roles.notifier = {
        timeoutMs: s.notifierTimeout * 1000, leaseMs: s.notifierLease * 1000, pollIntervalMs: s.notifierPollInterval * 1000, hmacSecrets,
        backoff: { baseMs: Math.min(1_000, s.notifierMaxBackoff * 1000), maxMs: s.notifierMaxBackoff * 1000 },
      };
    }
    let notifierWake: (() => void) | undefined;
    if (roles.evaluator || roles.notifier) {
      const started = await startAlarmRoles(roles);
      const notifier = started.notifier;
      if (notifier) notifierWake = () => notifier.wake();
      closers.push(() => started.stop());
      if (started.evaluator) {
        log.info({ member: started.evaluator.memberId, group: started.evaluator.group, intervalSeconds: s.evaluationInterval, source: s.gnocchiUrl || 'in process' }, 'Tally alarm evaluator running');
      }
      if (started.notifier) log.info({ notifier: started.notifier.id }, 'Tally alarm notifier running');
    }
    if (parts.api) {
      // Events posted to the alarm API are evaluated as they arrive (Aodh's event alarms,
      // which Aodh takes from its message bus).
      const events = new EventEvaluator({
        listAlarms: (project) => store.list({ enabled: true, type: 'event', project_id: project }),
        ...eventRecorder(store, { wake: notifierWake }),
        onError: (err, alarm) => log.warn({ err, alarm_id: alarm?.alarm_id }, alarm ? 'event alarm left as it was' : 'event not evaluated'),
      });
      const app = buildAlarmServer({
        store, notifierDb: database.db, events, authMode: s.authMode, tokens: parts.api.tokens, policy: s.alarmPolicy,
        corsAllowedOrigins: s.corsAllowedOrigins, bodyLimit: s.bodyLimitBytes, https: parts.api.tls, log,
      });
      closers.push(() => app.close());
      await app.listen({ host: s.host, port: s.alarmPort });
      const host = s.host.includes(':') ? `[${s.host}]` : s.host;
      // --alarm-port 0 takes any free port: say which.
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : s.alarmPort;
      log.info({ url: `${parts.api.tls ? 'https' : 'http'}://${host}:${port}`, policy: s.alarmPolicy }, 'Tally alarm API listening');
      parts.api.onListening?.(`${parts.api.tls ? 'https' : 'http'}://${host}:${port}`, app);
    }
  } catch (e) {
    await stopAll().catch(() => undefined);
    throw e;
  }
  return stopAll;
}
