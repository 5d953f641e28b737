// The rating processor: for each scope it owns, rates the periods that are over and whose data
// the metric store has processed (its backlog is empty), oldest first: a scope's backlog is
// read in batches of adjacent periods (one read per metric for a batch) and each batch is
// written with the scope's state in one store transaction, so a period is rated once and a
// crash between two batches loses nothing. Scopes are shared among processors by a hash ring
// over the members of a coordination group: each scope has one owner at a time. Re-rating replaces what was
// stored for each period asked for; an operation over many scope-periods that fails answers
// with what it did and what it did not, so it can be resumed with the rest. Priced mappings
// take the price in force at each period's start; budgets are checked after each pass that
// rated something.
import { HashRing, type JoinOptions, type Membership, type MembershipWatch } from '@tally/coordination';
import type { HashmapRules, RatedPeriod, RatingStore, ScopePeriod, ScopeState, UsagePoint } from '../model.js';
import { resolveRules } from '../pricing/mapping.js';
import type { PriceBook } from '../pricing/pricing.js';
import { checkBudgets, type AlarmApiClient, type BudgetCrossing, type BudgetStore } from '../budget/budget.js';
import { DEFAULT_CURRENCY, type Currency } from '../money.js';
import { ratingPipeline } from '../rules/index.js';
import { NS_PER_S, isoOfNs, type UsageSource } from '../collector/gnocchi.js';

export const DEFAULT_PERIOD_S = 3600;
/**
 * A week of hourly periods: a read's cost is mostly per resource and metric, not per point,
 * so a scope's month backlog costs five reads per metric; a week of points of every
 * resource of a scope stays a modest transaction and answer.
 */
export const DEFAULT_BATCH_PERIODS = 168;

