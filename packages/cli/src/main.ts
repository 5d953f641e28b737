// The `tally` command.
import { readFileSync } from 'node:fs';
import { IncomingConfigError, changeSackCount } from '@tally/incoming';
import { StorageConfigError } from '@tally/storage';
import { CoordinationConfigError } from '@tally/coordination';
import { createSecureContext } from 'node:tls';
import { Command, Option } from 'commander';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { CONSOLE_PUBLIC_DIR } from '@tally/console';
import { buildApi, StoreTokenVerifier, UserStoreError, type MetricdStatus, type TokenVerifier, type UserStore } from '@tally/rest';
import { ConfigError, SPECS, isLoopbackHost, listenRefusal, resolveSettings, type Settings } from './config.js';
import { openServices, startMetricdThread, upgrade, type Services } from './services.js';
import { addUserCommands, openUserStore, userStorePath } from './user.js';
import { startAlarming, upgradeAlarming, withAdminToken } from './alarming.js';
import { addRatingCommand, ratingMetrics, startRating } from './rating.js';
import { AgentConfigError, loadAgentConfig } from '@tally/agent';
import { addAgentCommand, startServeAgent } from './agent.js';
import { addPricingCommand } from './pricing.js';
import { addMigrateCommand } from './migrate.js';
import { addClientCommands } from './client/index.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function withSettings(cmd: Command): Command {
  cmd.option('-c, --config <file>', 'JSON config file whose keys are the long option names (env TALLY_CONFIG)');
  for (const s of SPECS) {
    cmd.addOption(new Option(`--${s.flag}${s.flagOnly ? '' : ' <value>'}`, `${s.help} (env ${s.env})`));
  }
  return cmd;
}

/**
 * Wraps a command's action: a settings or usage error ends the process with a one-line
 * message and exit code 2, rather than a stack trace.
 */
function guard<A extends unknown[]>(role: string, fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof ConfigError || e instanceof UserStoreError || e instanceof IncomingConfigError ||
          e instanceof StorageConfigError || e instanceof CoordinationConfigError || e instanceof AgentConfigError) {
        process.stderr.write(`tally ${role}: ${e.message}\n`);
        process.exit(2);
      }
      const env = environmentFailure(e);
      if (env) {
        process.stderr.write(`tally ${role}: ${env}\n`);
        process.exit(1);
      }
      throw e;
    }
  };
}

/**
 * A failure of the machine rather than of Tally (a read-only or full data folder, a
 * database that refuses connections, a port in use): one line naming the cause, no stack.
 * Errors without a system or driver code are bugs and keep their stack trace.
 */
export function environmentFailure(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^(E[A-Z]+|SQLITE_[A-Z_]+|[0-9A-Z]{5})$/.test(code)) return undefined;
  const hint = /^(EACCES|EPERM|EROFS|SQLITE_CANTOPEN|SQLITE_READONLY)/.test(code)
    ? ' (is the data folder writable by this user?)'
    : /^(ENOSPC|SQLITE_FULL)/.test(code) ? ' (the disk is full)' : '';
  return `${e.message} [${code}]${hint}`;
}

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

function logger(s: Settings, role: string): Logger {
  return pino({ level: s.logLevel, base: { role } });
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
  status(): MetricdStatus;
  stop(): Promise<void>;
}

