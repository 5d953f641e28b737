// The processor: periods rated once the store's backlog is empty, state advancing with each
// write, re-rating replacing periods, scopes split between members of a coordination group,
// and an operation that fails half way reporting what it did and did not.
//
// TestOnlyMemoryRatingStore stands in for the SQL rating store (written in parallel) behind the
// same RatingStore interface; the tests take any RatingStore and should be pointed at the SQL
// one once it is in. TableUsageSource serves fixed usage (the Gnocchi reader is tested on its own
// against a real Tally in collector.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalMembership } from '@tally/coordination';
import type { HashmapRules, RatedPoint, RatingModuleState, RatingStore, ScopePeriod, ScopeState, UsagePoint } from '../model.js';
import type { UsageSource } from '../collector/gnocchi.js';
import { PartialRatingError, RatingProcessor, ringOwnership } from './index.js';

class TestOnlyMemoryRatingStore implements RatingStore {
  frames = new Map<string, { period: ScopePeriod; points: RatedPoint[]; currency: string }>();
  states = new Map<string, ScopeState>();
  writes = 0;
  failAfter = Infinity;
  constructor(readonly rules: HashmapRules, readonly modules: RatingModuleState[]) {}
  async enabledModules(): Promise<RatingModuleState[]> { return this.modules.filter((m) => m.enabled); }
  async hashmapRules(): Promise<HashmapRules> { return this.rules; }
  async scopeState(id: string): Promise<ScopeState | null> { return this.states.get(id) ?? null; }
  async scopes(): Promise<ScopeState[]> { return [...this.states.values()]; }
  async writeRated(period: ScopePeriod, points: readonly RatedPoint[], currency: string): Promise<void> {
    if (this.writes >= this.failAfter) throw new Error('database is gone');
    this.writes++;
    this.frames.set(`${period.scopeId}@${period.begin}`, { period, points: [...points], currency });
    const s = this.states.get(period.scopeId);
    if (s === undefined || s.last_processed === null || s.last_processed < period.end) {
      this.states.set(period.scopeId, { scope_id: period.scopeId, scope_key: 'project_id', collector: 'gnocchi', fetcher: 'gnocchi', last_processed: period.end, active: true });
    }
  }
  async readRated(scopeId: string, begin: bigint, end: bigint): Promise<{ period: ScopePeriod; points: RatedPoint[] }[]> {
    return [...this.frames.values()].filter((f) => f.period.scopeId === scopeId && f.period.begin >= begin && f.period.end <= end).sort((a, b) => Number(a.period.begin - b.period.begin));
  }
}

class TableUsageSource implements UsageSource {
  backlogCount = 0;
  reads = 0;
  constructor(readonly qtyOf: (scopeId: string, begin: bigint) => string, readonly scopeIds: string[]) {}
  async usage(scopeId: string, begin: bigint): Promise<UsagePoint[]> {
    this.reads++;
    return [{ type: 'instance', unit: 'instance', qty: this.qtyOf(scopeId, begin), groupby: { id: 'vm', project_id: scopeId }, metadata: { flavor: 'small' } }];
  }
  async scopes(): Promise<string[]> { return this.scopeIds; }
  async backlog(): Promise<number> { return this.backlogCount; }
}

const H = 3600n * 1_000_000_000n;
const START = BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n;
const MODULES: RatingModuleState[] = [{ module_id: 'hashmap', description: '', enabled: true, priority: 1, hot_config: true }];
const rules = (cost: string): HashmapRules => ({
  services: [{ service_id: 's', name: 'instance' }], fields: [{ field_id: 'f', service_id: 's', name: 'flavor' }], groups: [], thresholds: [],
  mappings: [{ mapping_id: 'm', value: 'small', cost, map_type: 'flat', service_id: null, field_id: 'f', group_id: null, tenant_id: null }],
});

