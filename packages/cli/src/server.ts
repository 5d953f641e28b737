// What the server commands of `tally` run (serve, api, the alarm and rating roles, metricd,
// upgrade, change-sack-size). main.ts loads this module when one of them starts: it is the
// door to every server package (Fastify, the indexer, the engine, metricd...), which the
// client commands and --help never need.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { changeSackCount } from '@tally/incoming';
import { CONSOLE_PUBLIC_DIR } from '@tally/console';
import { buildApi, StoreTokenVerifier, type MetricdStatus, type TokenVerifier, type UserStore } from '@tally/rest';
import { loadAgentConfig } from '@tally/agent';
import { ConfigError, isLoopbackHost, listenRefusal, resolveSettings, type Settings } from './config.js';
import { openServices, startMetricdThread, upgrade, type Services } from './services.js';
import { openUserStore, userStorePath } from './user.js';
import { startAlarming, upgradeAlarming, withAdminToken } from './alarming.js';
import { ratingMetrics, startRating } from './rating.js';
import { startServeAgent } from './agent.js';
import { logger, onSignals } from './daemon.js';
import { VERSION } from './version.js';
import { warmUpApi } from './warm-up.js';

type Flags = Record<string, unknown>;

/** Refuses, before anything starts, to expose a trusting auth mode beyond loopback. */
function checkListen(s: Settings): void {
  const why = listenRefusal(s.host, s.authMode, s.insecure, s.alarmPolicy);
  if (why) throw new ConfigError(why);
}

type TlsFiles = { cert: Buffer; key: Buffer };

/** The certificate and key, checked before anything starts. */
function readTls(s: Settings): TlsFiles | undefined {
  if (!s.tlsCert) return undefined;
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ConfigError(`--${flag} ${path}: ${(e as Error).message}`);
    }
  };
  const files = { cert: read('tls-cert', s.tlsCert), key: read('tls-key', s.tlsKey) };
  try {
    createSecureContext(files); // a wrong or mismatched key fails here, with a clear message
  } catch (e) {
    throw new ConfigError(`--tls-cert ${s.tlsCert} / --tls-key ${s.tlsKey}: ${(e as Error).message}`);
  }
  return files;
}

/** Applies migrations when the index is new, so that `serve` works on an empty folder. */
async function ensureSchema(svc: Services, log: Logger): Promise<void> {
  if ((await svc.indexer.schemaVersion()) === 0) {
    const r = await upgrade(svc.indexer);
    log.info(r, 'data folder was empty: upgraded it');
  } else {
    await svc.indexer.upgrade();
  }
}

/** The token checker of auth mode token: users' tokens, and the service token when one is set. */
async function tokenVerifier(s: Settings, log: Logger): Promise<{ tokens: TokenVerifier | undefined; users: UserStore | null }> {
  if (s.authMode !== 'token') return { tokens: undefined, users: null };
  const users = await openUserStore(s);
  if ((await users.listUsers()).length === 0 && !s.adminToken) {
    log.warn({ users: userStorePath(s) }, 'auth mode token and no user yet: every request will be refused; create one with `tally user create NAME --project PROJECT --role admin` and `tally user token create NAME`');
  }
  if (!isLoopbackHost(s.host) && !s.tlsCert) {
    log.warn('API tokens will cross the network in clear text: give --tls-cert and --tls-key, or put a TLS proxy in front');
  }
  const store = new StoreTokenVerifier(users, { cacheTtlMs: s.tokenCacheTtl * 1000 });
  return { tokens: s.adminToken ? withAdminToken(s.adminToken, store) : store, users };
}

interface WorkerPool {
  /** Settles once every thread has warmed up (or exited). */
  warmed: Promise<void>;
  status(): MetricdStatus;
  stop(): Promise<void>;
}

