// The processor on the SQL rating store (SQLite, and PostgreSQL when TALLY_TEST_PG_URL is
// set): periods rated once the metric store's backlog is empty, state advancing with each
// write, re-rating replacing periods, priced mappings taking the price in force at each
// period's start, scopes split between members of a coordination group, and an operation
// that fails half way reporting what it did and did not. TableUsageSource serves fixed usage
// (the Gnocchi reader is tested on its own against a real Tally in collector.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { LocalMembership } from '@tally/coordination';
import { testDatabases } from '@tally/indexer/test-util';
import type { RatedPoint, ScopePeriod, UsagePoint } from '../model.js';
import type { UsageSource } from '../collector/gnocchi.js';
import { migrateRating, openRatingDatabase } from '../db.js';
import { RATING_MIGRATIONS } from '../migrations.js';
import { SqlRatingStore } from '../store/index.js';
import { PriceBook } from '../pricing/pricing.js';
import { PartialRatingError, PricingUnavailableError, RatingProcessor, ringOwnership } from './index.js';

/** The SQL store whose writes start failing after `failAfter` of them (the database going away). */
class FailingStore extends SqlRatingStore {
  writes = 0;
  failAfter = Infinity;
  override async writeRated(period: ScopePeriod, points: readonly RatedPoint[], currency: string): Promise<void> {
    if (this.writes >= this.failAfter) throw new Error('database is gone');
    await super.writeRated(period, points, currency);
    this.writes++;
  }
}

class TableUsageSource implements UsageSource {
  backlogCount = 0;
  /** Periods read, and reads of several periods at once. */
  reads = 0;
  batchReads = 0;
  constructor(readonly qtyOf: (scopeId: string, begin: bigint) => string, readonly scopeIds: string[]) {}
  async usage(scopeId: string, begin: bigint): Promise<UsagePoint[]> {
    this.reads++;
    return [{ type: 'instance', unit: 'instance', qty: this.qtyOf(scopeId, begin), groupby: { id: 'vm', project_id: scopeId }, metadata: { flavor: 'small' } }];
  }
  async usageOfPeriods(scopeId: string, begin: bigint, end: bigint, periodNs: bigint): Promise<UsagePoint[][]> {
    this.batchReads++;
    const out: UsagePoint[][] = [];
    for (let b = begin; b < end; b += periodNs) out.push(await this.usage(scopeId, b));
    return out;
  }
  async scopes(): Promise<string[]> { return this.scopeIds; }
  async backlog(): Promise<number> { return this.backlogCount; }
}

const H = 3600n * 1_000_000_000n;
const START = BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n;

