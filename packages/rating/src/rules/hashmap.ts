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
import { Dec, ONE, ZERO, dec, decimalString, isDecimalString } from '../money.js';

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

function applyThresholds(res: Map<string, GroupResult>, groups: Map<string, Map<string, Threshold>>, level: Dec, scope: 'service' | 'field'): void {
  for (const [g, ths] of groups) {
    for (const th of ths.values()) {
      if (!level.gte(th.level)) continue;
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

/** A point's price after `hashmap`: its price so far plus what the rules give it. */
export function hashmapPrice(h: CompiledHashmap, p: RatingPoint): Dec {
  const svc = h.services.get(p.type);
  if (svc === undefined) return p.price;
  const res = new Map<string, GroupResult>();
  for (const [g, c] of svc.mappings) applyMapping(groupResult(res, g), c);
  applyThresholds(res, svc.thresholds, p.qty, 'service');
  for (const [name, fld] of svc.fields) {
    const value = Object.hasOwn(p.groupby, name) ? p.groupby[name] : Object.hasOwn(p.metadata, name) ? p.metadata[name] : undefined;
    if (value === undefined) continue;
    for (const [g, byValue] of fld.mappings) {
      const c = byValue.get(value);
      if (c !== undefined) applyMapping(groupResult(res, g), c);
    }
    // CloudKitty fails the whole period on a value that is not a number when the field has
    // thresholds; here such a value meets no threshold and the rest of the rules still apply.
    if (fld.thresholds.size > 0 && isDecimalString(value)) applyThresholds(res, fld.thresholds, dec(value), 'field');
  }
  let total = p.price;
  for (const r of res.values()) {
    let { flat, rate } = r;
    if (r.thScope === 'field') {
      if (r.thType === 'flat') flat = flat.plus(r.thCost);
      else rate = rate.times(r.thCost);
    }
    let price = rate.times(flat).times(p.qty);
    if (r.thScope === 'service') {
      price = r.thType === 'flat' ? price.plus(r.thCost) : price.times(r.thCost);
    }
    // Added group by group, rounded at each step, as CloudKitty sets the point's price.
    total = total.plus(price);
  }
  return total;
}

/** Rates points with `hashmap`: each point's price grows by what the rules give it. */
export function rateHashmap(h: CompiledHashmap, points: readonly RatingPoint[]): RatingPoint[] {
  return points.map((p) => ({ ...p, price: hashmapPrice(h, p) }));
}
