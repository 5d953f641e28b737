import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregationNotFoundError, decodeState, processMeasures, readMeasures, type ReadQuery } from './index.js';
import type { ArchivePolicy, ArchivePolicyItem } from '../policy.js';
import { formatTimestamp, parseTimestamp } from '../time.js';
import { splitSegmentCount } from '../chunkenc/index.js';

const S = 1000000000n;

function item(granularity: bigint, points: number | null = null): ArchivePolicyItem {
  return { granularity, points, timespan: points === null ? null : granularity * BigInt(points) };
}

function policy(methods: string[], definition: ArchivePolicyItem[], backWindow = 0): ArchivePolicy {
  return { name: 'test', backWindow, aggregationMethods: methods, definition };
}

/** One metric with an in-memory split store, applying results like metricd would. */
class Metric {
  state: Uint8Array | null = null;
  readonly splits = new Map<string, Uint8Array>();
  lastDel: string[] = [];
  constructor(readonly policy: ArchivePolicy) {}

  readonly readSplit = async (key: string) => this.splits.get(key) ?? null;

  async post(points: [string | number | bigint, number][]): Promise<void> {
    const ts = BigInt64Array.from(points.map(([t]) => (typeof t === 'bigint' ? t : parseTimestamp(t))));
    const values = Float64Array.from(points.map(([, v]) => v));
    const r = await processMeasures(this.policy, this.state, { ts, values }, this.readSplit);
    for (const k of r.del) this.splits.delete(k);
    for (const [k, v] of r.put) this.splits.set(k, v);
    this.state = r.state;
    this.lastDel = r.del;
  }

  /** Rows like Gnocchi's JSON: [timestamp, granularity seconds, value]. */
  async get(query: Partial<Omit<ReadQuery, 'start' | 'stop'>> & { start?: string; stop?: string } = {}): Promise<[string, number, number][]> {
    const q: ReadQuery = {
      aggregation: query.aggregation ?? 'mean',
      granularity: query.granularity,
      resample: query.resample,
      start: query.start === undefined ? undefined : parseTimestamp(query.start),
      stop: query.stop === undefined ? undefined : parseTimestamp(query.stop),
    };
    const r = await readMeasures(this.policy, this.state, q, this.readSplit);
    return Array.from(r.ts, (t, i) => [formatTimestamp(t), Number(r.granularity[i]) / 1e9, r.values[i]]);
  }
}

// ---- conformance: functional/metric-derived.yaml (policy carrot-cake)
const derivedMeasures: [string, number][] = [
  ['2015-03-06T14:33:00', 10], ['2015-03-06T14:34:10', 13], ['2015-03-06T14:34:20', 13],
  ['2015-03-06T14:34:30', 15], ['2015-03-06T14:34:40', 18], ['2015-03-06T14:34:50', 20],
  ['2015-03-06T14:35:00', 22], ['2015-03-06T14:35:10', 26], ['2015-03-06T14:35:20', 30],
  ['2015-03-06T14:35:30', 31], ['2015-03-06T14:35:40', 37], ['2015-03-06T14:35:50', 55],
  ['2015-03-06T14:36:00', 62], ['2015-03-06T14:36:10', 100], ['2015-03-06T14:36:20', 102],
  ['2015-03-06T14:36:30', 103], ['2015-03-06T14:36:40', 104], ['2015-03-06T14:36:50', 110],
];
const carrotCake = policy(['rate:mean', 'rate:max', 'rate:95pct', 'max'], [item(60n * S)]);

