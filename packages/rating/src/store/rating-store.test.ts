import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { testDatabases } from '@tally/indexer/test-util';
import { migrateRating, openRatingDatabase } from '../db.js';
import { RATING_STORE_MIGRATIONS, RatingConflictError, RatingNotFoundError, RatingClientError, SqlRatingStore } from './index.js';

const S = 1_000_000_000n;

for (const engine of testDatabases()) {
  const withStore = async (fn: (s: SqlRatingStore) => Promise<void>): Promise<void> => {
    const { url, drop } = await engine.create();
    const database = await openRatingDatabase(url);
    try {
      assert.equal(await migrateRating(database, RATING_STORE_MIGRATIONS), RATING_STORE_MIGRATIONS.length);
      assert.equal(await migrateRating(database, RATING_STORE_MIGRATIONS), 0, 'a second run applies nothing');
      await fn(new SqlRatingStore(database.db, database.dialect));
    } finally {
      await database.close();
      await drop();
    }
  };

  test(`${engine.name}: hashmap objects keep CloudKitty's uniqueness rules and cascades`, () => withStore(async (s) => {
    const svc = await s.createService('instance');
    await assert.rejects(s.createService('instance'), RatingConflictError);
    const field = await s.createField(svc.service_id, 'flavor_name');
    await assert.rejects(s.createField(svc.service_id, 'flavor_name'), /Field flavor_name already exists/);
    await assert.rejects(s.createField('nope', 'x'), RatingNotFoundError);
    const group = await s.createGroup('g');
    const m1 = await s.createMapping({ field_id: field.field_id, value: 'm1.tiny', cost: '0.5', map_type: 'flat', group_id: group.group_id });
    assert.equal(m1.cost, '0.5000000000000000000000000000');
    await assert.rejects(s.createMapping({ field_id: field.field_id, value: 'm1.tiny', cost: '1' }), /Mapping 'm1.tiny' already exists for field/);
    // The same value for one project is another mapping.
    await s.createMapping({ field_id: field.field_id, value: 'm1.tiny', cost: '1', tenant_id: 'p1' });
    await assert.rejects(s.createMapping({ service_id: svc.service_id, value: 'x', cost: '1' }), /can't specify a value/);
    await assert.rejects(s.createMapping({ field_id: field.field_id, cost: '1' }), /must specify a value/);
    await assert.rejects(s.createMapping({ cost: '1' }), /must specify one parent/);
    await assert.rejects(s.createMapping({ service_id: svc.service_id, field_id: field.field_id, cost: '1' }), /only specify one parent/);
    await assert.rejects(s.createMapping({ service_id: svc.service_id, cost: 'abc' }), RatingClientError);
    const flat = await s.createMapping({ service_id: svc.service_id, cost: '0.01' });
    const t = await s.createThreshold({ service_id: svc.service_id, level: '10', cost: '0.1', map_type: 'rate' });
    await assert.rejects(s.createThreshold({ service_id: svc.service_id, level: '10.0', cost: '2' }), RatingConflictError);
    assert.deepEqual((await s.listMappings({ fieldId: field.field_id, tenantId: 'p1' })).map((m) => m.tenant_id), ['p1']);
    assert.equal((await s.listMappings({ fieldId: field.field_id })).length, 2);
    assert.deepEqual((await s.listMappings({ groupId: group.group_id })).map((m) => m.mapping_id), [m1.mapping_id]);
    assert.equal((await s.groupOf('mapping', m1.mapping_id)).name, 'g');
    await assert.rejects(s.groupOf('mapping', flat.mapping_id), /Mapping has no group/);
    const up = await s.updateMapping(flat.mapping_id, { cost: '2.5', map_type: 'rate' });
    assert.equal(up.cost, '2.5000000000000000000000000000');
    assert.equal((await s.getMapping(flat.mapping_id)).map_type, 'rate');
    // A group deleted without recursion leaves its rules, without a group.
    await s.deleteGroup(group.group_id, false);
    assert.equal((await s.getMapping(m1.mapping_id)).group_id, null);
    // The service takes its fields and every rule with it.
    await s.deleteService(svc.service_id);
    await assert.rejects(s.getField(field.field_id), RatingNotFoundError);
    await assert.rejects(s.getMapping(m1.mapping_id), RatingNotFoundError);
    await assert.rejects(s.getThreshold(t.threshold_id), RatingNotFoundError);
    const rules = await s.hashmapRules();
    assert.deepEqual([rules.services.length, rules.fields.length, rules.mappings.length, rules.thresholds.length], [0, 0, 0, 0]);
  }));

  test(`${engine.name}: rated periods replace what was there and advance the scope, atomically`, () => withStore(async (s) => {
    const period = { scopeId: 'p1', begin: 1_700_000_000n * S, end: 1_700_003_600n * S };
    const pt = (type: string, qty: string, price: string, flavor: string) =>
      ({ type, unit: 'instance', qty, price, groupby: { project_id: 'p1', id: `r-${flavor}` }, metadata: { flavor_name: flavor } });
    await s.writeRated(period, [pt('instance', '1', '0.1', 'a'), pt('instance', '1', '0.2', 'b')], 'EUR');
    await s.writeRated(period, [pt('instance', '1', '0.1', 'a'), pt('instance', '1', '0.2', 'b'), pt('image', '3', '0.3', 'a')], 'EUR');
    const next = { ...period, begin: period.end, end: period.end + 3600n * S };
    await s.writeRated(next, [pt('instance', '1', '0.1', 'a')], 'EUR');
    const state = await s.scopeState('p1');
    assert.equal(state?.last_processed, next.end);
    // Re-rating an older period does not move the state back.
    await s.writeRated(period, [pt('instance', '2', '0.4', 'a')], 'EUR');
    assert.equal((await s.scopeState('p1'))?.last_processed, next.end);
    const read = await s.readRated('p1', period.begin, next.end);
    assert.deepEqual(read.map((r) => r.points.length), [1, 1]);
    const q = { beginUs: 1_700_000_000_000_000, endUs: 1_800_000_000_000_000 };
    const sum = await s.summary(q, ['type']);
    // 0.1 + 0.2 would not be 0.3 in binary floats; the sums are exact.
    assert.deepEqual(sum.map((r) => [r.groups.type, r.rate.toFixed(), r.qty.toFixed()]), [['instance', '0.5', '3']]);
    await s.writeRated(next, [pt('instance', '1', '0.1', 'a'), pt('instance', '1', '0.2', 'b')], 'EUR');
    const byFlavor = await s.summary({ ...q, filters: { flavor_name: ['b'] } }, ['flavor_name']);
    assert.deepEqual(byFlavor.map((r) => [r.groups.flavor_name, r.rate.toFixed()]), [['b', '0.2']]);
    const total = await s.summary(q, []);
    assert.equal(total[0]?.rate.toFixed(), '0.7');
    assert.equal(await s.resetScopes({ scopeId: ['p1'] }, next.begin), 1);
    assert.equal((await s.scopeState('p1'))?.last_processed, next.begin);
    assert.equal((await s.rated(q)).length, 1, 'the reset deletes what was rated from then on');
  }));

  test(`${engine.name}: modules default to disabled and keep their state`, () => withStore(async (s) => {
    assert.deepEqual((await s.listModules()).map((m) => [m.module_id, m.enabled, m.priority]), [['hashmap', false, 1], ['noop', false, 1]]);
    await s.updateModule('hashmap', { enabled: true, priority: 5 });
    await s.updateModule('noop', { enabled: true });
    assert.deepEqual((await s.enabledModules()).map((m) => m.module_id), ['hashmap', 'noop']);
    await assert.rejects(s.updateModule('nope', { enabled: true }), RatingNotFoundError);
  }));

  test(`${engine.name}: rated rows written before attributes had their table keep their points, order and attributes`, async () => {
    const { url, drop } = await engine.create();
    const database = await openRatingDatabase(url);
    try {
      assert.equal(await migrateRating(database, RATING_STORE_MIGRATIONS.filter((m) => m.version <= 2)), 2);
      const h = 3_600_000_000;
      const b0 = 1_700_000_000_000_000;
      const gbA = JSON.stringify({ id: 'r-a', project_id: 'p1' });
      const gbB = JSON.stringify({ id: 'r-b', project_id: 'p1' });
      const md = JSON.stringify({ flavor_name: 'm1.small' });
      // Inserted out of period order: the ids, not the periods, give the order within a period.
      for (const [b, type, gb, price] of [[b0 + h, 'instance', gbA, '0.3'], [b0, 'instance', gbB, '0.2'], [b0, 'instance', gbA, '0.1'], [b0, 'image', gbA, '7']] as const) {
        await sql`insert into rating_dataframes (scope_id, begin_us, end_us, type, unit, qty, price, currency, project_id, groupby, metadata)
          values ('p1', ${b}, ${b + h}, ${type}, 'instance', '1', ${price}, 'EUR', 'p1', ${gb}, ${md})`.execute(database.db);
      }
      assert.equal(await migrateRating(database, RATING_STORE_MIGRATIONS), RATING_STORE_MIGRATIONS.length - 2);
      const s = new SqlRatingStore(database.db, database.dialect);
      const rows = await s.rated({ beginUs: b0, endUs: b0 + 2 * h });
      assert.deepEqual(rows.map((r) => [r.begin_us, r.type, r.price, r.groupby.id, r.metadata.flavor_name, r.currency]), [
        [b0, 'instance', '0.2', 'r-b', 'm1.small', 'EUR'], [b0, 'instance', '0.1', 'r-a', 'm1.small', 'EUR'], [b0, 'image', '7', 'r-a', 'm1.small', 'EUR'],
        [b0 + h, 'instance', '0.3', 'r-a', 'm1.small', 'EUR'],
      ]);
      const count = async (): Promise<number> => Number((await sql<{ n: number | bigint }>`select count(*) as n from rating_attributes`.execute(database.db)).rows[0].n);
      assert.equal(await count(), 2, 'one attributes row per distinct groupby and metadata');
      // A new write naming the same attributes (other objects, same content) reuses their row.
      const period = { scopeId: 'p1', begin: BigInt(b0 + 2 * h) * 1000n, end: BigInt(b0 + 3 * h) * 1000n };
      await s.writeRated(period, [
        { type: 'instance', unit: 'instance', qty: '1', price: '0.5', groupby: { id: 'r-a', project_id: 'p1' }, metadata: { flavor_name: 'm1.small' } },
        { type: 'instance', unit: 'instance', qty: '1', price: '0.5', groupby: { id: 'r-c', project_id: 'p1' }, metadata: { flavor_name: 'm1.small' } },
      ], 'EUR');
      assert.equal(await count(), 3);
      const later = await s.readRated('p1', period.begin, period.end);
      assert.deepEqual(later[0].points.map((p) => p.groupby.id), ['r-a', 'r-c']);
    } finally {
      await database.close();
      await drop();
    }
  });
}
