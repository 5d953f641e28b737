// The rating processor's part of the `tally` command: `tally rating` (a processor alone),
// the processor inside `tally serve`, `tally rating rerate` and `tally rating budget`
// (rating-command.ts defines the commands).
// Usage is read from this data folder's metric store in process, or from --gnocchi-url;
// processors of one --rating-group share the scopes through --coordination-url.
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { GnocchiClient } from '@tally/client';
import { openMembership } from '@tally/coordination';
import type { TlsFiles, TokenVerifier } from '@tally/rest';
import {
  AlarmApiClient, BudgetError, BudgetStore, DEFAULT_BATCH_PERIODS, DEFAULT_METRICS_YAML, GnocchiUsageSource, MetricsConfigError, PartialRatingError,
  PricingError, RATING_MIGRATIONS, RatingProcessor, SqlRatingStore, StoreUsageSource, isoOfNs, loadPriceBook, migrateRating,
  openRatingDatabase, parseMetricsYaml, ringOwnership, type MetricConfig, type PriceBook, type RatingDatabase, type ScopePeriod, type UsageSource,
} from '@tally/rating';
import { ConfigError, intIn, resolveSettings, type Settings } from './config.js';
import { gnocchiAuth } from './alarming.js';
import { paths as pricingPaths } from './pricing.js';
import { startRatingApi } from './rating-api.js';
import { openServices, type Services } from './services.js';
import { logger, onSignals } from './daemon.js';

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
  // Without the serving process's services, this process rates and serves nothing else: its
  // storage reads may block it (one system call each rather than a thread-pool round trip).
  const svc = services ?? await openServices(s, undefined, { dedicatedThread: true });
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

/** `tally rating`: a rating processor alone. */
export async function runRating(flags: Record<string, unknown>): Promise<void> {
  const s = resolveSettings(flags);
  const log = logger(s, 'rating');
  onSignals(await startRating(s, log, { processor: true }), log);
}

/** `tally rating rerate`; `flags` holds the options of every level of the command line. */
export async function rerate(flags: Record<string, unknown>): Promise<void> {
  const s = resolveSettings(flags);
  const scopes = String(flags.scope).split(',').map((x) => x.trim()).filter(Boolean);
  if (scopes.length === 0) throw new ConfigError('--scope names no scope');
  const begin = instantNs('begin', flags.begin);
  const end = instantNs('end', flags.end);
  const batchPeriods = flags.batchPeriods === undefined ? DEFAULT_BATCH_PERIODS : intIn('--batch-periods', 1, Number.MAX_SAFE_INTEGER)(String(flags.batchPeriods));
  const log = logger(s, 'rating rerate');
  await withRatingDatabase(s, async (database) => {
    const prices = new Prices(log);
    await prices.reload();
    const usage = await openUsageSource(s, ratingMetrics(s));
    try {
      const proc = new RatingProcessor({
        store: new SqlRatingStore(database.db, database.dialect), source: usage.source, periodS: s.ratingPeriod, currency: s.ratingCurrency,
        prices: () => prices.book,
        // Written as soon as committed (a batch's periods together), so that a run killed half
        // way has said what it did.
        onRated: (p) => process.stdout.write(line('rated', p)),
      });
      let periods: ScopePeriod[];
      try {
        periods = scopes.flatMap((id) => proc.periods(id, begin, end));
      } catch (e) {
        throw new ConfigError((e as Error).message);
      }
      try {
        await proc.ratePeriods(periods, { batchPeriods });
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
}

export type BudgetCommand = 'set' | 'list' | 'delete';

const BUDGET_ACTIONS: Record<BudgetCommand, (s: Settings, store: BudgetStore, flags: Record<string, unknown>, id?: string) => Promise<void>> = {
  set: async (s, store, f) => {
    const b = await store.create({
      project_id: String(f.project), amount: String(f.amount), currency: typeof f.currency === 'string' ? f.currency : s.ratingCurrency,
      on_forecast: f.onForecast === true, alarm_actions: Array.isArray(f.alarmAction) ? f.alarmAction.map(String) : [],
    });
    process.stdout.write(`${JSON.stringify(b)}\n`);
  },
  list: async (_s, store, f) => {
    for (const b of await store.list(typeof f.project === 'string' ? f.project : undefined)) process.stdout.write(`${JSON.stringify(b)}\n`);
  },
  delete: async (_s, store, _f, id) => {
    if (!(await store.delete(String(id)))) throw new BudgetError(`no budget ${String(id)}`);
  },
};

/** `tally rating budget set|list|delete`: a budget's own failure is one line and exit code 1. */
export async function runBudget(role: string, command: BudgetCommand, flags: Record<string, unknown>, id: string | undefined): Promise<void> {
  const s = resolveSettings(flags);
  try {
    await withRatingDatabase(s, (d) => BUDGET_ACTIONS[command](s, new BudgetStore(d.db), flags, id));
  } catch (e) {
    if (!(e instanceof BudgetError)) throw e;
    process.stderr.write(`tally ${role}: ${e.message}\n`);
    process.exitCode = 1;
  }
}
