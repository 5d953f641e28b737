// Archive policies: validation of user input, aggregation method sets, Gnocchi's
// default policies, PATCH rules and archive policy rule matching.

import { NS_PER_SECOND, type Nanos } from './time.js';
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

/** Python repr() of a float, used where Gnocchi prints seconds ("1.0", "3.6", "1e-05"). */
export function pythonFloatRepr(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e');
  const exp = Number(expText);
  if (exp >= -5 + 1 && exp < 16) {
    const fixed = x.toFixed(Math.max(0, mantissa.replace(/^-?\d\.?/, '').length - exp));
    return fixed.includes('.') ? fixed : `${fixed}.0`;
  }
  const expOut = `${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return `${mantissa}e${expOut}`;
}

export function secondsRepr(d: Nanos): string {
  return pythonFloatRepr(Number(d) / 1e9);
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

/** Build one definition item from any two of granularity / points / timespan. */
export function makeArchivePolicyItem(input: { granularity?: Nanos; points?: number; timespan?: Nanos }): ArchivePolicyItem {
  let { granularity, timespan } = input;
  const points = input.points;
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
    return { granularity, points: Number(computed), timespan: granularity * computed };
  }
  const whole = Math.trunc(points);
  timespan = granularity * BigInt(whole);
  return { granularity, points: whole, timespan };
}

/** Reject a definition using one granularity twice. */
export function validateDefinition(items: readonly ArchivePolicyItem[]): void {
  const seen = new Set<bigint>();
  for (const item of items) {
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
