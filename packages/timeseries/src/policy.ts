// Archive policies: validation of user input, aggregation method sets, Gnocchi's
// default policies, PATCH rules and archive policy rule matching.

import { NS_PER_SECOND, formatTimespan, type Nanos } from './time.js';
import { secondsRepr } from './pyfloat.js';
import { compileGlob, type Glob } from './fnmatch.js';

export interface ArchivePolicyItem {
  granularity: Nanos;
  points: number | null;
  timespan: Nanos | null;
}

export interface ArchivePolicy {
  name: string;
  backWindow: number;
  aggregationMethods: string[];
  definition: ArchivePolicyItem[];
}

export interface ArchivePolicyRule {
  name: string;
  metricPattern: string;
  archivePolicyName: string;
}

export class ArchivePolicyError extends Error {
  override name = 'ArchivePolicyError';
}

// ------------------------------------------------------------ aggregation methods

const BASIC_METHODS = ['mean', 'sum', 'last', 'max', 'min', 'std', 'median', 'first', 'count'];
const PCT_METHODS = Array.from({ length: 99 }, (_, i) => `${i + 1}pct`);
const PLAIN_METHODS = [...BASIC_METHODS, ...PCT_METHODS];

/** Every aggregation method Gnocchi can store, in a stable canonical order. */
export const VALID_AGGREGATION_METHODS: readonly string[] = [
  ...PLAIN_METHODS,
  ...PLAIN_METHODS.map((m) => `rate:${m}`),
];
const VALID_SET = new Set(VALID_AGGREGATION_METHODS);
const CANONICAL_ORDER = new Map(VALID_AGGREGATION_METHODS.map((m, i) => [m, i]));

/** Gnocchi's `[archive_policy] default_aggregation_methods`. */
export const DEFAULT_AGGREGATION_METHODS: readonly string[] = ['mean', 'min', 'max', 'sum', 'std', 'count'];

export function isValidAggregationMethod(method: string): boolean {
  return VALID_SET.has(method);
}

function isAcceptedEntry(entry: string): boolean {
  if (entry === '*') return true;
  const bare = entry[0] === '+' || entry[0] === '-' ? entry.slice(1) : entry;
  return VALID_SET.has(bare);
}

function pythonSetRepr(values: string[]): string {
  return `{${values.map((v) => `'${v}'`).join(', ')}}`;
}