function startWorkers(s: Settings, log: Logger): WorkerPool {
  let processed = 0;
  const warm: Promise<void>[] = [];
  const workers = Array.from({ length: Math.max(1, s.metricdWorkers) }, (_v, i) => {
    const w = startMetricdThread(s, 'loop', `metricd-${i}`);
    warm.push(new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
      w.on('message', (m: { type?: string; measures?: number }) => {
        if (m.type === 'warm') resolve();
        if (m.type === 'scan') processed += m.measures ?? 0;
      });
    }));
    w.on('error', (err) => log.error({ err }, 'metricd worker failed'));
    return w;
  });
  return {
    warmed: Promise.all(warm).then(() => undefined),
    status: () => ({ processors: workers.map((w) => `${process.pid}.${w.threadId}`), statistics: { 'measures processed': processed } }),
    stop: async () => {
      for (const w of workers) w.postMessage('stop');
      // A worker finishes its current sack (a commit is atomic either way); past the
      // grace period it is terminated: at worst a batch is re-read and skipped.
      await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
        const t = setTimeout(() => void w.terminate(), 10_000);
        w.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      })));
    },
  };
}

async function runApi(s: Settings, log: Logger, tls: TlsFiles | undefined, pool?: WorkerPool, opts: { alarms?: boolean; agent?: boolean } = {}): Promise<() => Promise<void>> {
  const { tokens, users } = await tokenVerifier(s, log);
  // The console reaches the alarm API of this process (started below, when it runs one).
  let alarmApi: FastifyInstance | null = null;
  // Refreshes fold in a thread of their own: the API's event loop serves everyone.
  const svc = await openServices(s, log, { refreshInThreads: true });
  await ensureSchema(svc, log);
  const app = buildApi(
    {
      ...svc, processor: svc.refresher, version: VERSION, metricdStatus: pool ? async () => pool.status() : undefined,
      requestDeadlineMs: s.requestDeadlineMs, maxAnswerPoints: s.maxAnswerPoints,
    },
    {
      authMode: s.authMode, maxLimit: s.maxLimit, corsAllowedOrigins: s.corsAllowedOrigins, proxyHeaders: s.proxyHeaders,
      proxyPrefix: s.proxyPrefix, bodyLimit: s.bodyLimitBytes, remoteUserHeader: 'x-remote-user',
      archivePolicyLimits: { maxDefinitionItems: s.maxArchivePolicyItems },
    },
    {
      logger: log,
      tokens,
      https: tls,
      console: { root: CONSOLE_PUBLIC_DIR, alarmApi: () => alarmApi },
    },
  );
  // The port opens once this thread and the processing threads have warmed up, so that
  // the first requests (and the processing of their measures) meet compiled code.
  await warmUpApiThread(s, log);
  await pool?.warmed;
  await app.listen({ host: s.host, port: s.port });
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  log.info({ url: `${tls ? 'https' : 'http'}://${host}:${s.port}`, dataDir: s.dataDir, authMode: s.authMode }, 'Tally API listening');
  // The alarm service reads this process's metric store in process.
  let alarmUrl: string | null = null;
  const stopAlarms = opts.alarms ? await startAlarming(s, log, { api: { tls, tokens, onListening: (u, app) => { alarmUrl = u; alarmApi = app; } }, evaluator: { services: svc }, notifier: true }) : undefined;
  // The rating API and processor; budgets fire through this process's alarm API.
  const stopRating = opts.alarms ? await startRating(s, log, { api: { tls, tokens }, processor: s.ratingProcessor, services: svc, localAlarmUrl: () => alarmUrl }) : undefined;
  // Only when asked: a store serve starts must stay empty (Gnocchi's suites expect it so).
  const stopAgent = opts.agent && s.agentConfig ? await startServeAgent(s, log, svc) : undefined;
  return async () => {
    await stopAgent?.();
    await stopRating?.();
    await stopAlarms?.();
    await app.close();
    await svc.close();
    await users?.close();
  };
}

async function warmUpApiThread(s: Settings, log: Logger): Promise<void> {
  if (s.warmUpMs === 0) return;
  try {
    log.info(await warmUpApi(s, { budgetMs: s.warmUpMs }), 'API warmed up');
  } catch (err) {
    // Scratch data only: a failure costs speed at start, never correctness.
    log.warn({ err }, 'warm-up failed; the API starts without it');
  }
}

