// CloudKitty's hashmap rating module, with its exact semantics (CloudKitty 17's
// rating/hash/__init__.py is the reference; the property tests run it side by side):
//
// - Rules are gathered per service name: the service's own mappings and thresholds, then per
//   field (by field name) the field's mappings (by value) and thresholds (by level). Each
//   kind is keyed by group name (`_DEFAULT_` for none); the rules of everyone come first, then
//   the scope's own (`tenant_id`), which replace those with the same key (group for a service
//   mapping, value for a field mapping, level for a threshold) in place.
// - For one point, each group accumulates: flat = the largest matching flat cost (never below
//   0), rate = the product of matching rate costs, and the single matching threshold of the
//   highest level (service thresholds match on the quantity, field ones on the field's value
//   read as a number; on equal levels the first met wins).
// - Each group's price is rate * flat * qty, with a field threshold folded into flat (flat) or
//   rate (rate) first, and a service threshold added (flat) or multiplied (rate) after; the
//   point's price grows by the sum over groups in the order the groups were first met.
//
// Every operation rounds like Python's decimal context (see money.ts), in the same order, so
// prices are equal digit for digit. Maps keep insertion order and keep a key's position when
// it is set again, as Python's dicts do, which is what makes that order the same.
import type { HashmapRules, MapType } from '../model.js';
import { Dec, ONE, ZERO, dec, decimalString, exactOfDec, exactPlus, exactTimes, isDecimalString, type Exact } from '../money.js';

export const DEFAULT_GROUP = '_DEFAULT_';

interface Cost { type: MapType; cost: Dec }
interface Threshold extends Cost { level: Dec }

interface CompiledField {
  /** group -> value -> cost */
  mappings: Map<string, Map<string, Cost>>;
  /** group -> level key -> threshold */
  thresholds: Map<string, Map<string, Threshold>>;
}

interface CompiledService {
  /** group -> cost (one service mapping per group: a later one replaces an earlier one). */
  mappings: Map<string, Cost>;
  thresholds: Map<string, Map<string, Threshold>>;
  fields: Map<string, CompiledField>;
}

/** The hashmap rules of one scope, ready to rate many points. */
export interface CompiledHashmap {
  readonly scopeId: string | null;
  readonly services: ReadonlyMap<string, CompiledService>;
}

/** A point as a rating module sees it: exact quantity and price so far. */
export interface RatingPoint {
  type: string;
  qty: Dec;
  price: Dec;
  groupby: Record<string, string>;
  metadata: Record<string, string>;
}

function getOrAdd<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) { v = make(); m.set(k, v); }
  return v;
}

/** Gathers `rules` for the scope `scopeId` (null: only the rules of everyone). */
export function compileHashmap(rules: HashmapRules, scopeId: string | null): CompiledHashmap {
  const groupName = new Map(rules.groups.map((g) => [g.group_id, g.name]));
  const group = (id: string | null): string => (id !== null && groupName.get(id)) || DEFAULT_GROUP;
  const layers: (string | null)[] = scopeId === null ? [null] : [null, scopeId];
  const services = new Map<string, CompiledService>();

  const addThresholds = (target: Map<string, Map<string, Threshold>>, pick: (t: HashmapRules['thresholds'][number]) => boolean): void => {
    for (const tenant of layers) {
      for (const t of rules.thresholds) {
        if (t.tenant_id !== tenant || !pick(t)) continue;
        const level = dec(t.level, 'threshold level');
        getOrAdd(target, group(t.group_id), () => new Map()).set(decimalString(level), { level, type: t.map_type, cost: dec(t.cost, 'threshold cost') });
      }
    }
  };

  for (const s of rules.services) {
    const svc: CompiledService = { mappings: new Map(), thresholds: new Map(), fields: new Map() };
    services.set(s.name, svc);
    for (const tenant of layers) {
      for (const m of rules.mappings) {
        if (m.service_id !== s.service_id || m.tenant_id !== tenant) continue;
        svc.mappings.set(group(m.group_id), { type: m.map_type, cost: dec(m.cost, 'mapping cost') });
      }
    }
    addThresholds(svc.thresholds, (t) => t.service_id === s.service_id);
    for (const f of rules.fields) {
      if (f.service_id !== s.service_id) continue;
      const fld: CompiledField = { mappings: new Map(), thresholds: new Map() };
      svc.fields.set(f.name, fld);
      for (const tenant of layers) {
        for (const m of rules.mappings) {
          // A field mapping without a value can never match a value: CloudKitty cannot rate with one either.
          if (m.field_id !== f.field_id || m.tenant_id !== tenant || m.value === null || m.value === '') continue;
          getOrAdd(fld.mappings, group(m.group_id), () => new Map()).set(m.value, { type: m.map_type, cost: dec(m.cost, 'mapping cost') });
        }
      }
      addThresholds(fld.thresholds, (t) => t.field_id === f.field_id);
    }
  }
  return { scopeId, services };
}