function startWorkers(s: Settings, log: Logger): WorkerPool {
  let processed = 0;
  const workers = Array.from({ length: Math.max(1, s.metricdWorkers) }, (_v, i) => {
    const w = startMetricdThread(s, 'loop', `metricd-${i}`);
    w.on('message', (m: { type?: string; measures?: number }) => {
      if (m.type === 'scan') processed += m.measures ?? 0;
    });
    w.on('error', (err) => log.error({ err }, 'metricd worker failed'));
    return w;
  });
  return {
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

function onSignals(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ sig }, 'stopping');
    stop().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

export function program(): Command {
  const prog = new Command('tally')
    .description('Tally: a Gnocchi-compatible metric store (and, later, alarming, metering and cost)')
    .version(VERSION, '-V, --version');

  withSettings(prog.command('serve').description('run the API, processing workers, the alarm API (--alarm-port), an alarm evaluator, an alarm notifier, the rating API (--rating-port) and a rating processor in one process (upgrades an empty data folder)'))
    .action(guard('serve', async (flags: Record<string, unknown>) => {
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
    }));

  withSettings(prog.command('api').description('run only the HTTP API (processing is left to `tally metricd`)'))
    .action(guard('api', async (flags: Record<string, unknown>) => {
      const s = resolveSettings(flags);
      checkListen(s);
      const tls = readTls(s);
      const log = logger(s, 'api');
      onSignals(await runApi(s, log, tls), log);
    }));

  withSettings(prog.command('alarm-api').description("run only the alarm API (Aodh's v2) on --alarm-port, over the index database"))
    .action(guard('alarm-api', async (flags: Record<string, unknown>) => {
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
    }));

  withSettings(prog.command('rating-api').description("run only the rating API (CloudKitty's v1 and v2) on --rating-port, over the index database"))
    .action(guard('rating-api', async (flags: Record<string, unknown>) => {
      const s = resolveSettings(flags);
      checkListen(s);
      const log = logger(s, 'rating-api');
      const { tokens, users } = await tokenVerifier(s, log);
      const stop = await startRating(s, log, { api: { tls: readTls(s), tokens }, processor: false });
      onSignals(async () => {
        await stop();
        await users?.close();
      }, log);
    }));

  withSettings(prog.command('alarm-evaluator').description('run only an alarm evaluator: it shares the alarms with the other evaluators of --evaluator-group (same index database and --coordination-url) and reads metrics in process, or at --gnocchi-url'))
    .action(guard('alarm-evaluator', async (flags: Record<string, unknown>) => {
      const s = resolveSettings(flags);
      const log = logger(s, 'alarm-evaluator');
      onSignals(await startAlarming(s, log, { evaluator: {} }), log);
    }));

  withSettings(prog.command('alarm-notifier').description("run only an alarm notifier: it delivers the notifications the evaluators queue in the index database (any number of notifiers share them)"))
    .action(guard('alarm-notifier', async (flags: Record<string, unknown>) => {
      const s = resolveSettings(flags);
      const log = logger(s, 'alarm-notifier');
      onSignals(await startAlarming(s, log, { notifier: true }), log);
    }));

  withSettings(prog.command('metricd').description('run only processing workers on the data folder'))
    .action(guard('metricd', async (flags: Record<string, unknown>) => {
      const s = resolveSettings(flags);
      const log = logger(s, 'metricd');
      const pre = await openServices(s, log);
      await ensureSchema(pre, log);
      await pre.close();
      const pool = startWorkers(s, log);
      log.info({ workers: s.metricdWorkers, dataDir: s.dataDir }, 'Tally metricd running');
      onSignals(() => pool.stop(), log);
    }));

  withSettings(prog.command('upgrade').description("create or migrate the schema; create Gnocchi's default archive policies on a new index"))
    .option('--skip-archive-policies', 'do not create the default archive policies and rule')
    .option('--skip-resource-types', "do not create Gnocchi's standard resource types (instance, volume, ...)")
    .action(guard('upgrade', async (flags: Record<string, unknown>) => {
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
    }));

  withSettings(prog.command('change-sack-size').argument('<sacks>', 'the new number of sacks')
    .description('change the number of incoming sacks (the backlog must be empty and every Tally process stopped)'))
    .action(guard('change-sack-size', async (sacks: string, flags: Record<string, unknown>) => {
      const s = resolveSettings(flags);
      const n = Number(sacks);
      if (!Number.isInteger(n) || n < 1 || n > 65536) throw new ConfigError(`sacks must be an integer in [1, 65536], got ${sacks}`);
      const r = await changeSackCount(s.incomingUrl, n);
      process.stdout.write(r.from === r.to ? `the store already has ${r.to} sacks\n` : `sacks: ${r.from} -> ${r.to}\n`);
    }));

  addUserCommands(prog, withSettings, guard);
  addAgentCommand(prog, guard);
  addPricingCommand(prog);
  addMigrateCommand(prog, withSettings, guard);
  addRatingCommand(prog, withSettings, guard, resolveSettings, logger, onSignals);
  addClientCommands(prog);

  // The endpoint benchmark (packages/bench) keeps its own option parser: every argument
  // after `bench` goes to it unchanged, so `tally bench --help` prints the bench's help.
  prog.command('bench')
    .description('benchmark a Gnocchi-compatible endpoint, Tally, or Tally against the real Gnocchi (see `tally bench --help`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { main } = await import('@tally/bench');
      process.exitCode = await main(args);
    });
  return prog;
}