async function checkDerived(m: Metric): Promise<void> {
  assert.deepEqual(await m.get({ aggregation: 'rate:mean' }), [
    ['2015-03-06T14:34:00+00:00', 60, 2.0],
    ['2015-03-06T14:35:00+00:00', 60, 5.833333333333333],
    ['2015-03-06T14:36:00+00:00', 60, 9.166666666666666],
  ]);
  assert.deepEqual(await m.get({ aggregation: 'rate:95pct' }), [
    ['2015-03-06T14:34:00+00:00', 60, 3.0],
    ['2015-03-06T14:35:00+00:00', 60, 15.0],
    ['2015-03-06T14:36:00+00:00', 60, 30.25],
  ]);
  assert.deepEqual(await m.get({ aggregation: 'rate:max' }), [
    ['2015-03-06T14:34:00+00:00', 60, 3.0],
    ['2015-03-06T14:35:00+00:00', 60, 18.0],
    ['2015-03-06T14:36:00+00:00', 60, 38.0],
  ]);
  assert.deepEqual(await m.get({ aggregation: 'max' }), [
    ['2015-03-06T14:33:00+00:00', 60, 10.0],
    ['2015-03-06T14:34:00+00:00', 60, 20.0],
    ['2015-03-06T14:35:00+00:00', 60, 55.0],
    ['2015-03-06T14:36:00+00:00', 60, 110.0],
  ]);
}

test('metric-derived.yaml: rates from one batch', async () => {
  const m = new Metric(carrotCake);
  await m.post(derivedMeasures);
  await checkDerived(m);
});

test('metric-derived.yaml: rates from two batches equal one batch', async () => {
  const m = new Metric(carrotCake);
  await m.post(derivedMeasures.slice(0, 8));
  await m.post(derivedMeasures.slice(8));
  await checkDerived(m);
});

test('measures in any order, any batching, give the same aggregates', async () => {
  const shuffled = [...derivedMeasures].reverse();
  const a = new Metric(carrotCake);
  await a.post(shuffled);
  await checkDerived(a);
});

// ---- conformance: functional/metric.yaml and metric-granularity.yaml (policy cookies)
test('metric.yaml: start filter, epoch start, resample', async () => {
  const m = new Metric(policy(['mean', 'min', 'max', 'sum', 'std', 'count'], [item(S)]));
  await m.post([[1425652437.0, 43.1]]);
  await m.post([['2015-03-06T14:34:12', 12]]);
  assert.deepEqual(await m.get({ start: '2015-03-06T14:34' }), [['2015-03-06T14:34:12+00:00', 1, 12.0]]);
  assert.deepEqual(await m.get({ start: '1425652440' }), [['2015-03-06T14:34:12+00:00', 1, 12.0]]);
  assert.deepEqual(await m.get({ granularity: S }), [
    ['2015-03-06T14:33:57+00:00', 1, 43.1],
    ['2015-03-06T14:34:12+00:00', 1, 12.0],
  ]);
  await m.post([['2015-03-06T14:34:15', 16], ['2015-03-06T14:35:12', 9], ['2015-03-06T14:35:15', 11]]);
  assert.deepEqual(await m.get({ granularity: S, resample: 60n * S }), [
    ['2015-03-06T14:33:00+00:00', 60, 43.1],
    ['2015-03-06T14:34:00+00:00', 60, 14.0],
    ['2015-03-06T14:35:00+00:00', 60, 10.0],
  ]);
});

test('unknown aggregation or granularity', async () => {
  const m = new Metric(policy(['mean'], [item(S)]));
  await m.post([['2015-03-06T14:33:57', 43.1]]);
  await assert.rejects(m.get({ granularity: 42n * S }), (e: unknown) =>
    e instanceof AggregationNotFoundError && e.message === "Aggregation method 'mean' at granularity '42.0' does not exist");
  await assert.rejects(m.get({ aggregation: 'last' }), AggregationNotFoundError);
});

