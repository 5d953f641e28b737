// The rating modules and the order they run in: enabled modules by priority, highest first
// (a stable sort, so equal priorities keep the order the store lists them in), each one
// taking the points as the previous one left them, as CloudKitty's orchestrator chains its
// processors. Pure functions: the rules and module states are read by the caller.
import type { HashmapRules, RatedPoint, RatingModuleState, UsagePoint } from '../model.js';
import { ZERO, dec, decimalString, exactCmp, exactOfDec, exactString, parseExact, type Dec, type Exact } from '../money.js';
import { compileHashmap, hashmapFields, hashmapPlan, hashmapPrice, planPrice, serviceLevels, type CompiledHashmap, type PricePlan } from './hashmap.js';

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
  // never met again. Prices not remembered are computed from a plan per field values and
  // threshold bracket (see PricePlan): a product and a sum or two per point rather than
  // gathering the rules again.
  const byType = new Map<string, TypePrices>();
  const compute = (hm: CompiledHashmap, t: TypePrices, u: UsagePoint, slot: FieldValues): string => {
    const qty = parseExact(u.qty);
    // Not a decimal (dec() says why), or an exponent far beyond any quantity: in decimals.
    if (qty === null || Math.abs(qty.exp) > MAX_EXACT_EXPONENT) {
      return decimalString(hashmapPrice(hm, { type: u.type, qty: dec(u.qty, 'quantity'), price: ZERO, groupby: u.groupby, metadata: u.metadata }));
    }
    let bracket = 0;
    while (bracket < t.levels.length && exactCmp(qty, t.exactLevels[bracket]) >= 0) bracket++;
    let plan = slot.plans[bracket];
    if (plan === undefined) slot.plans[bracket] = plan = hashmapPlan(hm, u.type, u, t.levels, bracket);
    return plan === null ? '0' : exactString(planPrice(plan, qty));
  };
  // The points of one resource share their attribute objects (see the collector), so the
  // fields' values are looked up once per pair of objects rather than once per point.
  const slotOf = (t: TypePrices, u: UsagePoint): FieldValues => {
    let byMetadata = t.slotsByAttributes.get(u.groupby);
    if (byMetadata === undefined) t.slotsByAttributes.set(u.groupby, (byMetadata = new WeakMap()));
    let slot = byMetadata.get(u.metadata);
    if (slot === undefined) {
      const values: (string | null)[] = [];
      for (const name of t.fields) {
        values.push(Object.hasOwn(u.groupby, name) ? u.groupby[name] : Object.hasOwn(u.metadata, name) ? u.metadata[name] : null);
      }
      const key = JSON.stringify(values);
      slot = t.slots.get(key);
      if (slot === undefined) {
        if (t.slots.size >= MAX_REMEMBERED_PRICES) {
          t.slots.clear();
          t.remembered = 0;
        }
        t.slots.set(key, (slot = { plans: [], prices: new Map() }));
      }
      byMetadata.set(u.metadata, slot);
    }
    return slot;
  };
  const priceOf = (u: UsagePoint): string => {
    if (h === null) return '0';
    let t = byType.get(u.type);
    if (t === undefined) {
      const levels = serviceLevels(h, u.type);
      byType.set(u.type, (t = { fields: hashmapFields(h, u.type), levels, exactLevels: levels.map(exactOfDec), slots: new Map(), slotsByAttributes: new WeakMap(), remembered: 0, hits: 0, misses: 0 }));
    }
    const slot = slotOf(t, u);
    if (t.misses >= PRICE_MISSES_TRIED && t.hits * 4 < t.misses) return compute(h, t, u, slot);
    let price = slot.prices.get(u.qty);
    if (price === undefined) {
      t.misses++;
      price = compute(h, t, u, slot);
      if (t.remembered >= MAX_REMEMBERED_PRICES) {
        for (const x of t.slots.values()) x.prices.clear();
        t.remembered = 0;
      }
      slot.prices.set(u.qty, price);
      t.remembered++;
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

/** What a pipeline keeps for the points of one type with one set of rated fields' values. */
interface FieldValues {
  /** Plans by threshold bracket. */
  plans: (PricePlan | null)[];
  /** Prices by quantity. */
  prices: Map<string, string>;
}

/** What a pipeline keeps per metric type to price its points. */
interface TypePrices {
  /** The fields its service has rules for. */
  fields: readonly string[];
  /** Its service thresholds' levels, ascending. */
  levels: readonly Dec[];
  exactLevels: readonly Exact[];
  /** By the rated fields' values (JSON). */
  slots: Map<string, FieldValues>;
  /** The same, by a point's groupby then metadata object. */
  slotsByAttributes: WeakMap<object, WeakMap<object, FieldValues>>;
  /** Prices remembered in all slots. */
  remembered: number;
  hits: number;
  misses: number;
}

/** Quantities with a larger power of ten are priced in decimals (their integers would be huge). */
const MAX_EXACT_EXPONENT = 1000;

/** Prices remembered per pipeline and type: enough for every combination a scope's month repeats. */
const MAX_REMEMBERED_PRICES = 100_000;
/** Prices computed for a type before deciding whether remembering them pays (1 hit in 5 or more). */
const PRICE_MISSES_TRIED = 1000;

/** Rates one scope's usage: `ratingPipeline(...).rate(usage)`. */
export function rateUsage(usage: readonly UsagePoint[], modules: readonly RatingModuleState[], rules: HashmapRules, scopeId: string | null): RatedPoint[] {
  return ratingPipeline(modules, rules, scopeId).rate(usage);
}
