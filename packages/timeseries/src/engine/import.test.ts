// Aggregates stored as given must read back bit for bit, at every method and granularity,
// including series spanning several splits, NaN values and rate series.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregateImportError, importAggregates, type AggregateSeries } from './import.js';
import { processMeasures } from './process.js';
import { readMeasures } from './read.js';
import { policyMethods } from './splits.js';
import type { ArchivePolicy } from '../policy.js';

const S = 1_000_000_000n;
const T0 = 1_704_067_200n * S; // 2024-01-01T00:00:00Z

const policy: ArchivePolicy = {
  name: 'import', backWindow: 0, aggregationMethods: ['mean', 'count', 'std', '95pct', 'rate:mean'],
  definition: [{ granularity: S, points: null, timespan: null }, { granularity: 300n * S, points: null, timespan: null }],
};

class Store {
  state: Uint8Array | null = null;
  readonly splits = new Map<string, Uint8Array>();
  readonly readSplit = (key: string): Promise<Uint8Array | null> => Promise.resolve(this.splits.get(key) ?? null);
  apply(r: { state: Uint8Array; put: Map<string, Uint8Array>; del: string[] }): void {
    for (const k of r.del) this.splits.delete(k);
    for (const [k, v] of r.put) this.splits.set(k, v);
    this.state = r.state;
  }
  async read(method: string, g: bigint): Promise<{ ts: bigint[]; values: number[] }> {
    const r = await readMeasures(policy, this.state, { aggregation: method, granularity: g }, this.readSplit);
    return { ts: [...r.ts], values: [...r.values] };
  }
}

test('importAggregates: what processing stored reads back identical once imported elsewhere', async () => {
  // Over 3 hours of measures at 1 s: four splits at 1 s (3600 points each), one at 300 s.
  const n = 3 * 3600 + 17;
  const ts = BigInt64Array.from({ length: n }, (_, i) => T0 + BigInt(i) * S);
  const values = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 7) * 1e3 + (i % 11 === 0 ? 0.1 : 0));
  const source = new Store();
  source.apply(await processMeasures(policy, null, { ts, values }, source.readSplit));

  const series: AggregateSeries[] = [];
  for (const method of policyMethods(policy)) {
    for (const { granularity } of policy.definition) {
      const r = await source.read(method, granularity);
      series.push({ method, granularity, ts: BigInt64Array.from(r.ts), values: Float64Array.from(r.values) });
    }
  }
  const copy = new Store();
  const result = importAggregates(policy, null, series);
  assert.deepEqual(result.del, []);
  copy.apply(result);
  for (const s of series) {
    const got = await copy.read(s.method, s.granularity);
    assert.deepEqual(got, { ts: [...s.ts], values: [...s.values] }, `${s.method} at ${s.granularity}`);
    // std of one measure per bucket has no value: that series alone is empty.
    if (s.method !== 'std' || s.granularity !== S) assert.ok(got.ts.length > 0, `${s.method} at ${s.granularity} is empty`);
  }
  // Importing again over it, with one series shorter, deletes the splits it no longer has.
  const shorter = series.map((s) => (s.method === 'mean' && s.granularity === S ? { ...s, ts: s.ts.subarray(0, 10), values: s.values.subarray(0, 10) } : s));
  const again = importAggregates(policy, copy.state, shorter);
  assert.equal(again.del.length, 3);
  copy.apply(again);
  assert.deepEqual((await copy.read('mean', S)).ts, [...series[0].ts.subarray(0, 10)]);
});

test('importAggregates refuses what the policy cannot hold', () => {
  const one = (over: Partial<AggregateSeries>): AggregateSeries =>
    ({ method: 'mean', granularity: S, ts: BigInt64Array.of(T0), values: Float64Array.of(NaN), ...over });
  assert.throws(() => importAggregates(policy, null, [one({ method: 'max' })]), AggregateImportError);
  assert.throws(() => importAggregates(policy, null, [one({ granularity: 60n * S })]), AggregateImportError);
  assert.throws(() => importAggregates(policy, null, [one({ granularity: 300n * S, ts: BigInt64Array.of(T0 + S) })]), AggregateImportError);
  assert.throws(() => importAggregates(policy, null, [one({}), one({})]), AggregateImportError);
  assert.throws(() => importAggregates(policy, null, [one({ ts: BigInt64Array.of(T0, T0), values: Float64Array.of(1, 2) })]), AggregateImportError);
});