// ---- observed on the reference Gnocchi 4.4.2 (policy: 1 s x 100, 60 s x 10)
test('duplicates: smallest value of a batch wins, a later batch overrides', async () => {
  const m = new Metric(policy(['mean', 'count', 'last', 'std', 'rate:mean'], [item(S, 100), item(60n * S, 10)]));
  await m.post([
    ['2015-03-06T14:33:57', 5], ['2015-03-06T14:33:57', 3], ['2015-03-06T14:33:57', 9],
    ['2015-03-06T14:33:58.123456789', 1],
  ]);
  assert.deepEqual(await m.get({ aggregation: 'count' }), [
    ['2015-03-06T14:33:00+00:00', 60, 2], ['2015-03-06T14:33:57+00:00', 1, 1], ['2015-03-06T14:33:58+00:00', 1, 1],
  ]);
  assert.deepEqual(await m.get(), [
    ['2015-03-06T14:33:00+00:00', 60, 2], ['2015-03-06T14:33:57+00:00', 1, 3], ['2015-03-06T14:33:58+00:00', 1, 1],
  ]);
  assert.deepEqual(await m.get({ aggregation: 'std' }), [['2015-03-06T14:33:00+00:00', 60, 1.4142135623730951]]);
  await m.post([['2015-03-06T14:33:58.123456789', 100]]);
  assert.deepEqual(await m.get(), [
    ['2015-03-06T14:33:00+00:00', 60, 51.5], ['2015-03-06T14:33:57+00:00', 1, 3], ['2015-03-06T14:33:58+00:00', 1, 100],
  ]);
  assert.deepEqual(await m.get({ aggregation: 'rate:mean' }), [
    ['2015-03-06T14:33:00+00:00', 60, 97], ['2015-03-06T14:33:58+00:00', 1, 97],
  ]);
  // start is rounded down to each granularity, stop is exclusive
  assert.deepEqual(await m.get({ start: '2015-03-06T14:33:57.5' }), await m.get());
  assert.deepEqual(await m.get({ stop: '2015-03-06T14:33:58' }), [
    ['2015-03-06T14:33:00+00:00', 60, 51.5], ['2015-03-06T14:33:57+00:00', 1, 3],
  ]);
  assert.deepEqual(await m.get({ start: '2015-03-06T14:33:58', stop: '2015-03-06T14:33:58.5' }), [
    ['2015-03-06T14:33:00+00:00', 60, 51.5], ['2015-03-06T14:33:58+00:00', 1, 100],
  ]);
  assert.deepEqual(await m.get({ stop: '2015-03-06T14:33:00' }), []);
  assert.deepEqual(await m.get({ start: '2015-03-06 14:33:58+01:00' }), await m.get());
  // resample re-aggregates the chosen granularity
  assert.deepEqual(await m.get({ granularity: 60n * S, resample: 120n * S }), [['2015-03-06T14:32:00+00:00', 120, 51.5]]);
  assert.deepEqual(await m.get({ granularity: S, resample: 7n * S }), [
    ['2015-03-06T14:33:51+00:00', 7, 3], ['2015-03-06T14:33:58+00:00', 7, 100],
  ]);
  assert.deepEqual(await m.get({ granularity: S, resample: 2n * S }), [
    ['2015-03-06T14:33:56+00:00', 2, 3], ['2015-03-06T14:33:58+00:00', 2, 100],
  ]);
});

// ---- back window: late measures older than the kept blocks are dropped
// (both tests below were replayed on the reference Gnocchi 4.4.2 with the same results)
test('back_window 0: measures before the current block are dropped', async () => {
  const m = new Metric(policy(['mean'], [item(60n * S)]));
  await m.post([['2015-03-06T14:35:10', 1]]);
  await m.post([['2015-03-06T14:34:59', 100], ['2015-03-06T14:35:20', 3]]);
  assert.deepEqual(await m.get(), [['2015-03-06T14:35:00+00:00', 60, 2]]);
});

