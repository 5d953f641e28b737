// What the alarm comparisons (scripts/aodh-side-by-side, `--scenario alarms`) run on: one
// Tally (`tally serve`, its metric API and its alarm API) and Debian's Aodh 15 (aodh-api and
// aodh-evaluator through ../shared/reference/aodh-server.sh) reading that Tally as its
// Gnocchi. Tally's evaluator and notifier run inside the calling process over Tally's index
// database, with Tally's metric API as their source, as a deployment's evaluator would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LocalMembership } from '@tally/coordination';
import { openSqlDatabase } from '@tally/indexer';
import { GnocchiClient } from '@tally/client';
import { migrate, openAlarmDatabase, type Alarm, type AlarmDatabase, type AlarmNotification, type AlarmState } from '@tally/alarming';
import { ALARM_STORE_MIGRATIONS, AlarmStore } from '@tally/alarming/store';
import { Evaluator, GnocchiMetricSource, type RoundStats, type Transition } from '@tally/alarming/evaluator';
import { enqueue, Notifier, NOTIFIER_MIGRATIONS } from '@tally/alarming/notifier';
import { freePort, processTree } from './system.js';
import { stopTree } from './targets.js';

/** Identity headers of Aodh's noauth mode: an administrator of project `bench`. */
export const AODH_ADMIN_HEADERS: Readonly<Record<string, string>> = {
  'x-user-id': 'bench', 'x-project-id': 'bench', 'x-roles': 'admin',
};

export function basicAuth(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** An answer of an alarm API (Aodh's or Tally's): status and parsed JSON body. */
export interface ApiAnswer<T> {
  status: number;
  body: T;
}

/** One JSON request to an Aodh v2 API (either implementation). */
export async function alarmRequest<T>(base: string, headers: Record<string, string>, method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    // kept as text: an error page
  }
  return { status: res.status, body: parsed as T };
}

export interface AodhServer {
  url: string;
  /** Root of the script's process tree. */
  pid: number;
  /** PostgreSQL URL of Aodh's database (the script names it after its data folder and pid). */
  databaseUrl: string;
  databaseName: string;
  evaluatorLog: string;
  log: string;
  /** aodh-evaluator's processes (cotyledon's master and its worker). */
  evaluatorPids(): number[];
  stop(): Promise<void>;
}

