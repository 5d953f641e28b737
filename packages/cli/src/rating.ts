// The rating processor's part of the `tally` command: `tally rating` (a processor alone),
// the processor inside `tally serve`, `tally rating rerate` and `tally rating budget`.
// Usage is read from this data folder's metric store in process, or from --gnocchi-url;
// processors of one --rating-group share the scopes through --coordination-url.
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { GnocchiClient } from '@tally/client';
import { openMembership } from '@tally/coordination';
import type { TlsFiles, TokenVerifier } from '@tally/rest';
import {
  AlarmApiClient, BudgetError, BudgetStore, DEFAULT_METRICS_YAML, GnocchiUsageSource, MetricsConfigError, PartialRatingError,
  PricingError, RATING_MIGRATIONS, RatingProcessor, SqlRatingStore, StoreUsageSource, isoOfNs, loadPriceBook, migrateRating,
  openRatingDatabase, parseMetricsYaml, ringOwnership, type MetricConfig, type PriceBook, type RatingDatabase, type ScopePeriod, type UsageSource,
} from '@tally/rating';
import { ConfigError, type Settings } from './config.js';
import { gnocchiAuth } from './alarming.js';
import { paths as pricingPaths } from './pricing.js';
import { startRatingApi } from './rating-api.js';
import { openServices, type Services } from './services.js';

/** What --rating-metrics names, or the default; a wrong file stops the command before anything starts. */
export function ratingMetrics(s: Settings): MetricConfig[] {
  let text = DEFAULT_METRICS_YAML;
  if (s.ratingMetrics !== '') {
    try {
      text = readFileSync(s.ratingMetrics, 'utf8');
    } catch (e) {
      throw new ConfigError(`--rating-metrics ${s.ratingMetrics}: ${(e as Error).message}`);
    }
  }
  try {
    return parseMetricsYaml(text);
  } catch (e) {
    if (e instanceof MetricsConfigError) throw new ConfigError(`--rating-metrics ${s.ratingMetrics || '(default)'}: ${e.message}`);
    throw e;
  }
}

/** The metric store usage is read from: --gnocchi-url over HTTP, else this data folder's components in process. */
async function openUsageSource(s: Settings, metrics: MetricConfig[], services?: Services): Promise<{ source: UsageSource; close(): Promise<void> }> {
  const opts = { periodS: s.ratingPeriod };
  if (s.gnocchiUrl) {
    const client = new GnocchiClient({ url: s.gnocchiUrl, auth: gnocchiAuth(s) });
    return { source: new GnocchiUsageSource(client, metrics, opts), close: async () => client.close() };
  }
  const svc = services ?? await openServices(s);
  return { source: new StoreUsageSource(svc, metrics, opts), close: async () => { if (!services) await svc.close(); } };
}

/** Headers that make the rating service an administrator of the alarm API in this auth mode; null when it cannot be one. */
function alarmApiHeaders(s: Settings): Record<string, string> | null {
  switch (s.authMode) {
    case 'basic': return { authorization: `Basic ${Buffer.from('admin:').toString('base64')}` };
    case 'noauth': return { 'x-user-id': 'tally-rating', 'x-project-id': 'service', 'x-roles': 'admin' };
    case 'remoteuser': return { 'x-remote-user': 'admin' };
    default: return s.adminToken === '' ? null : { 'x-auth-token': s.adminToken };
  }
}

/** The prices in force, reloaded before each pass so that `tally pricing update` applies from the next. */
class Prices {
  book: PriceBook | null = null;
  constructor(readonly log: Logger) {}
  async reload(): Promise<void> {
    try {
      this.book = (await loadPriceBook(pricingPaths({}))).book;
    } catch (err) {
      // Priced mappings fail their periods (retried) until the pricing data is readable again.
      if (!(err instanceof PricingError)) throw err;
      this.log.warn({ err }, 'pricing data unreadable: priced mappings cannot be rated');
      this.book = null;
    }
  }
}

export interface RatingRoleParts {
  /** This process's metric store, read in process (serve). */
  services?: Services;
  /** The rating API on --rating-port over the same database handle (serve). */
  api?: { tls: TlsFiles | undefined; tokens: TokenVerifier | undefined };
  /** Whether to run a processor. */
  processor: boolean;
  /** Inside serve: the URL of its own alarm API once it listens (budgets fire there). */
  localAlarmUrl?: () => string | null;
}

/**
 * Starts the rating roles of this process over one handle on the index database; resolves
 * to the function that stops them (after the pass under way, whose writes are each atomic).
 */