test('back_window 1: one more block is accepted, older still dropped', async () => {
  const m = new Metric(policy(['mean'], [item(60n * S)], 1));
  await m.post([['2015-03-06T14:35:10', 1]]);
  await m.post([['2015-03-06T14:33:59', 7], ['2015-03-06T14:34:30', 100], ['2015-03-06T14:34:59', 50]]);
  assert.deepEqual(await m.get(), [
    ['2015-03-06T14:34:00+00:00', 60, 75], ['2015-03-06T14:35:00+00:00', 60, 1],
  ]);
  // a late measure in an open bucket recomputes it exactly
  await m.post([['2015-03-06T14:35:40', 4]]);
  assert.deepEqual(await m.get(), [
    ['2015-03-06T14:34:00+00:00', 60, 75], ['2015-03-06T14:35:00+00:00', 60, 2.5],
  ]);
});

// ---- retention
test('retention: points beyond timespan hidden, old splits deleted', async () => {
  const m = new Metric(policy(['last'], [item(S, 5)]));
  await m.post([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => [100 + s, s] as [number, number]));
  // kept: strictly after last - timespan = 109 - 5 s
  assert.deepEqual((await m.get({ aggregation: 'last' })).map((r) => r[2]), [5, 6, 7, 8, 9]);
  assert.deepEqual([...m.splits.keys()], ['last_1000000000_0']);
  await m.post([[7200, 1], [7201, 2], [7202, 3]]);
  assert.deepEqual(m.lastDel, ['last_1000000000_0']);
  assert.deepEqual([...m.splits.keys()], ['last_1000000000_7200000000000']);
  assert.deepEqual(await m.get({ aggregation: 'last' }), [
    ['1970-01-01T02:00:00+00:00', 1, 1], ['1970-01-01T02:00:01+00:00', 1, 2], ['1970-01-01T02:00:02+00:00', 1, 3],
  ]);
});

test('split keys: one split per 3600 points', async () => {
  const m = new Metric(policy(['count'], [item(60n * S)]));
  // 60 s x 3600 = 216000 s per split
  await m.post([[215999, 1], [216000, 1], [216059, 1]]);
  assert.deepEqual([...m.splits.keys()].sort(), ['count_60000000000_0', 'count_60000000000_216000000000000']);
  assert.deepEqual(await m.get({ aggregation: 'count' }), [
    ['1970-01-03T11:59:00+00:00', 60, 1], ['1970-01-03T12:00:00+00:00', 60, 2],
  ]);
  // a read whose window covers only the second split
  assert.deepEqual(await m.get({ aggregation: 'count', start: '216000' }), [['1970-01-03T12:00:00+00:00', 60, 2]]);
});

test('nanosecond timestamps survive the state buffer and splits', async () => {
  const m = new Metric(policy(['last', 'mean'], [item(1n)]));
  await m.post([[1425652437123456789n, 1], [1425652437123456790n, 2]]);
  await m.post([[1425652437123456791n, 3]]);
  assert.deepEqual(await m.get({ aggregation: 'last' }), [
    ['2015-03-06T14:33:57.123456789+00:00', 1e-9, 1],
    ['2015-03-06T14:33:57.123456790+00:00', 1e-9, 2],
    ['2015-03-06T14:33:57.123456791+00:00', 1e-9, 3],
  ]);
  const state = decodeState(m.state);
  assert.deepEqual([...state.buffer.ts], [1425652437123456791n]);
  assert.deepEqual([...state.splits.keys()].sort(), ['last_1', 'mean_1']);
  assert.ok(m.splits.has('last_1_1425652437123453600'));
  // Readers skip the buffer: same split index, no raw points.
  const index = decodeState(m.state, { buffer: false });
  assert.deepEqual(index.splits, state.splits);
  assert.equal(index.buffer.ts.length, 0);
});

