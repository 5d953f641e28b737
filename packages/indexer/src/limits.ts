// Bounds of what the index can store. A value beyond a column's range or a database limit
// would either fail for its sender with a 500 or, worse, be stored and then break the lists
// every user reads; each is refused before it reaches the database, with a message naming
// the bound. docs/LIMITS.md lists them with their reasons.
import { ValueTooLong } from './errors.js';

/** Names, ids and patterns live in VARCHAR(255) columns (PostgreSQL counts code points). */
export const MAX_NAME_LENGTH = 255;
/** metric.unit is VARCHAR(31), as Gnocchi's. */
export const MAX_UNIT_LENGTH = 31;
/**
 * A resource type's table holds its key and one column per attribute, and PostgreSQL
 * allows 1 600 columns per table, dropped ones included (SQLite allows 2 000).
 */
export const MAX_RESOURCE_TYPE_COLUMNS = 1599;
/**
 * Default of the configurable bound on attributes per resource type. A PostgreSQL row
 * must fit in 8 160 bytes; at this count even a row whose every attribute is a long string
 * (moved out of line, 18 bytes each) fits.
 */
export const DEFAULT_MAX_RESOURCE_TYPE_ATTRIBUTES = 250;
/** Names that would reach an object's prototype if used as keys: never valid names. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Bounds an operator may change (`tally --max-resource-type-attributes`). */
export interface IndexerLimits {
  /** Attributes one resource type may have; at most MAX_RESOURCE_TYPE_COLUMNS. */
  maxResourceTypeAttributes: number;
}

export const DEFAULT_INDEXER_LIMITS: Readonly<IndexerLimits> = {
  maxResourceTypeAttributes: DEFAULT_MAX_RESOURCE_TYPE_ATTRIBUTES,
};

/** Fills in defaults and refuses values the database could not honour. */
export function resolveLimits(given: Partial<IndexerLimits> = {}): IndexerLimits {
  const limits = { ...DEFAULT_INDEXER_LIMITS, ...given };
  const n = limits.maxResourceTypeAttributes;
  if (!Number.isInteger(n) || n < 1 || n > MAX_RESOURCE_TYPE_COLUMNS) {
    throw new RangeError(`maxResourceTypeAttributes must be an integer from 1 to ${MAX_RESOURCE_TYPE_COLUMNS}, got ${n}`);
  }
  return limits;
}

/** True when `s` has more than `max` code points (what a VARCHAR(max) counts). */
export function longerThan(s: string, max: number): boolean {
  // Code points never outnumber UTF-16 units: most strings are settled without counting.
  return s.length > max && [...s].length > max;
}

/** Throws ValueTooLong when `value` (a string, or null/undefined for "not given") is too long. */
export function checkLength(field: string, value: string | null | undefined, max = MAX_NAME_LENGTH): void {
  if (typeof value === 'string' && longerThan(value, max)) throw new ValueTooLong(field, max);
}

/** The strings of a metric that the metric table stores. */
export function checkMetricFields(name: string | null | undefined, unit: string | null | undefined, creator: string | null): void {
  checkLength('Metric name', name);
  checkLength('Metric unit', unit, MAX_UNIT_LENGTH);
  checkLength('Creator', creator);
}