export async function startRating(s: Settings, log: Logger, parts: RatingRoleParts): Promise<() => Promise<void>> {
  const metrics = parts.processor ? ratingMetrics(s) : [];
  mkdirSync(s.dataDir, { recursive: true });
  const database: RatingDatabase = await openRatingDatabase(s.indexerUrl);
  const closers: Array<() => Promise<void>> = [() => database.close()];
  const stopAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    await migrateRating(database, RATING_MIGRATIONS);
    const prices = new Prices(log);
    await prices.reload();
    if (parts.api) closers.push(await startRatingApi(s, log, parts.api, { database, prices: () => prices.book }));
    if (!parts.processor) return stopAll;
    const store = new SqlRatingStore(database.db, database.dialect);
    const usage = await openUsageSource(s, metrics, parts.services);
    closers.push(() => usage.close());
    const membership = await openMembership(s.coordinationUrl);
    closers.push(() => membership.close());
    const memberId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    const ring = await ringOwnership(membership, s.ratingGroup, memberId, { onError: (err) => log.warn({ err }, 'rating group membership') });
    closers.push(() => ring.close());
    const budgets = new BudgetStore(database.db);
    const headers = alarmApiHeaders(s);
    if (headers === null) log.warn('auth mode token without --admin-token: budgets are not checked (the alarm API would refuse the rating service)');
    const processor = (alarmUrl: string | null): RatingProcessor => new RatingProcessor({
      store, source: usage.source, periodS: s.ratingPeriod, currency: s.ratingCurrency, owns: ring.owns, prices: () => prices.book,
      ...(alarmUrl !== null && headers !== null ? { budgets: { store: budgets, alarms: new AlarmApiClient(alarmUrl, headers) } } : {}),
    });
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> = Promise.resolve();
    const pass = async (): Promise<void> => {
      try {
        await prices.reload();
        const r = await processor(s.ratingAlarmUrl || (parts.localAlarmUrl?.() ?? null)).runOnce();
        if (r.rated.length > 0) log.info({ periods: r.rated.length, budgetsReached: r.budgets?.length ?? 0 }, 'rated');
        if (r.budgetError !== undefined) log.warn({ err: r.budgetError }, 'budgets not checked');
      } catch (err) {
        // A failed pass leaves its remaining periods for the next one, from the scopes' state.
        log.warn({ err: err instanceof PartialRatingError ? err.cause : err, done: err instanceof PartialRatingError ? err.done.length : 0 }, 'rating pass failed');
      }
    };
    const loop = (): void => {
      if (stopped) return;
      running = pass().finally(() => {
        if (!stopped) timer = setTimeout(loop, s.ratingInterval * 1000);
      });
    };
    loop();
    closers.push(async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    });
    log.info({ member: memberId, group: s.ratingGroup, periodSeconds: s.ratingPeriod, metrics: metrics.length, source: s.gnocchiUrl || 'in process', budgets: headers === null ? 'off' : s.ratingAlarmUrl || (parts.localAlarmUrl ? 'local alarm API' : 'off') }, 'Tally rating processor running');
  } catch (e) {
    await stopAll().catch(() => undefined);
    throw e;
  }
  return stopAll;
}

/** An ISO 8601 instant (UTC when it names no offset) as ns. */
function instantNs(flag: string, v: unknown): bigint {
  const t = String(v ?? '');
  const ms = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(t) || !t.includes('T') ? t : `${t}Z`);
  if (t === '' || Number.isNaN(ms)) throw new ConfigError(`--${flag} must be an ISO 8601 instant such as 2024-01-01T00:00:00Z, got ${t}`);
  return BigInt(ms) * 1_000_000n;
}

const line = (word: string, p: ScopePeriod): string => `${word} ${p.scopeId} ${isoOfNs(p.begin)} ${isoOfNs(p.end)}\n`;

async function withRatingDatabase<T>(s: Settings, fn: (d: RatingDatabase) => Promise<T>): Promise<T> {
  mkdirSync(s.dataDir, { recursive: true });
  const database = await openRatingDatabase(s.indexerUrl);
  try {
    await migrateRating(database, RATING_MIGRATIONS);
    return await fn(database);
  } finally {
    await database.close();
  }
}

type Guard = <A extends unknown[]>(role: string, fn: (...args: A) => Promise<void>) => (...args: A) => Promise<void>;