export interface AodhStartOptions {
  script: string;
  /** Where aodh-evaluator reads measures (basic auth as admin). */
  gnocchiUrl: string;
  /** aodh-evaluator's evaluation_interval, seconds. */
  intervalS: number;
  /** A fresh folder for the script's files. */
  dataDir: string;
  readyTimeoutMs: number;
  onLog(message: string): void;
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Installs Debian's Aodh 15 (and PostgreSQL) through the reference script when missing. */
export function ensureAodhInstalled(script: string, onLog: (m: string) => void): void {
  if (!existsSync(script)) throw new Error(`reference script not found: ${script}`);
  if (existsSync('/usr/bin/aodh-api') && existsSync('/usr/bin/aodh-evaluator')) return;
  onLog(`installing the reference Aodh: ${script} --install`);
  const r = spawnSync('bash', [script, '--install'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
  if (r.status !== 0) throw new Error(`${script} --install failed (${r.status ?? r.signal})`);
}

/** Starts Aodh 15's API and evaluator; resolves once the API answers. */
export async function startAodh(o: AodhStartOptions): Promise<AodhServer> {
  ensureAodhInstalled(o.script, o.onLog);
  mkdirSync(o.dataDir, { recursive: true });
  const port = await freePort();
  const log = join(o.dataDir, 'server.log');
  const fd = openSync(log, 'a');
  const env: NodeJS.ProcessEnv = {
    ...process.env, AODH_PORT: String(port), DATA_DIR: o.dataDir, GNOCCHI_URL: o.gnocchiUrl, EVALUATION_INTERVAL: String(o.intervalS),
  };
  const child: ChildProcess = spawn('bash', [o.script], { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the Aodh script');
  // As the script names it: aodh_<its folder's name, lower case, [a-z0-9_]>_<its pid>.
  const databaseName = `aodh_${basename(o.dataDir).replace(/[^a-zA-Z0-9_]/g, '_').toLowerCase()}_${pid}`;
  const url = `http://127.0.0.1:${port}`;
  const server: AodhServer = {
    url, pid, databaseName, log,
    databaseUrl: `postgresql://root@/${databaseName}?host=/var/run/postgresql`,
    evaluatorLog: join(o.dataDir, 'evaluator.log'),
    evaluatorPids: () => processTree(pid).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('aodh-evaluator');
      } catch {
        return false;
      }
    }),
    stop: () => stopTree(child, 20_000),
  };
  o.onLog(`started aodh 15 (pid ${pid}) on ${url}, evaluator every ${o.intervalS} s reading ${o.gnocchiUrl}, files in ${o.dataDir}`);
  const deadline = Date.now() + o.readyTimeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`aodh exited (${child.exitCode ?? child.signalCode}); log ${log}:\n${tail(log)}`);
      try {
        if ((await alarmRequest(url, AODH_ADMIN_HEADERS, 'GET', '/v2/alarms')).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`aodh did not answer within ${o.readyTimeoutMs / 1000} s; log ${log}:\n${tail(log)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

/** Opens Aodh's PostgreSQL database (to read evaluate_timestamp, or to add alarms in bulk). */
export async function openAodhDatabase(server: AodhServer): Promise<Kysely<unknown>> {
  return (await openSqlDatabase<unknown>(server.databaseUrl)).db;
}

/** The actions Aodh notifies for an alarm entering `state`. */
export function actionsFor(alarm: Alarm, state: AlarmState): string[] {
  if (state === 'alarm') return alarm.alarm_actions;
  if (state === 'ok') return alarm.ok_actions;
  return alarm.insufficient_data_actions;
}

export interface TallyAlarmingOptions {
  /** Tally's index database (where `tally serve` keeps alarms). */
  indexerUrl: string;
  /** Tally's metric API, the evaluator's source. */
  gnocchiUrl: string;
  user: string;
  password: string;
  /** A folder for the evaluator's group membership. */
  membershipDir: string;
  /** Alarms evaluated at once (the evaluator's concurrency). */
  concurrency: number;
  /** Run a Notifier on the same database, woken after every state change. */
  notifier: boolean;
  /** Called before the state change of an alarm with actions is written, with its request id. */
  onDecision?(requestId: string, alarm: Alarm, t: Transition): void;
}

/**
 * Tally's evaluator (and notifier) as a deployment runs them, driven round by round: the
 * evaluator's source is the metric API over HTTP, its transitions go through AlarmStore
 * (state, history) with the notification queued in the same transaction.
 */
export class TallyAlarming {
  readonly store: AlarmStore;
  readonly evaluator: Evaluator;
  readonly notifier: Notifier | null;
  readonly #database: AlarmDatabase;
  readonly #membership: LocalMembership;
  readonly #client: GnocchiClient;

  private constructor(database: AlarmDatabase, o: TallyAlarmingOptions) {
    this.#database = database;
    this.store = new AlarmStore(database.db, database.dialect);
    this.#membership = new LocalMembership({ dir: o.membershipDir });
    this.#client = new GnocchiClient({
      url: o.gnocchiUrl, auth: { type: 'basic', user: o.user, password: o.password },
      maxSockets: o.concurrency, timeoutMs: 10_000, retry: { attempts: 1, totalMs: 10_000 },
    });
    this.notifier = o.notifier ? new Notifier({ database, concurrency: 16, perReceiverConcurrency: 8 }) : null;
    const store = this.store;
    const notifier = this.notifier;
    const change = async (alarm: Alarm, t: Transition): Promise<void> => {
      const actions = actionsFor(alarm, t.state);
      const requestId = `req-${randomUUID()}`;
      if (actions.length > 0) o.onDecision?.(requestId, alarm, t);
      const written = await store.transitionState(alarm.alarm_id, {
        state: t.state, reason: t.reason, reasonData: t.reasonData, expectedState: t.previous,
      }, actions.length === 0 || notifier === null ? undefined : async (tx) => {
        const n: AlarmNotification = {
          alarm_id: alarm.alarm_id, alarm_name: alarm.name, severity: alarm.severity, previous: t.previous, current: t.state,
          reason: t.reason, reason_data: t.reasonData, actions, request_id: requestId, project_id: alarm.project_id,
        };
        await enqueue(tx, n);
      });
      if (written !== null && actions.length > 0) notifier?.wake();
    };
    this.evaluator = new Evaluator({
      intervalMs: 60_000, membership: this.#membership, source: new GnocchiMetricSource(this.#client),
      concurrency: o.concurrency, memberId: 'bench',
      listAlarms: () => store.list(),
      onTransition: change,
      onRepeat: change,
    });
  }

  static async open(o: TallyAlarmingOptions): Promise<TallyAlarming> {
    const database = await openAlarmDatabase(o.indexerUrl);
    try {
      await migrate(database, [...ALARM_STORE_MIGRATIONS, ...NOTIFIER_MIGRATIONS]);
      const t = new TallyAlarming(database, o);
      await t.#membership.join(t.evaluator.group, t.evaluator.memberId, { heartbeatMs: 10_000, timeoutMs: 600_000 });
      t.notifier?.start();
      return t;
    } catch (e) {
      await database.close();
      throw e;
    }
  }

  round(): Promise<RoundStats> {
    return this.evaluator.round();
  }

  async close(): Promise<void> {
    await this.notifier?.stop();
    await this.#membership.close();
    this.#client.close();
    await this.#database.close();
  }
}
