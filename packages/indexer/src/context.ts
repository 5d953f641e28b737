// What the modules of each role (policies, rules, metrics, resource types, resources) share with SqlIndexer.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { resolveLimits, type IndexerLimits } from './limits.js';
import type { DialectName, IndexerOptions } from './types.js';

export interface Ctx {
  db: Kysely<Database>;
  dialect: DialectName;
  now: () => bigint;
  limits: IndexerLimits;
  write<T>(fn: (tx: Kysely<Database>) => Promise<T>): Promise<T>;
}

/** Wall clock in ns with microsecond resolution (Gnocchi's utcnow() precision). */
export function microsecondClock(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

export function resolveOptions(o: IndexerOptions): Pick<Ctx, 'now' | 'limits'> {
  return {
    limits: resolveLimits(o.limits),
    now: o.now ?? microsecondClock,
  };
}