test('splits round-trip before 1970 and over spans beyond 2^53 ns (hours, days)', async () => {
  // Every 6 hours from 1969-09-01 for 240 days, in 4 batches: the day splits hold 240 days
  // (over 2^53 ns from their start, so their positions go through BigInt), the hour ones
  // and the second ones less; all of them cross the epoch.
  const H = 3600n * S;
  const first = -122n * 24n * H;
  const points: [bigint, number][] = [];
  for (let k = 0; k < 960; k++) points.push([first + BigInt(k) * 6n * H, (k * 37) % 101]);
  const m = new Metric(policy(['mean', 'count'], [item(S), item(H), item(24n * H)]));
  for (let b = 0; b < 4; b++) await m.post(points.slice(b * 240, (b + 1) * 240));
  for (const g of [S, H, 24n * H]) {
    const want = new Map<bigint, number[]>();
    for (const [t, v] of points) {
      const start = t - (((t % g) + g) % g);
      want.set(start, [...(want.get(start) ?? []), v]);
    }
    const got = await m.get({ aggregation: 'mean', granularity: g });
    assert.equal(got.length, want.size, `granularity ${g}`);
    [...want].forEach(([start, vs], i) => {
      assert.equal(got[i][0], formatTimestamp(start), `granularity ${g} point ${i}`);
      assert.equal(got[i][2], vs.reduce((a, x) => a + x, 0) / vs.length, `granularity ${g} point ${i}`);
    });
  }
  assert.ok([...m.splits.keys()].some((k) => k.startsWith('mean_86400000000000_-')));
});

test('empty batch leaves everything unchanged', async () => {
  const m = new Metric(policy(['mean'], [item(S)]));
  const r = await processMeasures(m.policy, null, { ts: new BigInt64Array(0), values: new Float64Array(0) }, m.readSplit);
  assert.equal(r.put.size, 0);
  assert.deepEqual(r.del, []);
  assert.deepEqual(await readMeasures(m.policy, r.state, { aggregation: 'mean' }, m.readSplit), {
    ts: new BigInt64Array(0), granularity: new BigInt64Array(0), values: new Float64Array(0),
  });
});

test('small batches append to the open split; a split is one chunk again once the next one starts', async () => {
  const S = 1_000_000_000n;
  const p = policy(['mean', 'max', 'count'], [item(S), item(60n * S)]);
  const inSmall = new Metric(p);
  const inOne = new Metric(p);
  const t0 = 1_700_000_000n * S;
  const points: [bigint, number][] = Array.from({ length: 9000 }, (_, i) => [t0 + BigInt(i) * S, Math.round(Math.sin(i / 40) * 1000) / 1000]);
  for (let i = 0; i < points.length; i += 250) await inSmall.post(points.slice(i, i + 250));
  await inOne.post(points);
  for (const aggregation of ['mean', 'max', 'count']) {
    for (const granularity of [S, 60n * S]) {
      assert.deepEqual(await inSmall.get({ aggregation, granularity }), await inOne.get({ aggregation, granularity }), `${aggregation} @${granularity}`);
    }
  }
  // 1 s splits hold 3 600 points: two closed ones, single chunks; the open one in segments.
  const seconds = [...inSmall.splits.keys()].filter((k) => k.startsWith('mean_1000000000_')).sort();
  assert.equal(seconds.length, 3);
  const counts = seconds.map((k) => splitSegmentCount(inSmall.splits.get(k) as Uint8Array));
  assert.deepEqual(counts.slice(0, 2), [1, 1]);
  assert.ok(counts[2] > 1, `open split in ${counts[2]} segments`);
  assert.ok(splitSegmentCount(inSmall.splits.get(seconds[2].replace('mean', 'max')) as Uint8Array) > 1);
});