interface GroupResult {
  flat: Dec;
  rate: Dec;
  thLevel: Dec;
  thCost: Dec;
  thType: MapType;
  thScope: 'service' | 'field';
}

const MINUS_ONE = new Dec(-1);

function groupResult(res: Map<string, GroupResult>, g: string): GroupResult {
  return getOrAdd(res, g, () => ({ flat: ZERO, rate: ONE, thLevel: MINUS_ONE, thCost: ZERO, thType: 'flat', thScope: 'field' }));
}

function applyMapping(r: GroupResult, c: Cost): void {
  if (c.type === 'rate') r.rate = r.rate.times(c.cost);
  else if (c.cost.gt(r.flat)) r.flat = c.cost;
}

function applyThresholds(res: Map<string, GroupResult>, groups: Map<string, Map<string, Threshold>>, reaches: (level: Dec) => boolean, scope: 'service' | 'field'): void {
  for (const [g, ths] of groups) {
    for (const th of ths.values()) {
      if (!reaches(th.level)) continue;
      const r = groupResult(res, g);
      if (th.level.gt(r.thLevel)) {
        r.thLevel = th.level;
        r.thCost = th.cost;
        r.thType = th.type;
        r.thScope = scope;
      }
    }
  }
}

/** The fields `type`'s service has rules for (a point's price depends on their values only). */
export function hashmapFields(h: CompiledHashmap, type: string): readonly string[] {
  const svc = h.services.get(type);
  return svc === undefined ? [] : [...svc.fields.keys()];
}

/**
 * The groups' results for one point, in the order the groups were first met: the service's
 * mappings, the service thresholds its quantity reaches (`reaches`), then the fields'.
 */
function groupResults(svc: CompiledService, p: Pick<RatingPoint, 'groupby' | 'metadata'>, reaches: (level: Dec) => boolean): Map<string, GroupResult> {
  const res = new Map<string, GroupResult>();
  for (const [g, c] of svc.mappings) applyMapping(groupResult(res, g), c);
  applyThresholds(res, svc.thresholds, reaches, 'service');
  for (const [name, fld] of svc.fields) {
    const value = Object.hasOwn(p.groupby, name) ? p.groupby[name] : Object.hasOwn(p.metadata, name) ? p.metadata[name] : undefined;
    if (value === undefined) continue;
    for (const [g, byValue] of fld.mappings) {
      const c = byValue.get(value);
      if (c !== undefined) applyMapping(groupResult(res, g), c);
    }
    // CloudKitty fails the whole period on a value that is not a number when the field has
    // thresholds; here such a value meets no threshold and the rest of the rules still apply.
    if (fld.thresholds.size > 0 && isDecimalString(value)) {
      const v = dec(value);
      applyThresholds(res, fld.thresholds, (level) => v.gte(level), 'field');
    }
  }
  return res;
}

