// Priced mappings through the rating API: Tally's `pricing_key` accepted on create and
// update, CloudKitty's clients shown the price in force as the mapping's `cost`, mappings
// without a key shown exactly as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '@tally/indexer/test-util';
import { migrateRating, openRatingDatabase } from '../db.js';
import { RATING_STORE_MIGRATIONS, SqlRatingStore } from '../store/index.js';
import { PriceBook } from '../pricing/pricing.js';
import { buildRatingServer } from './rating-api.js';

const ADMIN = { 'x-user-id': 'u', 'x-project-id': 'admin-p', 'x-roles': 'admin', 'content-type': 'application/json' };
const H = '/v1/rating/module_config/hashmap';
const KEY = 'aws/ec2/t3.micro/eu-west-1';
const entry = (price: string, effective: string): { provider: string; service: string; size: string; region: string; unit: string; price: string; currency: string; effective: string } =>
  ({ provider: 'aws', service: 'ec2', size: 't3.micro', region: 'eu-west-1', unit: 'hour', price, currency: 'USD', effective });

for (const engine of testDatabases()) {
  test(`${engine.name}: a priced mapping shows the price in force as its cost`, async () => {
    const { url, drop } = await engine.create();
    const database = await openRatingDatabase(url);
    let book: PriceBook | null = new PriceBook([{ source: 'bundled', file: { format: 1, entries: [entry('0.0104', '2020-01-01'), entry('99', '2999-01-01')] } }]);
    const app = buildRatingServer({ store: new SqlRatingStore(database.db, database.dialect), authMode: 'noauth', bodyLimit: 1 << 20, prices: () => book });
    try {
      assert.equal(await migrateRating(database, RATING_STORE_MIGRATIONS), RATING_STORE_MIGRATIONS.length);
      const call = async (method: 'GET' | 'POST' | 'PUT', path: string, payload?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
        const r = await app.inject({ method, url: path, headers: ADMIN, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
        return { status: r.statusCode, body: r.body === '' ? {} : r.json<Record<string, unknown>>() };
      };
      const svc = (await call('POST', `${H}/services`, { name: 'instance' })).body;
      const field = (await call('POST', `${H}/fields`, { service_id: svc.service_id, name: 'flavor_name' })).body;
      const priced = await call('POST', `${H}/mappings`, { field_id: field.field_id, value: 't3.micro', pricing_key: KEY });
      assert.equal(priced.status, 201);
      assert.equal(priced.body.cost, '0.0104000000000000000000000000');
      assert.equal(priced.body.pricing_key, KEY);
      const plain = await call('POST', `${H}/mappings`, { field_id: field.field_id, value: 'm1.small', cost: '1' });
      assert.equal('pricing_key' in plain.body, false, "a plain mapping keeps CloudKitty's fields only");
      // The cost shown follows the pricing data in force.
      const id = String(priced.body.mapping_id);
      book = new PriceBook([{ source: 'override', file: { format: 1, entries: [entry('0.02', '2020-01-01')] } }]);
      assert.equal((await call('GET', `${H}/mappings/${id}`)).body.cost, '0.0200000000000000000000000000');
      const listed = (await call('GET', `${H}/mappings?field_id=${String(field.field_id)}`)).body.mappings as Record<string, unknown>[];
      assert.deepEqual(listed.map((m) => m.cost).sort(), ['0.0200000000000000000000000000', '1.0000000000000000000000000000']);
      // Malformed keys are the client's error; a key set to null makes the cost literal again.
      assert.equal((await call('POST', `${H}/mappings`, { field_id: field.field_id, value: 'x', pricing_key: 'aws/ec2' })).status, 400);
      assert.equal((await call('POST', `${H}/mappings`, { field_id: field.field_id, value: 'y' })).status, 400, 'cost stays mandatory without a key');
      assert.equal((await call('POST', `${H}/thresholds`, { field_id: field.field_id, level: '1', cost: '1', pricing_key: KEY })).status, 400, 'thresholds have no pricing key');
      assert.equal((await call('PUT', `${H}/mappings/${id}`, { pricing_key: null, cost: '3' })).status, 302);
      const literal = (await call('GET', `${H}/mappings/${id}`)).body;
      assert.equal(literal.cost, '3.0000000000000000000000000000');
      assert.equal('pricing_key' in literal, false);
      assert.equal((await call('PUT', `${H}/mappings/${id}`, { pricing_key: KEY })).status, 302);
      // Without a price in force (no pricing data), the stored cost is shown.
      book = null;
      assert.equal((await call('GET', `${H}/mappings/${id}`)).body.cost, '3.0000000000000000000000000000');
    } finally {
      await app.close();
      await database.close();
      await drop();
    }
  });
}
