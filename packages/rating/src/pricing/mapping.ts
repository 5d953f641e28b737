// A hashmap mapping may take its cost from pricing data instead of a literal: its
// `pricing_key` names a (provider, service, size, region) entry, and the price in force at
// the rated instant becomes its cost. Rules are resolved before rating, so the hashmap
// algorithm and CloudKitty's clients only ever see a plain `cost`.
import type { HashmapMapping, HashmapRules } from '../model.js';
import { PricingError, type PriceBook, type PriceKey } from './pricing.js';

/** Parses `provider/service/size/region`. */
export function parsePricingKey(key: string): PriceKey {
  const parts = key.split('/');
  if (parts.length !== 4 || parts.some((p) => p === '')) {
    throw new PricingError(`pricing key "${key}": expected provider/service/size/region`);
  }
  const [provider, service, size, region] = parts;
  return { provider, service, size, region };
}

/** The mapping's cost at `atMs`: the price in force for its pricing key, else its literal cost. */
export function resolveMappingCost(m: HashmapMapping, book: PriceBook, atMs: number, currency?: string): string {
  if (m.pricing_key == null) return m.cost;
  const e = book.lookup(parsePricingKey(m.pricing_key), atMs);
  if (!e) throw new PricingError(`mapping ${m.mapping_id}: no price in force for ${m.pricing_key} at ${new Date(atMs).toISOString()}`);
  // Prices are never converted: a rate in another currency would rate silently wrong.
  if (currency !== undefined && e.currency !== currency) {
    throw new PricingError(`mapping ${m.mapping_id}: ${m.pricing_key} is priced in ${e.currency}, the rating currency is ${currency}`);
  }
  return e.price;
}

/** The rules with every priced mapping's cost resolved at `atMs` (the start of the rated period). */
export function resolveRules(rules: HashmapRules, book: PriceBook, atMs: number, currency?: string): HashmapRules {
  return { ...rules, mappings: rules.mappings.map((m) => (m.pricing_key == null ? m : { ...m, cost: resolveMappingCost(m, book, atMs, currency) })) };
}