function sortCanonical(methods: Iterable<string>): string[] {
  // Unknown entries (Gnocchi keeps "+max" verbatim in some cases) go last, sorted.
  const rank = (m: string) => CANONICAL_ORDER.get(m) ?? VALID_AGGREGATION_METHODS.length;
  return [...methods].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Gnocchi's aggregation_methods semantics: "*" means all; if every entry is "+x"/"-x"
 * they adjust `defaults`; otherwise the listed set, then "+x" adds and "-x" removes.
 * Like Gnocchi, a mixed list keeps its "+x"/"-x" entries verbatim too.
 */
export function resolveAggregationMethods(input: string[] | undefined, defaults: readonly string[]): string[] {
  if (input !== undefined && input.length > MAX_AGGREGATION_METHOD_ENTRIES) {
    throw new ArchivePolicyError(`aggregation_methods must have at most ${MAX_AGGREGATION_METHOD_ENTRIES} entries`);
  }
  const entries = new Set(input ?? defaults);
  const invalid = [...entries].filter((e) => !isAcceptedEntry(e));
  if (invalid.length > 0) {
    throw new ArchivePolicyError(`Invalid value for aggregation_methods: ${pythonSetRepr(invalid)}`);
  }
  let result: Set<string>;
  if (entries.has('*')) result = new Set(VALID_AGGREGATION_METHODS);
  else if ([...entries].every((e) => e.startsWith('-') || e.startsWith('+'))) result = new Set(defaults);
  else result = new Set(entries);
  for (const entry of entries) {
    if (entry[0] === '-') result.delete(entry.slice(1));
    else if (entry[0] === '+') result.add(entry.slice(1));
  }
  return sortCanonical(result);
}

// ------------------------------------------------------------ definitions

// ------------------------------------------------------------ bounds
//
// Every number of a policy is stored in the index and used by the engine for every metric
// of the policy: a value either cannot hold makes the policy unreadable for every user
// (a list of policies fails), so it is refused here, before it is stored. docs/LIMITS.md
// lists each bound with its reason.

/** Granularity and timespan are signed 64-bit nanoseconds (index BIGINT columns, engine timestamps). */
export const MAX_DURATION_NS: Nanos = (1n << 63n) - 1n;
/**
 * Points of one definition item: a series is read into typed arrays and its splits count
 * points with unsigned 32-bit integers, so more than 2^32 - 1 could never be returned.
 */
export const MAX_POINTS = 0xffff_ffff;
/** back_window is an INTEGER column: 32-bit signed on PostgreSQL. */
export const MAX_BACK_WINDOW = 0x7fff_ffff;
/** Archive policy (and rule) names and rule patterns are VARCHAR(255) columns. */
export const MAX_ARCHIVE_POLICY_NAME_LENGTH = 255;
/** Default of the configurable bound on definition items (`--max-archive-policy-items`). */
export const DEFAULT_MAX_DEFINITION_ITEMS = 100;
/**
 * Entries of an aggregation_methods list: "*" and each valid method bare, with "+" and
 * with "-". A longer list necessarily repeats itself.
 */
export const MAX_AGGREGATION_METHOD_ENTRIES = 1 + 3 * VALID_AGGREGATION_METHODS.length;

/** Bounds an operator may change (`tally --max-archive-policy-items`). */
export interface ArchivePolicyLimits {
  maxDefinitionItems: number;
}

export const DEFAULT_ARCHIVE_POLICY_LIMITS: Readonly<ArchivePolicyLimits> = { maxDefinitionItems: DEFAULT_MAX_DEFINITION_ITEMS };

function checkDuration(what: 'granularity' | 'timespan', d: Nanos): void {
  if (d > MAX_DURATION_NS) {
    throw new ArchivePolicyError(`${what} must be at most ${MAX_DURATION_NS} nanoseconds (${formatTimespan(MAX_DURATION_NS)})`);
  }
}

function checkPoints(points: number | bigint): void {
  if (points > MAX_POINTS) throw new ArchivePolicyError(`points must be at most ${MAX_POINTS}`);
}

/** The bounds of a whole policy; makeArchivePolicyItem already bounds each item it builds. */
export function validateArchivePolicy(policy: ArchivePolicy, limits: ArchivePolicyLimits = DEFAULT_ARCHIVE_POLICY_LIMITS): void {
  // In code points, as the column counts them; UTF-16 units are never fewer.
  const { name } = policy;
  if (name.length > MAX_ARCHIVE_POLICY_NAME_LENGTH && [...name].length > MAX_ARCHIVE_POLICY_NAME_LENGTH) {
    throw new ArchivePolicyError(`name must be at most ${MAX_ARCHIVE_POLICY_NAME_LENGTH} characters`);
  }
  if (policy.backWindow > MAX_BACK_WINDOW) throw new ArchivePolicyError(`back_window must be at most ${MAX_BACK_WINDOW}`);
  if (!Number.isInteger(policy.backWindow) || policy.backWindow < 0) throw new ArchivePolicyError('back_window must be a non-negative integer');
  if (policy.aggregationMethods.length > MAX_AGGREGATION_METHOD_ENTRIES) {
    throw new ArchivePolicyError(`aggregation_methods must have at most ${MAX_AGGREGATION_METHOD_ENTRIES} entries`);
  }
  validateDefinition(policy.definition, limits);
}

/** Build one definition item from any two of granularity / points / timespan. */
export function makeArchivePolicyItem(input: { granularity?: Nanos; points?: number; timespan?: Nanos }): ArchivePolicyItem {
  let { granularity, timespan } = input;
  const points = input.points;
  // Bounded before any arithmetic: products of unbounded inputs are what overflow.
  if (granularity !== undefined) checkDuration('granularity', granularity);
  if (timespan !== undefined) checkDuration('timespan', timespan);
  if (points !== undefined) checkPoints(points);
  if (granularity !== undefined && points !== undefined && timespan !== undefined) {
    if (timespan !== granularity * BigInt(Math.trunc(points))) {
      throw new ArchivePolicyError('timespan ≠ granularity × points');
    }
  }
  if (granularity !== undefined && granularity <= 0n) throw new ArchivePolicyError('Granularity should be > 0');
  if (points !== undefined && !(points > 0)) throw new ArchivePolicyError('Number of points should be > 0');
  if (granularity === undefined) {
    if (points === undefined || timespan === undefined) {
      throw new ArchivePolicyError('At least two of granularity/points/timespan must be provided');
    }
    granularity = timespan / BigInt(Math.trunc(points));
    // Gnocchi would accept a zero granularity here and break later; refuse it now.
    if (granularity <= 0n) throw new ArchivePolicyError('Granularity should be > 0');
  }
  if (points === undefined) {
    if (timespan === undefined) return { granularity, points: null, timespan: null };
    const computed = timespan / granularity;
    if (computed <= 0n) throw new ArchivePolicyError('Calculated number of points is < 0');
    checkPoints(computed);
    return { granularity, points: Number(computed), timespan: granularity * computed };
  }
  const whole = Math.trunc(points);
  timespan = granularity * BigInt(whole);
  checkDuration('timespan', timespan);
  return { granularity, points: whole, timespan };
}

/**
 * Reject a definition using one granularity twice, and one whose items are out of the
 * bounds above (items may come from elsewhere than makeArchivePolicyItem).
 */
export function validateDefinition(items: readonly ArchivePolicyItem[], limits: ArchivePolicyLimits = DEFAULT_ARCHIVE_POLICY_LIMITS): void {
  if (items.length > limits.maxDefinitionItems) {
    throw new ArchivePolicyError(`definition must have at most ${limits.maxDefinitionItems} items`);
  }
  const seen = new Set<bigint>();
  for (const item of items) {
    if (item.granularity <= 0n) throw new ArchivePolicyError('Granularity should be > 0');
    checkDuration('granularity', item.granularity);
    if (item.points !== null && (!Number.isSafeInteger(item.points) || item.points <= 0)) {
      throw new ArchivePolicyError('Number of points should be > 0');
    }
    if (item.points !== null) checkPoints(item.points);
    if (item.timespan !== null) checkDuration('timespan', item.timespan);
    if (seen.has(item.granularity)) {
      throw new ArchivePolicyError(`More than one archive policy uses granularity \`${secondsRepr(item.granularity)}'`);
    }
    seen.add(item.granularity);
  }
}

function byGranularity(items: readonly ArchivePolicyItem[]): ArchivePolicyItem[] {
  return [...items].sort((a, b) => (a.granularity < b.granularity ? -1 : a.granularity > b.granularity ? 1 : 0));
}

/**
 * Gnocchi's PATCH rule: the granularities must stay the same (only points/timespan
 * change). Throws with the reason Gnocchi gives; the API prefixes
 * "Archive policy <name> does not support change: ".
 */
export function checkDefinitionUpdate(oldDef: readonly ArchivePolicyItem[], newDef: readonly ArchivePolicyItem[]): void {
  const current = byGranularity(oldDef);
  const next = byGranularity(newDef);
  if (current.length !== next.length) throw new ArchivePolicyError('Cannot add or drop granularities');
  for (let i = 0; i < current.length; i++) {
    if (current[i].granularity !== next[i].granularity) {
      throw new ArchivePolicyError(`${secondsRepr(current[i].granularity)} granularity interval was changed`);
    }
  }
}

// ------------------------------------------------------------ defaults

const S = NS_PER_SECOND;
const MINUTE = 60n * S;
const HOUR = 60n * MINUTE;
const DAY = 24n * HOUR;

/** The policies `gnocchi-upgrade` creates (low, medium, high, bool). */
export function defaultArchivePolicies(): ArchivePolicy[] {
  const item = (granularity: Nanos, timespan: Nanos) => makeArchivePolicyItem({ granularity, timespan });
  const defaults = [...DEFAULT_AGGREGATION_METHODS];
  return [
    { name: 'low', backWindow: 0, aggregationMethods: defaults, definition: [item(5n * MINUTE, 30n * DAY)] },
    {
      name: 'medium',
      backWindow: 0,
      aggregationMethods: [...defaults],
      definition: [item(MINUTE, 7n * DAY), item(HOUR, 365n * DAY)],
    },
    {
      name: 'high',
      backWindow: 0,
      aggregationMethods: [...defaults],
      definition: [item(S, HOUR), item(MINUTE, 7n * DAY), item(HOUR, 365n * DAY)],
    },
    { name: 'bool', backWindow: 3600, aggregationMethods: ['last'], definition: [item(S, 365n * DAY)] },
  ];
}

// ------------------------------------------------------------ rules

/**
 * The rule Gnocchi applies to a new metric: rules ordered by metric pattern
 * descending, then name ascending; the first whose pattern matches (fnmatch) wins.
 * Returns null when none matches.
 */
export function matchArchivePolicyRule<R extends ArchivePolicyRule>(rules: readonly R[], metricName: string | null): R | null {
  return archivePolicyRuleMatcher(rules)(metricName);
}

/**
 * matchArchivePolicyRule for many names against one set of rules: the rules are ordered
 * once and each pattern is compiled at most once.
 */
export function archivePolicyRuleMatcher<R extends ArchivePolicyRule>(rules: readonly R[]): (metricName: string | null) => R | null {
  const ordered = [...rules].sort(
    (a, b) =>
      compareStrings(b.metricPattern, a.metricPattern) || compareStrings(a.name, b.name),
  );
  const globs: (Glob | undefined)[] = new Array(ordered.length);
  return (metricName) => {
    // Gnocchi matches a nameless metric as "".
    const name = metricName ?? '';
    for (let i = 0; i < ordered.length; i++) {
      const glob = (globs[i] ??= compileGlob(ordered[i].metricPattern));
      if (glob.test(name)) return ordered[i];
    }
    return null;
  };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
