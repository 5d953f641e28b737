// The hashmap module against CloudKitty 17's own (Debian's cloudkitty.rating.hash, run with
// /usr/bin/python3, its database layer replaced by the same rules in memory): over many random
// rule sets and points, every price is equal as a decimal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import type { HashmapMapping, HashmapRules, HashmapThreshold, MapType, RatingModuleState, UsagePoint } from '../model.js';
import { compileHashmap, hashmapPrice, rateUsage, ratingPipeline, UnknownRatingModuleError } from './index.js';
import { ZERO, dec, decimalString } from '../money.js';

const PYTHON = '/usr/bin/python3';
const hasCloudKitty = spawnSync(PYTHON, ['-c', 'import cloudkitty.rating.hash'], { stdio: 'ignore' }).status === 0;

// Rates each case's points with CloudKitty's HashMap class; the rules stand in for its
// database as a Numeric(40,28) cost and Numeric(20,8) level column would return them.
const REFERENCE = String.raw`
import sys, json, decimal, types
from cloudkitty.rating.hash.db import api as hash_db_api
from cloudkitty import dataframe
import cloudkitty.rating.hash as hashmod

COST_Q = decimal.Decimal(1).scaleb(-28)
LEVEL_Q = decimal.Decimal(1).scaleb(-8)
# The column's own precision (40 digits), not the arithmetic context's 28.
COLUMN = decimal.Context(prec=60)

class FakeDb:
    def __init__(self, rules):
        self.r = rules
        self.groups = {g['group_id']: types.SimpleNamespace(name=g['name']) for g in rules['groups']}
    def _obj(self, e, level=False):
        o = types.SimpleNamespace(**e)
        o.cost = COLUMN.quantize(decimal.Decimal(e['cost']), COST_Q)
        if level:
            o.level = COLUMN.quantize(decimal.Decimal(e['level']), LEVEL_Q)
        o.group = self.groups.get(e['group_id'])
        return o
    def list_services(self):
        return [s['service_id'] for s in self.r['services']]
    def get_service(self, uuid):
        return types.SimpleNamespace(**[s for s in self.r['services'] if s['service_id'] == uuid][0])
    def list_fields(self, service_uuid):
        return [f['field_id'] for f in self.r['fields'] if f['service_id'] == service_uuid]
    def get_field(self, uuid):
        return types.SimpleNamespace(**[f for f in self.r['fields'] if f['field_id'] == uuid][0])
    def _list(self, kind, idk, service_uuid=None, field_uuid=None, **kw):
        out = []
        for e in self.r[kind]:
            if service_uuid and e['service_id'] != service_uuid: continue
            if field_uuid and e['field_id'] != field_uuid: continue
            if 'tenant_uuid' in kw and e['tenant_id'] != kw['tenant_uuid']: continue
            out.append(e[idk])
        return out
    def list_mappings(self, **kw):
        return self._list('mappings', 'mapping_id', **kw)
    def list_thresholds(self, **kw):
        return self._list('thresholds', 'threshold_id', **kw)
    def get_mapping(self, uuid):
        return self._obj([m for m in self.r['mappings'] if m['mapping_id'] == uuid][0])
    def get_threshold(self, uuid):
        return self._obj([t for t in self.r['thresholds'] if t['threshold_id'] == uuid][0], True)

out = []
for case in json.load(sys.stdin):
    db = FakeDb(case['rules'])
    hash_db_api.get_instance = lambda: db
    hm = hashmod.HashMap(tenant_id=case['scope'])
    prices = []
    for p in case['points']:
        point = dataframe.DataPoint(p['unit'], p['qty'], 0, p['groupby'], p['metadata'])
        hm._res = {}
        try:
            hm.process_services(p['type'], point)
            hm.process_fields(p['type'], point)
            price = hm.add_rating_informations(point).price
            prices.append('0' if price == 0 else '{:f}'.format(price.normalize()))
        except decimal.InvalidOperation:
            prices.append(None)
    out.append(prices)
print(json.dumps(out))
`;

