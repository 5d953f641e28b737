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
  // combinations: each is rated once and its price reused, remembered per type by quantity
  // (and the fields' values). A type whose quantities rarely repeat (a mean of memory used,
  // say) stops being remembered once that is clear: it would only fill a map with keys
  // never met again.
  const byType = new Map<string, { fields: readonly string[]; prices: Map<string, string>; hits: number; misses: number }>();
  const compute = (hm: CompiledHashmap, u: UsagePoint): string =>
    decimalString(hashmapPrice(hm, { type: u.type, qty: dec(u.qty, 'quantity'), price: ZERO, groupby: u.groupby, metadata: u.metadata }));
  const priceOf = (u: UsagePoint): string => {
    if (h === null) return '0';
    let t = byType.get(u.type);
    if (t === undefined) byType.set(u.type, (t = { fields: hashmapFields(h, u.type), prices: new Map(), hits: 0, misses: 0 }));
    if (t.misses >= PRICE_MISSES_TRIED && t.hits * 4 < t.misses) return compute(h, u);
    let key = u.qty;
    if (t.fields.length > 0) {
      const parts: (string | null)[] = [u.qty];
      for (const name of t.fields) {
        parts.push(Object.hasOwn(u.groupby, name) ? u.groupby[name] : Object.hasOwn(u.metadata, name) ? u.metadata[name] : null);
      }
      key = JSON.stringify(parts);
    }
    let price = t.prices.get(key);
    if (price === undefined) {
      t.misses++;
      price = compute(h, u);
      if (t.prices.size >= MAX_REMEMBERED_PRICES) t.prices.clear();
      t.prices.set(key, price);
    } else t.hits++;
    return price;
  };
  return {
    modules: order,
    rate(usage) {
      const out: RatedPoint[] = new Array<RatedPoint>(usage.length);
      for (let i = 0; i < usage.length; i++) {
        const u = usage[i];
        // Quantities are checked whatever the modules, as rating them would.
        if (h === null) dec(u.qty, 'quantity');
        // A new object of the point's own fields (its attribute objects are shared, not copied).
        out[i] = { type: u.type, unit: u.unit, qty: u.qty, groupby: u.groupby, metadata: u.metadata, price: priceOf(u) };
      }
      return out;
    },
  };
}

/** Prices remembered per pipeline and type: enough for every combination a scope's month repeats. */
const MAX_REMEMBERED_PRICES = 100_000;
/** Prices computed for a type before deciding whether remembering them pays (1 hit in 5 or more). */
const PRICE_MISSES_TRIED = 1000;

/** Rates one scope's usage: `ratingPipeline(...).rate(usage)`. */
export function rateUsage(usage: readonly UsagePoint[], modules: readonly RatingModuleState[], rules: HashmapRules, scopeId: string | null): RatedPoint[] {
  return ratingPipeline(modules, rules, scopeId).rate(usage);
}
