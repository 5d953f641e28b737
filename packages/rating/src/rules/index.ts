// The rating modules and the order they run in: enabled modules by priority, highest first
// (a stable sort, so equal priorities keep the order the store lists them in), each one
// taking the points as the previous one left them, as CloudKitty's orchestrator chains its
// processors. Pure functions: the rules and module states are read by the caller.
import type { HashmapRules, RatedPoint, RatingModuleState, UsagePoint } from '../model.js';
import { ZERO, dec, decimalString } from '../money.js';
import { compileHashmap, hashmapFields, hashmapPrice, type CompiledHashmap } from './hashmap.js';

export { compileHashmap, hashmapFields, hashmapPrice, rateHashmap, DEFAULT_GROUP, type CompiledHashmap, type RatingPoint } from './hashmap.js';

/** The modules Tally rates with. */
export const RATING_MODULES = ['hashmap', 'noop'] as const;
export type RatingModuleId = typeof RATING_MODULES[number];

export class UnknownRatingModuleError extends Error {
  constructor(readonly moduleId: string) {
    super(`rating module ${JSON.stringify(moduleId)} is enabled but Tally does not implement it (known: ${RATING_MODULES.join(', ')})`);
    this.name = 'UnknownRatingModuleError';
  }
}

/** The enabled modules in the order they run. */
export function moduleOrder(modules: readonly RatingModuleState[]): RatingModuleState[] {
  return modules.filter((m) => m.enabled).sort((a, b) => b.priority - a.priority);
}

/** A ready-to-run chain of modules for one scope. */
export interface RatingPipeline {
  readonly modules: readonly RatingModuleId[];
  rate(usage: readonly UsagePoint[]): RatedPoint[];
}

/**
 * Builds the chain for `scopeId` from the modules' states and the hashmap rules (compiled
 * once, reused for every period rated with it).
 */
export function ratingPipeline(modules: readonly RatingModuleState[], rules: HashmapRules, scopeId: string | null): RatingPipeline {
  const order: RatingModuleId[] = [];
  for (const m of moduleOrder(modules)) {
    if (!(RATING_MODULES as readonly string[]).includes(m.module_id)) throw new UnknownRatingModuleError(m.module_id);
    order.push(m.module_id as RatingModuleId);
  }
  let hashmap: CompiledHashmap | null = null;
  if (order.includes('hashmap')) hashmap = compileHashmap(rules, scopeId);
  const h = hashmap;
  // A point's price depends only on its type, its quantity and the values of the fields its
  // service has rules for (noop changes nothing), and a scope's periods repeat the same few
  // combinations: each is rated once and its price reused.
  const prices = new Map<string, string>();
  const fieldsOf = new Map<string, readonly string[]>();
  const priceOf = (u: UsagePoint): string => {
    if (h === null) return '0';
    let fields = fieldsOf.get(u.type);
    if (fields === undefined) fieldsOf.set(u.type, (fields = hashmapFields(h, u.type)));
    const parts: (string | null)[] = [u.type, u.qty];
    for (const name of fields) {
      parts.push(Object.hasOwn(u.groupby, name) ? u.groupby[name] : Object.hasOwn(u.metadata, name) ? u.metadata[name] : null);
    }
    const key = JSON.stringify(parts);
    let price = prices.get(key);
    if (price === undefined) {
      price = decimalString(hashmapPrice(h, { type: u.type, qty: dec(u.qty, 'quantity'), price: ZERO, groupby: u.groupby, metadata: u.metadata }));
      if (prices.size >= MAX_REMEMBERED_PRICES) prices.clear();
      prices.set(key, price);
    }
    return price;
  };
  return {
    modules: order,
    rate(usage) {
      return usage.map((u) => {
        // Quantities are checked whatever the modules, as rating them would.
        if (h === null) dec(u.qty, 'quantity');
        return { ...u, price: priceOf(u) };
      });
    },
  };
}

/** Prices remembered per pipeline: enough for every combination a scope's month repeats. */
const MAX_REMEMBERED_PRICES = 100_000;

/** Rates one scope's usage: `ratingPipeline(...).rate(usage)`. */
export function rateUsage(usage: readonly UsagePoint[], modules: readonly RatingModuleState[], rules: HashmapRules, scopeId: string | null): RatedPoint[] {
  return ratingPipeline(modules, rules, scopeId).rate(usage);
}
