// What the modules of each role (policies, rules, metrics, resource types, resources) share with SqlIndexer.
import type { Kysely } from 'kysely';
import { parseIsoTimestamp } from './attribute-values.js';
import type { Database } from './schema.js';
import { resolveLimits, type IndexerLimits } from './limits.js';
import type { DialectName, IndexerOptions } from './types.js';

export interface Ctx {
  db: Kysely<Database>;
  dialect: DialectName;
  parseTimestamp: (input: string | number) => bigint;
  parseTimespan: (input: string | number) => bigint;
  now: () => bigint;
  limits: IndexerLimits;
  write<T>(fn: (tx: Kysely<Database>) => Promise<T>): Promise<T>;
}

/** Wall clock in ns with microsecond resolution (Gnocchi's utcnow() precision). */
export function microsecondClock(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** Default timespan parser: a number of seconds (string or number). */
function secondsTimespan(input: string | number): bigint {
  const n = typeof input === 'number' ? input : Number(input.trim());
  if (typeof input === 'string' && input.trim() === '') throw new Error('Unable to parse timespan');
  if (!Number.isFinite(n)) throw new Error('Unable to parse timespan');
  return BigInt(Math.round(n * 1e6)) * 1000n;
}

export function resolveOptions(o: IndexerOptions): Pick<Ctx, 'parseTimestamp' | 'parseTimespan' | 'now' | 'limits'> {
  return {
    limits: resolveLimits(o.limits),
    parseTimestamp: o.parseTimestamp ?? parseIsoTimestamp,
    parseTimespan: o.parseTimespan ?? secondsTimespan,
    now: o.now ?? microsecondClock,
  };
}