/** Runs of adjacent periods of one scope, at most `size` long, in the order given. */
function batches(periods: readonly ScopePeriod[], size: number): ScopePeriod[][] {
  const out: ScopePeriod[][] = [];
  let cur: ScopePeriod[] = [];
  for (const p of periods) {
    const last = cur[cur.length - 1];
    if (last !== undefined && (cur.length >= size || last.scopeId !== p.scopeId || last.end !== p.begin)) {
      out.push(cur);
      cur = [];
    }
    cur.push(p);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** An operation over several scope-periods stopped on an error; `done` are written, `notDone` are not. */
export class PartialRatingError extends Error {
  constructor(readonly done: readonly ScopePeriod[], readonly notDone: readonly ScopePeriod[], cause: unknown) {
    super(`rating stopped after ${done.length} of ${done.length + notDone.length} scope-periods (${notDone.length} not rated, from ${describe(notDone[0])}): ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'PartialRatingError';
  }
}

/** Priced mappings exist but the processor was given no pricing data. */
export class PricingUnavailableError extends Error {
  constructor() {
    super('some hashmap mappings take their cost from pricing data (pricing_key), but no pricing data is loaded');
    this.name = 'PricingUnavailableError';
  }
}

export class InvalidPeriodError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'InvalidPeriodError';
  }
}

function describe(p: ScopePeriod | undefined): string {
  return p === undefined ? '-' : `${p.scopeId} ${isoOfNs(p.begin)}..${isoOfNs(p.end)}`;
}

export interface ProcessorOptions {
  store: RatingStore;
  source: UsageSource;
  /** Rating period, s (1 hour by default). */
  periodS?: number;
  currency?: Currency;
  /** The scopes to rate; by default those the source finds (resources' project_id) and the store knows. */
  scopes?: readonly string[];
  /** Where a scope never rated starts (ns); the start of the current UTC month by default. */
  start?: bigint;
  /** Whether this processor rates `scopeId` (see `ringOwnership`); all by default. */
  owns?: (scopeId: string) => boolean;
  now?: () => bigint;
  /**
   * The pricing data priced mappings take their cost from, read at each operation (so an
   * update applies from the next one). Without it, a priced mapping fails its periods.
   */
  prices?: () => PriceBook | null;
  /** Told of each scope-period once its write is committed (progress of a long re-rating). */
  onRated?: (p: ScopePeriod) => void;
  /**
   * Most periods of one scope a pass reads at once and writes in one transaction
   * (DEFAULT_BATCH_PERIODS). A batch is written whole or not at all.
   */
  batchPeriods?: number;
  /** Budgets to check after each pass that rated periods (fired through the alarm API). */
  budgets?: { store: BudgetStore; alarms: AlarmApiClient };
}

export interface RunReport {
  rated: ScopePeriod[];
  /** Periods over but not rated because the metric store still has measures to process. */
  waiting: boolean;
  /** Budgets this pass found reached (and fired). */
  budgets?: BudgetCrossing[];
  /** Checking the budgets failed (the periods are rated all the same; the next pass checks again). */
  budgetError?: unknown;
}

function monthStart(nowNs: bigint): bigint {
  const d = new Date(Number(nowNs / 1_000_000n));
  return BigInt(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)) * 1_000_000n;
}

export class RatingProcessor {
  readonly periodNs: bigint;
  readonly currency: Currency;
  readonly #o: ProcessorOptions;
  readonly #now: () => bigint;
  readonly #batchPeriods: number;

  constructor(opts: ProcessorOptions) {
    const periodS = opts.periodS ?? DEFAULT_PERIOD_S;
    if (!Number.isInteger(periodS) || periodS <= 0) throw new InvalidPeriodError(`rating period must be a whole number of seconds > 0, got ${periodS}`);
    this.periodNs = BigInt(periodS) * NS_PER_S;
    this.currency = opts.currency ?? DEFAULT_CURRENCY;
    this.#o = opts;
    this.#now = opts.now ?? ((): bigint => BigInt(Date.now()) * 1_000_000n);
    this.#batchPeriods = opts.batchPeriods ?? DEFAULT_BATCH_PERIODS;
    if (!Number.isInteger(this.#batchPeriods) || this.#batchPeriods < 1) throw new InvalidPeriodError(`batch of periods must be a whole number >= 1, got ${this.#batchPeriods}`);
  }

  /** The periods of [begin, end) for `scopeId`; both must fall on period boundaries. */
  periods(scopeId: string, begin: bigint, end: bigint): ScopePeriod[] {
    if (begin % this.periodNs !== 0n || end % this.periodNs !== 0n || end <= begin) {
      throw new InvalidPeriodError(`${isoOfNs(begin)}..${isoOfNs(end)} is not a whole number of ${this.periodNs / NS_PER_S} s periods`);
    }
    const out: ScopePeriod[] = [];
    for (let b = begin; b < end; b += this.periodNs) out.push({ scopeId, begin: b, end: b + this.periodNs });
    return out;
  }

  async #scopes(begin: bigint, end: bigint, known: readonly ScopeState[]): Promise<string[]> {
    if (this.#o.scopes !== undefined) return [...this.#o.scopes];
    const found = new Set(await this.#o.source.scopes(begin, end));
    for (const s of known) found.add(s.scope_id);
    return [...found].sort();
  }

  /**
   * Rates `periods` in order. Adjacent periods of one scope, up to `batchPeriods` of them (1
   * by default: period by period, as an operator's re-rating goes), are read at once (one
   * read per metric for all of them) and written in one store transaction with the scope's
   * state: a batch is written whole or not at all, and `onRated` hears of its periods once
   * it is committed.
   */
  async ratePeriods(periods: readonly ScopePeriod[], opts: { batchPeriods?: number } = {}): Promise<ScopePeriod[]> {
    const batchPeriods = Math.max(1, opts.batchPeriods ?? 1);
    const done: ScopePeriod[] = [];
    if (periods.length === 0) return done;
    try {
      const [modules, rules] = await Promise.all([this.#o.store.enabledModules(), this.#o.store.hashmapRules()]);
      const priced = rules.mappings.some((m) => m.pricing_key != null);
      const book = priced ? this.#o.prices?.() ?? null : null;
      // Rules resolved once per distinct set of prices: pricing data changes rarely, so
      // consecutive periods share their compiled rules.
      const resolved = new Map<string, HashmapRules>();
      const rulesAt = (p: ScopePeriod): { key: string; rules: HashmapRules } => {
        if (!priced) return { key: '', rules };
        if (book === null) throw new PricingUnavailableError();
        const r = resolveRules(rules, book, Number(p.begin / 1_000_000n), this.currency);
        const key = r.mappings.filter((m) => m.pricing_key != null).map((m) => m.cost).join('\u0000');
        if (!resolved.has(key)) resolved.set(key, r);
        return { key, rules: resolved.get(key) ?? r };
      };
      const pipelines = new Map<string, ReturnType<typeof ratingPipeline>>();
      const rate = (p: ScopePeriod, usage: readonly UsagePoint[]): RatedPeriod => {
        const at = rulesAt(p);
        const pipeKey = `${p.scopeId}\u0000${at.key}`;
        let pipe = pipelines.get(pipeKey);
        if (pipe === undefined) { pipe = ratingPipeline(modules, at.rules, p.scopeId); pipelines.set(pipeKey, pipe); }
        return { period: p, points: pipe.rate(usage) };
      };
      const read = (batch: readonly ScopePeriod[]): Promise<UsagePoint[][]> => {
        const first = batch[0];
        return batch.length === 1
          ? this.#o.source.usage(first.scopeId, first.begin, first.end).then((u) => [u])
          : this.#o.source.usageOfPeriods(first.scopeId, first.begin, batch[batch.length - 1].end, this.periodNs);
      };
      const all = batches(periods, batchPeriods);
      // With batches, the next batch is read while this one is rated and written: reading
      // waits on storage, writing on the database. Its error, if any, is the next batch's.
      const ahead = batchPeriods > 1;
      let next: Promise<UsagePoint[][]> | null = null;
      for (const [k, batch] of all.entries()) {
        const usage = await (next ?? read(batch));
        next = null;
        if (ahead && k + 1 < all.length) {
          next = read(all[k + 1]);
          next.catch(() => undefined);
        }
        const rated = batch.map((p, i) => rate(p, usage[i]));
        if (rated.length === 1) await this.#o.store.writeRated(batch[0], rated[0].points, this.currency);
        else await this.#o.store.writeRatedPeriods(rated, this.currency);
        for (const p of batch) {
          done.push(p);
          this.#o.onRated?.(p);
        }
      }
    } catch (e) {
      throw new PartialRatingError(done, periods.slice(done.length), e);
    }
    return done;
  }

  /**
   * One pass: every owned scope's periods from its state (or `start`) up to the last one
   * over, if the metric store has processed everything it received.
   */
  async runOnce(): Promise<RunReport> {
    const now = this.#now();
    const lastEnd = (now / this.periodNs) * this.periodNs;
    const start = this.#o.start ?? monthStart(now);
    if (lastEnd <= start) return { rated: [], waiting: false };
    if (await this.#o.source.backlog() > 0) return { rated: [], waiting: true };
    const todo: ScopePeriod[] = [];
    // Every scope's state in one read rather than one query per scope (a thousand projects).
    const known = await this.#o.store.scopes();
    const states = new Map(known.map((s) => [s.scope_id, s]));
    for (const scopeId of await this.#scopes(start, lastEnd, known)) {
      if (this.#o.owns !== undefined && !this.#o.owns(scopeId)) continue;
      const state = states.get(scopeId) ?? null;
      if (state !== null && !state.active) continue;
      const from = state?.last_processed ?? start;
      if (from < lastEnd) todo.push(...this.periods(scopeId, from, lastEnd));
    }
    const rated = await this.ratePeriods(todo, { batchPeriods: this.#batchPeriods });
    const report: RunReport = { rated, waiting: false };
    if (rated.length > 0 && this.#o.budgets !== undefined) {
      try {
        report.budgets = await checkBudgets(this.#o.budgets.store, this.#o.store, this.#o.budgets.alarms, lastEnd);
      } catch (e) {
        report.budgetError = e;
      }
    }
    return report;
  }

  /**
   * Rates again [begin, end) of each scope (after a rule change); resumable from the error's
   * `notDone`. One period per read and write: an operator follows it period by period.
   */
  async rerate(scopeIds: readonly string[], begin: bigint, end: bigint): Promise<ScopePeriod[]> {
    return this.ratePeriods(scopeIds.flatMap((s) => this.periods(s, begin, end)));
  }
}

/** Which scopes this member owns: a hash ring over the live members of `group`. */
export interface RingOwnership {
  owns(scopeId: string): boolean;
  close(): Promise<void>;
}

export async function ringOwnership(membership: Membership, group: string, memberId: string, opts: Partial<JoinOptions> & { pollMs?: number; onError?: (e: unknown) => void } = {}): Promise<RingOwnership> {
  const member = await membership.join(group, memberId, { heartbeatMs: opts.heartbeatMs ?? 2000, timeoutMs: opts.timeoutMs ?? 10_000 });
  let ring = new HashRing(await membership.members(group));
  const watch: MembershipWatch = membership.watch(group, (c) => { ring = new HashRing(c.members); }, { ...(opts.pollMs === undefined ? {} : { pollMs: opts.pollMs }), ...(opts.onError === undefined ? {} : { onError: opts.onError }) });
  return {
    owns: (scopeId) => ring.ownerOf(scopeId) === memberId,
    async close() {
      watch.stop();
      await member.leave();
    },
  };
}