function cloudKittyPrices(cases: { rules: HashmapRules; scope: string | null; points: UsagePoint[] }[]): (string | null)[][] {
  const r = spawnSync(PYTHON, ['-c', REFERENCE], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`CloudKitty reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as (string | null)[][];
}

const HASHMAP_ONLY: RatingModuleState[] = [{ module_id: 'hashmap', description: '', enabled: true, priority: 1, hot_config: true }];

// Decimals as CloudKitty's columns hold them: costs with up to 28 decimals, levels with 8.
const decimalArb = (intDigits: number, maxScale: number, negative = false): fc.Arbitrary<string> =>
  fc.tuple(fc.bigInt({ min: negative ? -(10n ** BigInt(intDigits + maxScale)) : 0n, max: 10n ** BigInt(intDigits + maxScale) }), fc.integer({ min: 0, max: maxScale }))
    .map(([n, scale]) => {
      const neg = n < 0n;
      let s = (neg ? -n : n).toString().padStart(scale + 1, '0');
      if (scale > 0) s = `${s.slice(0, -scale)}.${s.slice(-scale)}`;
      return (neg ? '-' : '') + s;
    });
const costArb = fc.oneof(decimalArb(3, 4), decimalArb(2, 28), decimalArb(1, 12, true), fc.constantFrom('0', '1', '0.5', '2'));
const levelArb = fc.oneof(decimalArb(3, 2), decimalArb(2, 8), fc.constantFrom('0', '1', '2', '10'));
const VALUES = ['1', '2', '2.0', '3.5', '10', '0.25', 'a', 'm1.small'];
const TENANTS = [null, 'p1', 'p2'];
const mapTypeArb: fc.Arbitrary<MapType> = fc.constantFrom<MapType>('flat', 'flat', 'rate');

const rulesArb: fc.Arbitrary<HashmapRules> = fc.record({
  nServices: fc.integer({ min: 1, max: 3 }),
  fieldsPer: fc.array(fc.subarray(['flavor', 'vcpus', 'disk', 'project_id']), { minLength: 3, maxLength: 3 }),
  nGroups: fc.integer({ min: 0, max: 3 }),
  mappings: fc.array(fc.record({ onField: fc.boolean(), target: fc.nat(20), value: fc.constantFrom(...VALUES), cost: costArb, type: mapTypeArb, group: fc.nat(4), tenant: fc.constantFrom(...TENANTS) }), { maxLength: 25 }),
  thresholds: fc.array(fc.record({ onField: fc.boolean(), target: fc.nat(20), level: levelArb, cost: costArb, type: mapTypeArb, group: fc.nat(4), tenant: fc.constantFrom(...TENANTS) }), { maxLength: 12 }),
}).map((g) => {
  const services = ['compute', 'volume', 'image'].slice(0, g.nServices).map((name, i) => ({ service_id: `s${i}`, name }));
  const fields = services.flatMap((s, i) => g.fieldsPer[i].map((name) => ({ field_id: `${s.service_id}-${name}`, service_id: s.service_id, name })));
  const groups = Array.from({ length: g.nGroups }, (_, i) => ({ group_id: `g${i}`, name: `group${i}` }));
  const groupOf = (n: number): string | null => (n < groups.length ? groups[n].group_id : null);
  const seen = new Set<string>();
  const mappings: HashmapMapping[] = [];
  g.mappings.forEach((m, i) => {
    const onField = m.onField && fields.length > 0;
    const service_id = onField ? null : services[m.target % services.length].service_id;
    const field_id = onField ? fields[m.target % fields.length].field_id : null;
    // CloudKitty's unique (value, field, tenant); service mappings have no value.
    const key = `${field_id}|${m.value}|${m.tenant}`;
    if (onField) { if (seen.has(key)) return; seen.add(key); }
    mappings.push({ mapping_id: `m${i}`, value: onField ? m.value : null, cost: m.cost, map_type: m.type, service_id, field_id, group_id: groupOf(m.group), tenant_id: m.tenant });
  });
  const thresholds: HashmapThreshold[] = [];
  g.thresholds.forEach((t, i) => {
    const onField = t.onField && fields.length > 0;
    const service_id = onField ? null : services[t.target % services.length].service_id;
    const field_id = onField ? fields[t.target % fields.length].field_id : null;
    const key = `${service_id}|${field_id}|${Number(t.level)}|${t.tenant}`;
    if (seen.has(key)) return;
    seen.add(key);
    thresholds.push({ threshold_id: `t${i}`, level: t.level, cost: t.cost, map_type: t.type, service_id, field_id, group_id: groupOf(t.group), tenant_id: t.tenant });
  });
  return { services, fields, groups, mappings, thresholds };
});

const pointArb: fc.Arbitrary<UsagePoint> = fc.record({
  type: fc.constantFrom('compute', 'volume', 'image', 'network'),
  qty: fc.oneof(decimalArb(4, 6), decimalArb(1, 20), fc.constantFrom('0', '1', '3600')),
  flavor: fc.option(fc.constantFrom(...VALUES), { nil: undefined }),
  vcpus: fc.option(fc.constantFrom(...VALUES), { nil: undefined }),
  disk: fc.option(fc.constantFrom(...VALUES), { nil: undefined }),
  project: fc.constantFrom('p1', 'p2', '2'),
}).map((p) => {
  const metadata: Record<string, string> = {};
  if (p.flavor !== undefined) metadata.flavor = p.flavor;
  if (p.vcpus !== undefined) metadata.vcpus = p.vcpus;
  const groupby: Record<string, string> = { id: 'r1', project_id: p.project };
  if (p.disk !== undefined) groupby.disk = p.disk;
  return { type: p.type, unit: 'unit', qty: p.qty, groupby, metadata };
});

const caseArb = fc.record({ rules: rulesArb, scope: fc.constantFrom(null, 'p1', 'p2'), points: fc.array(pointArb, { minLength: 1, maxLength: 8 }) });

test('hashmap prices equal CloudKitty 17\'s on random rule sets', { skip: hasCloudKitty ? false : 'Debian cloudkitty not installed' }, () => {
  const cases = fc.sample(caseArb, 600);
  const reference = cloudKittyPrices(cases);
  let compared = 0;
  let nonZero = 0;
  cases.forEach((c, i) => {
    const ours = rateUsage(c.points, HASHMAP_ONLY, c.rules, c.scope).map((p) => p.price);
    reference[i].forEach((want, j) => {
      // CloudKitty fails on a non-numeric value of a field with thresholds; Tally skips those thresholds.
      if (want === null) return;
      compared++;
      if (want !== '0') nonZero++;
      assert.equal(ours[j], want, `case ${i} point ${j}: ${JSON.stringify({ rules: c.rules, scope: c.scope, point: c.points[j] })}`);
    });
  });
  // The generator must exercise the rules, not just unmatched points.
  assert.ok(compared > 2000, `compared ${compared}`);
  assert.ok(nonZero > compared / 6, `non-zero prices ${nonZero} of ${compared}`);
});

test('a pipeline pricing many points from its plans gives each point the price of the rules gathered for it alone', () => {
  // One pipeline prices the points of one type, fields' values and threshold bracket from one
  // plan, whatever their quantities; hashmapPrice gathers the rules for each point.
  const cases = fc.sample(fc.record({ rules: rulesArb, scope: fc.constantFrom(null, 'p1', 'p2'), points: fc.array(pointArb, { minLength: 20, maxLength: 60 }) }), 300);
  let nonZero = 0;
  for (const [i, c] of cases.entries()) {
    const rated = ratingPipeline(HASHMAP_ONLY, c.rules, c.scope).rate(c.points);
    const h = compileHashmap(c.rules, c.scope);
    for (const [j, p] of c.points.entries()) {
      const want = decimalString(hashmapPrice(h, { type: p.type, qty: dec(p.qty), price: ZERO, groupby: p.groupby, metadata: p.metadata }));
      if (want !== '0') nonZero++;
      assert.equal(rated[j].price, want, `case ${i} point ${j}`);
    }
  }
  assert.ok(nonZero > 1000, `non-zero prices ${nonZero}`);
});

const svc = { service_id: 's', name: 'compute' };
const fld = { field_id: 'f', service_id: 's', name: 'flavor' };
const base = { value: null, service_id: null, field_id: null, group_id: null, tenant_id: null };
const point = (qty: string, flavor: string): UsagePoint => ({ type: 'compute', unit: 'instance', qty, groupby: { project_id: 'p1' }, metadata: { flavor } });

test('flat mapping is per unit, a rate multiplies it, a group keeps its best flat', () => {
  const rules: HashmapRules = {
    services: [svc], fields: [fld], groups: [{ group_id: 'g', name: 'instance_uptime' }], thresholds: [],
    mappings: [
      { ...base, mapping_id: 'a', field_id: 'f', value: 'm1.small', cost: '0.5', map_type: 'flat', group_id: 'g' },
      { ...base, mapping_id: 'b', service_id: 's', cost: '0.25', map_type: 'flat', group_id: 'g' },
      { ...base, mapping_id: 'c', service_id: 's', cost: '1.1', map_type: 'rate' },
    ],
  };
  // group g: max(0.5, 0.25) * 3 = 1.5; default group: a rate without a flat gives 0.
  assert.equal(rateUsage([point('3', 'm1.small')], HASHMAP_ONLY, rules, 'p1')[0].price, '1.5');
  assert.equal(rateUsage([point('3', 'm1.large')], HASHMAP_ONLY, rules, 'p1')[0].price, '0.75');
});

test('a per-project mapping replaces the shared one for that project only', () => {
  const rules: HashmapRules = {
    services: [svc], fields: [fld], groups: [], thresholds: [],
    mappings: [
      { ...base, mapping_id: 'a', field_id: 'f', value: 'm1.small', cost: '2', map_type: 'flat' },
      { ...base, mapping_id: 'b', field_id: 'f', value: 'm1.small', cost: '1', map_type: 'flat', tenant_id: 'p1' },
    ],
  };
  assert.equal(rateUsage([point('1', 'm1.small')], HASHMAP_ONLY, rules, 'p1')[0].price, '1');
  // The shared flat is 2; p1's own 1 replaces it rather than competing for the largest.
  assert.equal(rateUsage([point('1', 'm1.small')], HASHMAP_ONLY, rules, 'p2')[0].price, '2');
});

test('service thresholds: the highest level reached applies, flat added after, rate multiplied after', () => {
  const rules = (type: MapType): HashmapRules => ({
    services: [svc], fields: [], groups: [], mappings: [{ ...base, mapping_id: 'a', service_id: 's', cost: '0.1', map_type: 'flat' }],
    thresholds: [
      { ...base, threshold_id: 't1', service_id: 's', level: '10', cost: '5', map_type: type },
      { ...base, threshold_id: 't2', service_id: 's', level: '100', cost: '0.5', map_type: type },
    ],
  });
  assert.equal(rateUsage([point('5', 'x')], HASHMAP_ONLY, rules('flat'), null)[0].price, '0.5');
  assert.equal(rateUsage([point('50', 'x')], HASHMAP_ONLY, rules('flat'), null)[0].price, '10');
  assert.equal(rateUsage([point('200', 'x')], HASHMAP_ONLY, rules('rate'), null)[0].price, '10');
});

test('exact decimals: no binary float error, 28 significant digits rounded half to even', () => {
  const rules: HashmapRules = { services: [svc], fields: [], groups: [], thresholds: [], mappings: [{ ...base, mapping_id: 'a', service_id: 's', cost: '0.1', map_type: 'flat' }] };
  assert.equal(rateUsage([point('0.2', 'x')], HASHMAP_ONLY, rules, null)[0].price, '0.02');
  const third: HashmapRules = { ...rules, mappings: [{ ...base, mapping_id: 'a', service_id: 's', cost: '0.3333333333333333333333333333', map_type: 'flat' }] };
  assert.equal(rateUsage([point('3', 'x')], HASHMAP_ONLY, third, null)[0].price, '0.9999999999999999999999999999');
});

test('modules run by priority; noop leaves prices; an unknown enabled module is an error', () => {
  const rules: HashmapRules = { services: [svc], fields: [], groups: [], thresholds: [], mappings: [{ ...base, mapping_id: 'a', service_id: 's', cost: '2', map_type: 'flat' }] };
  const mods: RatingModuleState[] = [
    { module_id: 'noop', description: '', enabled: true, priority: 1, hot_config: false },
    { module_id: 'hashmap', description: '', enabled: true, priority: 5, hot_config: true },
    { module_id: 'pyscripts', description: '', enabled: false, priority: 9, hot_config: true },
  ];
  assert.deepEqual(ratingPipeline(mods, rules, null).modules, ['hashmap', 'noop']);
  assert.equal(rateUsage([point('2', 'x')], mods, rules, null)[0].price, '4');
  assert.equal(rateUsage([point('2', 'x')], mods.slice(0, 1), rules, null)[0].price, '0');
  assert.throws(() => ratingPipeline([{ ...mods[2], enabled: true }], rules, null), UnknownRatingModuleError);
});

test('a pipeline rating a long stream prices each point as rating it alone does, whether it remembers the type\'s prices or not', () => {
  const disk = { service_id: 'd', name: 'disk' };
  const rules: HashmapRules = {
    services: [svc, disk], fields: [fld], groups: [],
    mappings: [
      { ...base, mapping_id: 'a', field_id: 'f', value: 'm1.small', cost: '0.5', map_type: 'flat' },
      { ...base, mapping_id: 'b', field_id: 'f', value: 'm1.large', cost: '2', map_type: 'flat' },
      { ...base, mapping_id: 'c', service_id: 'd', cost: '0.0004', map_type: 'flat' },
    ],
    thresholds: [{ ...base, threshold_id: 't', service_id: 'd', level: '1500', cost: '0.9', map_type: 'rate' }],
  };
  const pipe = ratingPipeline(HASHMAP_ONLY, rules, 'p1');
  const points: UsagePoint[] = [];
  // The disk's quantities never repeat (its prices stop being remembered after the first
  // thousand); the compute points repeat a few combinations of quantity and flavor.
  for (let i = 0; i < 3000; i++) {
    points.push({ type: 'disk', unit: 'GiB', qty: (i * 1.25).toString(), groupby: { project_id: 'p1' }, metadata: {} });
    points.push(point(String(i % 3), ['m1.small', 'm1.large', 'other'][i % 4] ?? 'other'));
  }
  const rated = [...pipe.rate(points.slice(0, 2500)), ...pipe.rate(points.slice(2500))];
  assert.equal(rated.length, points.length);
  for (const [i, p] of points.entries()) assert.equal(rated[i].price, rateUsage([p], HASHMAP_ONLY, rules, 'p1')[0].price, JSON.stringify(p));
  assert.equal(rated[2 * 2000].price, '0.9', 'disk 2500 GiB: 0.0004 per GiB, 10 % off from 1500 GiB');
});