test('periods are rated when over and processed, once, with the scope state advancing', async () => {
  const store = new TestOnlyMemoryRatingStore(rules('0.5'), MODULES);
  const source = new TableUsageSource((_s, b) => String(Number((b - START) / H) + 1), ['p1', 'p2']);
  let now = START + 3n * H + 10n;
  const proc = new RatingProcessor({ store, source, start: START, currency: 'EUR', now: () => now });
  source.backlogCount = 5;
  assert.deepEqual(await proc.runOnce(), { rated: [], waiting: true });
  source.backlogCount = 0;
  const first = await proc.runOnce();
  assert.equal(first.rated.length, 6);
  assert.equal((await store.scopeState('p1'))?.last_processed, START + 3n * H);
  const frames = await store.readRated('p1', START, START + 3n * H);
  // hour i has quantity i + 1 at 0.5 per unit
  assert.deepEqual(frames.map((f) => f.points[0].price), ['0.5', '1', '1.5']);
  assert.equal(store.frames.get(`p1@${START}`)?.currency, 'EUR');
  // Nothing new until the next period is over; then only it.
  assert.equal((await proc.runOnce()).rated.length, 0);
  now += H;
  assert.deepEqual((await proc.runOnce()).rated.map((p) => [p.scopeId, p.begin]), [['p1', START + 3n * H], ['p2', START + 3n * H]]);
  assert.equal(source.reads, 8);
});

test('re-rating replaces the periods asked for with the current rules', async () => {
  const store = new TestOnlyMemoryRatingStore(rules('0.5'), MODULES);
  const source = new TableUsageSource(() => '2', ['p1']);
  const proc = new RatingProcessor({ store, source, start: START, now: () => START + 4n * H });
  await proc.runOnce();
  store.rules.mappings[0].cost = '0.75';
  await proc.rerate(['p1'], START + H, START + 3n * H);
  assert.deepEqual((await store.readRated('p1', START, START + 4n * H)).map((f) => f.points[0].price), ['1', '1.5', '1.5', '1']);
  assert.equal((await store.scopeState('p1'))?.last_processed, START + 4n * H);
  assert.throws(() => proc.periods('p1', START + 1n, START + H), /whole number/);
});

test('a store that starts failing half way: the error lists what was rated and what was not, and resuming completes it', async () => {
  const store = new TestOnlyMemoryRatingStore(rules('1'), MODULES);
  const source = new TableUsageSource(() => '3', ['p1', 'p2']);
  const proc = new RatingProcessor({ store, source, start: START, now: () => START + 5n * H });
  await proc.runOnce();
  store.rules.mappings[0].cost = '2';
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
  const price = (p: ScopePeriod): string => store.frames.get(`${p.scopeId}@${p.begin}`)?.points[0].price ?? '';
  assert.ok(err.done.every((p) => price(p) === '6'));
  assert.ok(err.notDone.every((p) => price(p) === '3'));
  store.failAfter = Infinity;
  await proc.ratePeriods(err.notDone);
  assert.ok([...store.frames.values()].every((f) => f.points[0].price === '6'));
});

test('scopes are split between processors of a group, each rated by exactly one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rating-ring-'));
  const membership = new LocalMembership({ dir });
  try {
    const scopes = Array.from({ length: 40 }, (_, i) => `project-${i}`);
    const store = new TestOnlyMemoryRatingStore(rules('1'), MODULES);
    const a = await ringOwnership(membership, 'rating', 'a', { pollMs: 20 });
    const b = await ringOwnership(membership, 'rating', 'b', { pollMs: 20 });
    await new Promise((r) => setTimeout(r, 100));
    const mk = (owns: (s: string) => boolean): RatingProcessor => new RatingProcessor({ store, source: new TableUsageSource(() => '1', scopes), start: START, now: () => START + 2n * H, owns });
    const [ra, rb] = await Promise.all([mk(a.owns).runOnce(), mk(b.owns).runOnce()]);
    const keys = [...ra.rated, ...rb.rated].map((p) => `${p.scopeId}@${p.begin}`);
    assert.equal(keys.length, 80);
    assert.equal(new Set(keys).size, 80);
    assert.ok(ra.rated.length > 0 && rb.rated.length > 0);
    await a.close();
    await b.close();
  } finally {
    await membership.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