/** `tally serve`. */
export async function serve(flags: Flags): Promise<void> {
  const s = resolveSettings(flags);
  checkListen(s);
  const tls = readTls(s);
  if (s.agentConfig) loadAgentConfig(s.agentConfig); // a wrong file stops serve before anything starts
  if (s.ratingProcessor) ratingMetrics(s); // so does a wrong metrics file
  const log = logger(s, 'serve');
  // Schema first, so that worker threads never race an upgrade.
  const pre = await openServices(s, log);
  await ensureSchema(pre, log);
  await pre.close();
  await upgradeAlarming(s);
  const pool = startWorkers(s, log);
  const stopApi = await runApi(s, log, tls, pool, { alarms: true, agent: true });
  onSignals(async () => {
    await stopApi();
    await pool.stop();
  }, log);
}

/** `tally api`. */
export async function api(flags: Flags): Promise<void> {
  const s = resolveSettings(flags);
  checkListen(s);
  const tls = readTls(s);
  const log = logger(s, 'api');
  onSignals(await runApi(s, log, tls), log);
}

/** `tally alarm-api`. */
export async function alarmApi(flags: Flags): Promise<void> {
  const s = resolveSettings(flags);
  checkListen(s);
  const tls = readTls(s);
  const log = logger(s, 'alarm-api');
  const { tokens, users } = await tokenVerifier(s, log);
  const stop = await startAlarming(s, log, { api: { tls, tokens } });
  onSignals(async () => {
    await stop();
    await users?.close();
  }, log);
}

/** `tally rating-api`. */
export async function ratingApi(flags: Flags): Promise<void> {
  const s = resolveSettings(flags);
  checkListen(s);
  const log = logger(s, 'rating-api');
  const { tokens, users } = await tokenVerifier(s, log);
  const stop = await startRating(s, log, { api: { tls: readTls(s), tokens }, processor: false });
  onSignals(async () => {
    await stop();
    await users?.close();
  }, log);
}

/** `tally alarm-evaluator`. */
export async function alarmEvaluator(flags: Flags): Promise<void> {
  const s = resolveSettings(flags);
  const log = logger(s, 'alarm-evaluator');
  onSignals(await startAlarming(s, log, { evaluator: {} }), log);
}

/** `tally alarm-notifier`. */
export async function alarmNotifier(flags: Flags): Promise<void> {
  const s = resolveSettings(flags);
  const log = logger(s, 'alarm-notifier');
  onSignals(await startAlarming(s, log, { notifier: true }), log);
}

/** `tally metricd`. */
export async function metricd(flags: Flags): Promise<void> {
  const s = resolveSettings(flags);
  const log = logger(s, 'metricd');
  const pre = await openServices(s, log);
  await ensureSchema(pre, log);
  await pre.close();
  const pool = startWorkers(s, log);
  log.info({ workers: s.metricdWorkers, dataDir: s.dataDir }, 'Tally metricd running');
  onSignals(() => pool.stop(), log);
}

/** `tally upgrade`. */
export async function upgradeSchema(flags: Flags): Promise<void> {
  const s = resolveSettings(flags);
  const log = logger(s, 'upgrade');
  const svc = await openServices(s, log);
  try {
    const r = await upgrade(svc.indexer, { skipArchivePolicies: flags.skipArchivePolicies === true, skipResourceTypes: flags.skipResourceTypes === true });
    const alarmingSteps = await upgradeAlarming(s);
    log.info({ ...r, alarmingSteps }, 'upgrade done');
  } finally {
    await svc.close();
  }
}

/** `tally change-sack-size SACKS`. */
export async function changeSackSize(sacks: string, flags: Flags): Promise<void> {
  const s = resolveSettings(flags);
  const n = Number(sacks);
  if (!Number.isInteger(n) || n < 1 || n > 65536) throw new ConfigError(`sacks must be an integer in [1, 65536], got ${sacks}`);
  const r = await changeSackCount(s.incomingUrl, n);
  process.stdout.write(r.from === r.to ? `the store already has ${r.to} sacks\n` : `sacks: ${r.from} -> ${r.to}\n`);
}