/**
 * A point's price as a function of its quantity alone, for points of one type, one set of
 * rated field values and one bracket of service threshold levels (between two adjacent
 * levels the quantity reaches the same thresholds, so the same groups are met in the same
 * order with the same costs): per group, in order, rate * flat (one rounded product, as
 * hashmapPrice makes it first) and the service threshold applied after, in exact integers
 * (see Exact).
 */
export interface PricePlan {
  readonly steps: readonly { readonly rateFlat: Exact; readonly after: { readonly type: MapType; readonly cost: Exact } | null }[];
}

/** Each group's price factor and its service threshold, from the groups' results. */
function priceSteps(res: Map<string, GroupResult>): { rateFlat: Dec; after: Cost | null }[] {
  const steps: { rateFlat: Dec; after: Cost | null }[] = [];
  for (const r of res.values()) {
    let { flat, rate } = r;
    if (r.thScope === 'field') {
      if (r.thType === 'flat') flat = flat.plus(r.thCost);
      else rate = rate.times(r.thCost);
    }
    steps.push({ rateFlat: rate.times(flat), after: r.thScope === 'service' ? { type: r.thType, cost: r.thCost } : null });
  }
  return steps;
}

const EXACT_ZERO: Exact = { coef: 0n, exp: 0 };

/** The price a plan gives a quantity: what hashmapPrice computes for it, step for step. */
export function planPrice(plan: PricePlan, qty: Exact): Exact {
  let total = EXACT_ZERO;
  for (const { rateFlat, after } of plan.steps) {
    let groupPrice = exactTimes(rateFlat, qty);
    if (after !== null) groupPrice = after.type === 'flat' ? exactPlus(groupPrice, after.cost) : exactTimes(groupPrice, after.cost);
    total = exactPlus(total, groupPrice);
  }
  return total;
}

/** The distinct levels of `type`'s service thresholds, ascending (the brackets of its plans). */
export function serviceLevels(h: CompiledHashmap, type: string): Dec[] {
  const svc = h.services.get(type);
  if (svc === undefined) return [];
  const levels: Dec[] = [];
  for (const ths of svc.thresholds.values()) for (const th of ths.values()) if (!levels.some((l) => l.eq(th.level))) levels.push(th.level);
  return levels.sort((a, b) => a.cmp(b));
}

/**
 * The plan of points of `type` with the fields of `p` whose quantity reaches exactly the
 * first `bracket` of `serviceLevels(h, type)`; null when the type has no service (the price
 * stays as it is).
 */
export function hashmapPlan(h: CompiledHashmap, type: string, p: Pick<RatingPoint, 'groupby' | 'metadata'>, levels: readonly Dec[], bracket: number): PricePlan | null {
  const svc = h.services.get(type);
  if (svc === undefined) return null;
  const steps = priceSteps(groupResults(svc, p, (level) => levels.findIndex((l) => l.eq(level)) < bracket));
  return { steps: steps.map(({ rateFlat, after }) => ({ rateFlat: exactOfDec(rateFlat), after: after === null ? null : { type: after.type, cost: exactOfDec(after.cost) } })) };
}

/** A point's price after `hashmap`: its price so far plus what the rules give it. */
export function hashmapPrice(h: CompiledHashmap, p: RatingPoint): Dec {
  const svc = h.services.get(p.type);
  if (svc === undefined) return p.price;
  let total = p.price;
  for (const { rateFlat, after } of priceSteps(groupResults(svc, p, (level) => p.qty.gte(level)))) {
    let price = rateFlat.times(p.qty);
    if (after !== null) price = after.type === 'flat' ? price.plus(after.cost) : price.times(after.cost);
    // Added group by group, rounded at each step, as CloudKitty sets the point's price.
    total = total.plus(price);
  }
  return total;
}

/** Rates points with `hashmap`: each point's price grows by what the rules give it. */
export function rateHashmap(h: CompiledHashmap, points: readonly RatingPoint[]): RatingPoint[] {
  return points.map((p) => ({ ...p, price: hashmapPrice(h, p) }));
}