export function addRatingCommand(
  prog: Command, withSettings: (cmd: Command) => Command, guard: Guard, resolve: (flags: Record<string, unknown>) => Settings,
  logger: (s: Settings, role: string) => Logger, onSignals: (stop: () => Promise<void>, log: Logger) => void,
): void {
  const rating = withSettings(prog.command('rating').description('run only a rating processor: it rates the scopes it owns among the processors of --rating-group (same index database and --coordination-url), reading usage in process or at --gnocchi-url'))
    .action(guard('rating', async (flags: Record<string, unknown>) => {
      const s = resolve(flags);
      const log = logger(s, 'rating');
      onSignals(await startRating(s, log, { processor: true }), log);
    }));

  withSettings(rating.command('rerate').description('rate again the periods of [--begin, --end) of each --scope with the current rules, replacing what was rated; prints each period as it is written, and on failure what was not rated (exit 1)'))
    .requiredOption('--scope <ids>', 'comma-separated scopes (projects)')
    .requiredOption('--begin <instant>', 'start, ISO 8601, on a period boundary')
    .requiredOption('--end <instant>', 'end (excluded), ISO 8601, on a period boundary')
    .action(guard('rating rerate', async (_own: Record<string, unknown>, cmd: Command) => {
      // Settings written after `rating` are parsed by it: take them from every level.
      const flags = cmd.optsWithGlobals();
      const s = resolve(flags);
      const scopes = String(flags.scope).split(',').map((x) => x.trim()).filter(Boolean);
      if (scopes.length === 0) throw new ConfigError('--scope names no scope');
      const begin = instantNs('begin', flags.begin);
      const end = instantNs('end', flags.end);
      const log = logger(s, 'rating rerate');
      await withRatingDatabase(s, async (database) => {
        const prices = new Prices(log);
        await prices.reload();
        const usage = await openUsageSource(s, ratingMetrics(s));
        try {
          const proc = new RatingProcessor({
            store: new SqlRatingStore(database.db, database.dialect), source: usage.source, periodS: s.ratingPeriod, currency: s.ratingCurrency,
            prices: () => prices.book,
            // Written as soon as committed, so that a run killed half way has said what it did.
            onRated: (p) => process.stdout.write(line('rated', p)),
          });
          let periods: ScopePeriod[];
          try {
            periods = scopes.flatMap((id) => proc.periods(id, begin, end));
          } catch (e) {
            throw new ConfigError((e as Error).message);
          }
          try {
            await proc.ratePeriods(periods);
          } catch (e) {
            if (!(e instanceof PartialRatingError)) throw e;
            for (const p of e.notDone) process.stdout.write(line('not-rated', p));
            process.stderr.write(`tally rating rerate: ${e.message}\n`);
            process.exitCode = 1;
          }
        } finally {
          await usage.close();
        }
      });
    }));

  const budget = rating.command('budget').description('budgets per project: an alarm of the alarm service fires when the month\'s spending (or forecast) reaches the amount');
  const budgetRun = (role: string, fn: (s: Settings, store: BudgetStore, flags: Record<string, unknown>, arg?: string) => Promise<void>) =>
    guard(role, async (...args: unknown[]) => {
      // Commander passes (arguments..., options, command); settings may be parsed at any level.
      const cmd = args[args.length - 1] as Command;
      const flags = cmd.optsWithGlobals();
      const s = resolve(flags);
      try {
        await withRatingDatabase(s, (d) => fn(s, new BudgetStore(d.db), flags, typeof args[0] === 'string' ? args[0] : undefined));
      } catch (e) {
        if (!(e instanceof BudgetError)) throw e;
        process.stderr.write(`tally ${role}: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
  withSettings(budget.command('set').description('create a budget for a project (prints it as JSON)'))
    .requiredOption('--project <id>', 'the project')
    .requiredOption('--amount <decimal>', 'amount per calendar month (UTC)')
    .option('--currency <code>', 'ISO 4217 code (default: --rating-currency)')
    .option('--on-forecast', "fire when the month's forecast reaches the amount, not only its spending")
    .option('--alarm-action <url...>', 'where the alarm notifies (webhook URLs, as Aodh alarm_actions)')
    .action(budgetRun('rating budget set', async (s, store, f) => {
      const b = await store.create({
        project_id: String(f.project), amount: String(f.amount), currency: typeof f.currency === 'string' ? f.currency : s.ratingCurrency,
        on_forecast: f.onForecast === true, alarm_actions: Array.isArray(f.alarmAction) ? f.alarmAction.map(String) : [],
      });
      process.stdout.write(`${JSON.stringify(b)}\n`);
    }));
  withSettings(budget.command('list').description('list budgets (JSON, one per line)'))
    .option('--project <id>', 'only this project\'s')
    .action(budgetRun('rating budget list', async (_s, store, f) => {
      for (const b of await store.list(typeof f.project === 'string' ? f.project : undefined)) process.stdout.write(`${JSON.stringify(b)}\n`);
    }));
  withSettings(budget.command('delete <budget_id>').description('delete a budget (its alarm stays in the alarm service)'))
    .action(budgetRun('rating budget delete', async (_s, store, _f, id) => {
      if (!(await store.delete(String(id)))) throw new BudgetError(`no budget ${String(id)}`);
    }));
}