test('a fold from the bytes a fold returned gives what a fold from a copy of them gives, however often it is repeated', async () => {
  const S = 1_000_000_000n;
  // 1 000 points at 1 s: retention drops whole splits, which changes the state's split index.
  const p = policy(['mean', 'max', 'std', 'count'], [item(S, 1000), item(60n * S), item(3600n * S)]);
  const splits = new Map<string, Uint8Array>();
  const readSplit = async (k: string) => splits.get(k) ?? null;
  const batch = (from: number, n: number) => {
    const ts = new BigInt64Array(n);
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      ts[i] = 1_700_000_000n * S + BigInt(from + i) * S;
      values[i] = Math.round(Math.cos((from + i) / 30) * 1000) / 1000;
    }
    return { ts, values };
  };
  const first = await processMeasures(p, null, batch(0, 6000), readSplit);
  for (const [k, v] of first.put) splits.set(k, v);
  // The same fold three times from the returned bytes (a commit that failed, then retries),
  // and once from a copy the engine has never seen.
  const again = [];
  for (let i = 0; i < 3; i++) again.push(await processMeasures(p, first.state, batch(6000, 4000), readSplit));
  const fresh = await processMeasures(p, new Uint8Array(first.state), batch(6000, 4000), readSplit);
  assert.ok(fresh.del.length > 0, 'the fold drops a split');
  for (const r of again) {
    assert.deepEqual(r.state, fresh.state);
    assert.deepEqual(r.del, fresh.del);
    assert.deepEqual([...r.put.keys()].sort(), [...fresh.put.keys()].sort());
    for (const [k, v] of fresh.put) assert.deepEqual(r.put.get(k), v, k);
  }
  assert.deepEqual(decodeState(first.state), decodeState(new Uint8Array(first.state)));
});

test('folds that leave the buffer behind give what one fold gives, and keep none of the caller\'s arrays', async () => {
  const S = 1_000_000_000n;
  const methods = ['mean', 'min', 'max', 'sum', 'std', 'count', 'last'];
  const t0 = 1_700_000_040n * S;
  const points = (from: number, n: number) => {
    const ts = new BigInt64Array(n);
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      ts[i] = t0 + BigInt(from + i) * S;
      values[i] = Math.round(Math.sin((from + i) / 17) * 1000) / 1000;
    }
    return { ts, values };
  };
  // Batches on minute boundaries under a 1 s and 1 min policy share no bucket with the
  // buffer (the fold need not copy it); batches that start mid-minute do.
  for (const [sizes, label] of [[[20, 600, 60, 1200, 120], 'aligned'], [[37, 600, 61, 1200, 83], 'mid-minute']] as const) {
    const p = policy(methods, [item(S), item(60n * S)]);
    const inParts = new Metric(p);
    const byCopy = new Metric(p);
    let from = 0;
    for (const n of sizes) {
      const batch = points(from, n);
      const r = await processMeasures(p, inParts.state, batch, inParts.readSplit);
      for (const k of r.del) inParts.splits.delete(k);
      for (const [k, v] of r.put) inParts.splits.set(k, v);
      inParts.state = r.state;
      // The caller reuses its arrays once a fold is done: later folds must not see it.
      batch.ts.fill(0n);
      batch.values.fill(NaN);
      // The same fold from a copy of the state's bytes, which the engine decodes afresh.
      const c = await processMeasures(p, byCopy.state === null ? null : byCopy.state.slice(), points(from, n), byCopy.readSplit);
      for (const k of c.del) byCopy.splits.delete(k);
      for (const [k, v] of c.put) byCopy.splits.set(k, v);
      byCopy.state = c.state;
      assert.deepEqual(r.state, c.state, `${label}: state after ${from + n} points`);
      from += n;
    }
    const inOne = new Metric(p);
    await inOne.post(Array.from({ length: from }, (_, i) => [t0 + BigInt(i) * S, Math.round(Math.sin(i / 17) * 1000) / 1000]));
    for (const aggregation of methods) {
      for (const granularity of [S, 60n * S]) {
        const want = await inOne.get({ aggregation, granularity });
        assert.deepEqual(await inParts.get({ aggregation, granularity }), want, `${label}: ${aggregation} @${granularity}`);
        assert.deepEqual(await byCopy.get({ aggregation, granularity }), want, `${label}: ${aggregation} @${granularity}, from copies`);
      }
    }
  }
});