for (const engine of testDatabases()) {
  /** A store with the hashmap module enabled and one flat mapping (instance, flavor small). */
  const withStore = async (cost: string, fn: (s: FailingStore, mappingId: string) => Promise<void>, pricingKey?: string): Promise<void> => {
    const { url, drop } = await engine.create();
    const database = await openRatingDatabase(url);
    try {
      await migrateRating(database, RATING_MIGRATIONS);
      const store = new FailingStore(database.db, database.dialect);
      await store.updateModule('hashmap', { enabled: true });
      const svc = await store.createService('instance');
      const field = await store.createField(svc.service_id, 'flavor');
      const m = await store.createMapping({ field_id: field.field_id, value: 'small', cost, map_type: 'flat', pricing_key: pricingKey ?? null });
      await fn(store, m.mapping_id);
    } finally {
      await database.close();
      await drop();
    }
  };
  const prices = async (store: SqlRatingStore, scopeId: string, end: bigint): Promise<string[]> =>
    (await store.readRated(scopeId, START, end)).map((f) => f.points[0].price);

  test(`${engine.name}: periods are rated when over and processed, once, with the scope state advancing`, () => withStore('0.5', async (store) => {
    const source = new TableUsageSource((_s, b) => String(Number((b - START) / H) + 1), ['p1', 'p2']);
    let now = START + 3n * H + 10n;
    const proc = new RatingProcessor({ store, source, start: START, currency: 'EUR', now: () => now });
    source.backlogCount = 5;
    assert.deepEqual(await proc.runOnce(), { rated: [], waiting: true });
    source.backlogCount = 0;
    const first = await proc.runOnce();
    assert.equal(first.rated.length, 6);
    assert.equal((await store.scopeState('p1'))?.last_processed, START + 3n * H);
    // hour i has quantity i + 1 at 0.5 per unit
    assert.deepEqual(await prices(store, 'p1', START + 3n * H), ['0.5', '1', '1.5']);
    const stored = await store.rated({ beginUs: Number(START / 1000n), endUs: Number((START + 3n * H) / 1000n) });
    assert.equal(stored.length, 6);
    assert.ok(stored.every((r) => r.currency === 'EUR'));
    // Nothing new until the next period is over; then only it.
    assert.equal((await proc.runOnce()).rated.length, 0);
    now += H;
    assert.deepEqual((await proc.runOnce()).rated.map((p) => [p.scopeId, p.begin]), [['p1', START + 3n * H], ['p2', START + 3n * H]]);
    assert.equal(source.reads, 8);
    // The first pass read each scope's three periods at once.
    assert.equal(source.batchReads, 2);
    // A scope deactivated through the API is left alone.
    await store.patchScope('p2', { active: false });
    now += H;
    assert.deepEqual((await proc.runOnce()).rated.map((p) => p.scopeId), ['p1']);
  }));

  test(`${engine.name}: re-rating replaces the periods asked for with the current rules`, () => withStore('0.5', async (store, mappingId) => {
    const source = new TableUsageSource(() => '2', ['p1']);
    const proc = new RatingProcessor({ store, source, start: START, now: () => START + 4n * H });
    await proc.runOnce();
    await store.updateMapping(mappingId, { cost: '0.75' });
    await proc.rerate(['p1'], START + H, START + 3n * H);
    assert.deepEqual(await prices(store, 'p1', START + 4n * H), ['1', '1.5', '1.5', '1']);
    assert.equal((await store.scopeState('p1'))?.last_processed, START + 4n * H, 're-rating never moves the state back');
    assert.throws(() => proc.periods('p1', START + 1n, START + H), /whole number/);
  }));

  test(`${engine.name}: a store that starts failing half way: the error lists what was rated and what was not, and resuming completes it`, () => withStore('1', async (store, mappingId) => {
    const source = new TableUsageSource(() => '3', ['p1', 'p2']);
    const proc = new RatingProcessor({ store, source, start: START, now: () => START + 5n * H });
    await proc.runOnce();
    await store.updateMapping(mappingId, { cost: '2' });
    store.failAfter = store.writes + 7;
    let err: unknown;
    try {
      await proc.rerate(['p1', 'p2'], START, START + 5n * H);
    } catch (e) { err = e; }
    assert.ok(err instanceof PartialRatingError);
    assert.equal(err.done.length, 7);
    assert.equal(err.notDone.length, 3);
    assert.deepEqual(err.notDone.map((p) => [p.scopeId, Number((p.begin - START) / H)]), [['p2', 2], ['p2', 3], ['p2', 4]]);
    // The data agrees with the report: done periods at the new price, the others untouched.
    assert.deepEqual(await prices(store, 'p1', START + 5n * H), ['6', '6', '6', '6', '6']);
    assert.deepEqual(await prices(store, 'p2', START + 5n * H), ['6', '6', '3', '3', '3']);
    store.failAfter = Infinity;
    await proc.ratePeriods(err.notDone);
    assert.deepEqual(await prices(store, 'p2', START + 5n * H), ['6', '6', '6', '6', '6']);
  }));

  test(`${engine.name}: a priced mapping costs the price in force at each period's start`, () => withStore('0', async (store) => {
    const entry = (price: string, effective: string, currency = 'USD'): { provider: string; service: string; size: string; region: string; unit: string; price: string; currency: string; effective: string } =>
      ({ provider: 'aws', service: 'ec2', size: 't3.micro', region: 'eu-west-1', unit: 'hour', price, currency, effective });
    const book = new PriceBook([{ source: 'bundled', file: { format: 1, entries: [entry('0.0104', '2023-06-01'), entry('0.0125', '2024-01-01T02:00:00Z')] } }]);
    const source = new TableUsageSource(() => '2', ['p1']);
    const now = (): bigint => START + 4n * H;
    // Without pricing data a priced mapping cannot be rated: nothing is written.
    const blind = new RatingProcessor({ store, source, start: START, currency: 'USD', now });
    await assert.rejects(blind.runOnce(), (e: unknown) => e instanceof PartialRatingError && e.cause instanceof PricingUnavailableError && e.done.length === 0);
    const proc = new RatingProcessor({ store, source, start: START, currency: 'USD', now, prices: () => book });
    assert.equal((await proc.runOnce()).rated.length, 4);
    // flat: the mapping's cost per unit of quantity 2
    assert.deepEqual(await prices(store, 'p1', START + 4n * H), ['0.0208', '0.0208', '0.025', '0.025']);
    // Prices are never converted: another rating currency fails rather than rating wrong.
    const eur = new RatingProcessor({ store, source, start: START, currency: 'EUR', now, prices: () => book });
    await assert.rejects(eur.rerate(['p1'], START, START + H), /priced in USD, the rating currency is EUR/);
  }, 'aws/ec2/t3.micro/eu-west-1'));

  test(`${engine.name}: a backlog is written in batches, each whole or not at all, and a failed batch is resumed from the scope's state`, () => withStore('1', async (store) => {
    const source = new TableUsageSource((_s, b) => String(Number((b - START) / H) + 1), ['p1']);
    const proc = new RatingProcessor({ store, source, start: START, now: () => START + 10n * H, batchPeriods: 4 });
    // The database refuses the rows of hour 6, inside the second batch (hours 4..7), after
    // that batch has deleted what was there and inserted the rows of hours 4 and 5.
    const failAt = Number((START + 6n * H) / 1000n);
    if (store.dialect === 'sqlite') {
      await sql`CREATE TRIGGER refuse_hour BEFORE INSERT ON rating_dataframes WHEN NEW.begin_us = ${sql.lit(failAt)} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`.execute(store.db);
    } else {
      await sql`CREATE FUNCTION refuse_hour() RETURNS trigger AS $$ BEGIN IF NEW.begin_us = ${sql.lit(failAt)} THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`.execute(store.db);
      await sql`CREATE TRIGGER refuse_hour BEFORE INSERT ON rating_dataframes FOR EACH ROW EXECUTE FUNCTION refuse_hour()`.execute(store.db);
    }
    const err = await proc.runOnce().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof PartialRatingError, String(err));
    assert.deepEqual(err.done.map((p) => Number((p.begin - START) / H)), [0, 1, 2, 3]);
    assert.equal(err.notDone.length, 6);
    // Only the first batch is there, and the state says so.
    assert.deepEqual((await store.readRated('p1', START, START + 10n * H)).map((f) => Number((f.period.begin - START) / H)), [0, 1, 2, 3]);
    assert.equal((await store.scopeState('p1'))?.last_processed, START + 4n * H);
    await sql`DROP TRIGGER refuse_hour ${sql.raw(store.dialect === 'sqlite' ? '' : 'ON rating_dataframes')}`.execute(store.db);
    // The next pass starts from the state and completes it: every hour once, at its price.
    const next = await proc.runOnce();
    assert.deepEqual(next.rated.map((p) => Number((p.begin - START) / H)), [4, 5, 6, 7, 8, 9]);
    assert.deepEqual(await prices(store, 'p1', START + 10n * H), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    assert.equal((await store.rated({ beginUs: Number(START / 1000n), endUs: Number((START + 10n * H) / 1000n) })).length, 10);
    assert.equal((await store.scopeState('p1'))?.last_processed, START + 10n * H);
    // Batches of 4, each read while the one before is written: 0-3, 4-7, 8-9 (read while
    // 4-7 failed), then again 4-7 and 8-9.
    assert.equal(source.batchReads, 5);
  }));

  test(`${engine.name}: scopes are split between processors of a group, each rated by exactly one`, () => withStore('1', async (store) => {
    const dir = mkdtempSync(join(tmpdir(), 'rating-ring-'));
    const membership = new LocalMembership({ dir });
    try {
      const scopes = Array.from({ length: 40 }, (_, i) => `project-${i}`);
      const a = await ringOwnership(membership, 'rating', 'a', { pollMs: 20 });
      const b = await ringOwnership(membership, 'rating', 'b', { pollMs: 20 });
      await new Promise((r) => setTimeout(r, 100));
      const mk = (owns: (s: string) => boolean): RatingProcessor => new RatingProcessor({ store, source: new TableUsageSource(() => '1', scopes), start: START, now: () => START + 2n * H, owns });
      const [ra, rb] = await Promise.all([mk(a.owns).runOnce(), mk(b.owns).runOnce()]);
      const keys = [...ra.rated, ...rb.rated].map((p) => `${p.scopeId}@${p.begin}`);
      assert.equal(keys.length, 80);
      assert.equal(new Set(keys).size, 80);
      assert.ok(ra.rated.length > 0 && rb.rated.length > 0);
      const stored = await store.rated({ beginUs: Number(START / 1000n), endUs: Number((START + 2n * H) / 1000n) });
      assert.equal(stored.length, 80, 'each scope-period written once');
      await a.close();
      await b.close();
    } finally {
      await membership.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }));
}
