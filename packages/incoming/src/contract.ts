// The behaviour every IncomingStore driver owes its callers, as tests a driver's own test
// file runs against it: `incomingContract('redis', harness)`. Imported only by tests
// (`@tally/incoming/contract`), never by production code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CorruptBatchError } from './batch-format.js';
import { IncomingClosedError } from './errors.js';
import type { IncomingStore, Measures } from './types.js';

export interface IncomingHarness {
  /** A new, empty store with `sacks` sacks; the harness disposes of it after the tests. */
  create(sacks: number): Promise<IncomingStore>;
  /** Another handle on the same store, as another process would open it. */
  reopen(store: IncomingStore): Promise<IncomingStore>;
  /** Damages what `sack` holds of batch `id` so that reading it there must fail its checks. */
  corrupt(store: IncomingStore, sack: number, id: string): Promise<void>;
}

export function measures(n: number, start = 0): Measures {
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    ts[i] = 1_700_000_000_000_000_000n + BigInt(start + i) * 1_000_000_000n;
    values[i] = (start + i) * 0.5;
  }
  return { ts, values };
}

async function allBatches(store: IncomingStore): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for (let s = 0; s < store.sacks; s++) for (const id of await store.listBatches(s)) out.push([s, id]);
  return out;
}

export function incomingContract(name: string, h: IncomingHarness): void {
  test(`${name}: add is readable back exactly, in the metric's sack only`, async () => {
    const store = await h.create(4);
    const a = randomUUID();
    const b = randomUUID();
    const special = { ts: new BigInt64Array([-1n, 2n ** 62n, 0n]), values: new Float64Array([NaN, -0, Infinity]) };
    await store.add(new Map([[a, measures(10)], [b, special]]));
    for (const [id, m] of [[a, measures(10)], [b, special]] as const) {
      const sack = store.sackOf(id);
      const ids = await store.listBatches(sack);
      const found = (await Promise.all(ids.map((i) => store.readBatch(sack, i)))).find((x) => x.has(id));
      assert.ok(found, `metric ${id} in sack ${sack}`);
      assert.deepEqual([...found.get(id)!.ts], [...m.ts]);
      assert.deepEqual([...found.get(id)!.values], [...m.values]);
    }
    for (const [s, batch] of await allBatches(store)) {
      for (const id of (await store.readBatch(s, batch)).keys()) assert.equal(store.sackOf(id), s);
    }
    await store.close();
  });

  test(`${name}: parked measures are kept under their batch and metric, counted in the backlog until unparked`, async () => {
    const store = await h.create(4);
    const broken = randomUUID();
    const healthy = randomUUID();
    const sack = store.sackOf(broken);
    await store.add(new Map([[broken, measures(6)], [healthy, measures(4)]]));
    const [id] = await store.listBatches(sack);
    const parkedPart = (await store.readBatch(sack, id)).get(broken) as Measures;
    const entry = { batchId: id, metricId: broken };
    await store.park(sack, entry, parkedPart);
    await store.park(sack, entry, parkedPart); // parking again the same replaces it
    await store.deleteBatches(sack, [id]);
    if (store.sackOf(healthy) !== sack) await store.deleteBatches(store.sackOf(healthy), await store.listBatches(store.sackOf(healthy)));
    else await store.deleteBatches(sack, await store.listBatches(sack));
    const later = { batchId: id.replace(/^[0-9a-f]{12}/, (ms) => (parseInt(ms, 16) + 1).toString(16).padStart(12, '0')), metricId: broken };
    await store.park(sack, later, measures(3, 100));
    const other = await h.reopen(store);
    for (const s of [store, other]) {
      assert.deepEqual(await s.listParked(sack), [entry, later], 'oldest batch first');
      assert.deepEqual(await s.listParked((sack + 1) % s.sacks), []);
      assert.deepEqual(await s.listBatches(sack), []);
      const back = await s.readParked(sack, entry);
      assert.deepEqual([...back.ts], [...parkedPart.ts]);
      assert.deepEqual([...back.values], [...parkedPart.values]);
      const b = await s.backlog({ perMetric: true });
      assert.equal(b.measures, 9);
      assert.equal(b.metrics, 1);
      assert.equal(b.perMetric?.get(broken), 9);
      assert.equal(b.parkedMeasures, 9);
      assert.equal(b.parkedMetrics, 1);
    }
    await other.unpark(sack, [entry, { batchId: later.batchId, metricId: randomUUID() }]);
    assert.deepEqual(await store.listParked(sack), [later]);
    assert.equal((await store.backlog()).parkedMeasures, 3);
    await store.unpark(sack, [later]);
    const empty = await store.backlog();
    assert.deepEqual([empty.measures, empty.metrics, empty.parkedMeasures, empty.parkedMetrics], [0, 0, 0, 0]);
    await assert.rejects(store.park(sack, { batchId: 'not-a-batch', metricId: broken }, parkedPart), RangeError);
    await other.close();
    await store.close();
  });

  test(`${name}: sackOf is Gnocchi's uuid.int % sacks`, async () => {
    for (const sacks of [1, 7]) {
      const store = await h.create(sacks);
      for (let i = 0; i < 20; i++) {
        const id = randomUUID();
        assert.equal(store.sackOf(id), Number(BigInt('0x' + id.replaceAll('-', '')) % BigInt(sacks)));
      }
      await store.close();
    }
  });

  test(`${name}: concurrent adds are all durable and counted`, async () => {
    const store = await h.create(2);
    const metric = randomUUID();
    const others = Array.from({ length: 20 }, () => randomUUID());
    await Promise.all(Array.from({ length: 10 }, (_, c) =>
      store.add(new Map([[metric, measures(5, c * 5)], ...others.map((o) => [o, measures(3)] as const)]))));
    const backlog = await store.backlog({ perMetric: true });
    assert.equal(backlog.perMetric?.get(metric), 50);
    assert.equal(backlog.metrics, 21);
    assert.equal(backlog.measures, 50 + 20 * 10 * 3);
    assert.equal(backlog.quarantined, 0);
    const seen = new Set<number>();
    for (const [s, id] of await allBatches(store)) {
      for (const v of (await store.readBatch(s, id)).get(metric)?.values ?? []) seen.add(v);
    }
    assert.equal(seen.size, 50);
    await store.close();
  });

  test(`${name}: batches list oldest first; deleteBatches removes them, twice is harmless`, async () => {
    const store = await h.create(1);
    const id = randomUUID();
    for (let i = 0; i < 3; i++) await store.add(new Map([[id, measures(1, i)]]));
    const ids = await store.listBatches(0);
    assert.equal(ids.length, 3);
    const firstValues = await Promise.all(ids.map(async (b) => (await store.readBatch(0, b)).get(id)!.values[0]));
    assert.deepEqual(firstValues, [0, 0.5, 1]);
    await store.deleteBatches(0, ids.slice(0, 2));
    await store.deleteBatches(0, ids.slice(0, 2));
    assert.deepEqual(await store.listBatches(0), ids.slice(2));
    const other = await h.reopen(store);
    assert.deepEqual(await other.listBatches(0), ids.slice(2), 'another handle sees the deletion');
    await other.close();
    await store.close();
  });

  test(`${name}: malformed input is refused without failing other callers; closed refuses adds`, async () => {
    const store = await h.create(1);
    const bad = store.add(new Map([['x', { ts: new BigInt64Array(2), values: new Float64Array(1) }]]));
    const good = store.add(new Map([['y', measures(2)]]));
    await assert.rejects(bad, TypeError);
    await good;
    assert.equal((await store.backlog()).measures, 2);
    await store.close();
    await assert.rejects(store.add(new Map([['y', measures(1)]])), IncomingClosedError);
  });

  test(`${name}: backlog is exact across adds and deletes, and the same from another handle`, async () => {
    const store = await h.create(1);
    const [a, b] = [randomUUID(), randomUUID()];
    await store.add(new Map([[a, measures(4)]]));
    await store.add(new Map([[b, measures(6)]]));
    assert.equal((await store.backlog()).measures, 10);
    const [first] = await store.listBatches(0);
    await store.deleteBatches(0, [first]);
    await store.add(new Map([[a, measures(7)], [b, measures(1)]]));
    const after = await store.backlog({ perMetric: true });
    assert.deepEqual([...after.perMetric ?? []].sort(), [[a, 7], [b, 7]].sort());
    assert.equal(after.metrics, 2);
    assert.equal(after.measures, 14);
    assert.equal((await store.backlog()).perMetric, null);
    const other = await h.reopen(store);
    assert.equal((await other.backlog()).measures, 14);
    await store.deleteBatches(0, await store.listBatches(0));
    assert.equal((await store.backlog()).measures, 0);
    await store.close();
    await other.close();
  });

  test(`${name}: a corrupt batch fails to read in its sack only and is quarantined there`, async () => {
    const store = await h.create(4);
    const ids = Array.from({ length: 24 }, () => randomUUID());
    await store.add(new Map(ids.map((id) => [id, measures(5)] as const)));
    const later = randomUUID();
    await store.add(new Map([[later, measures(3)]]));
    const sacks = [...new Set(ids.map((id) => store.sackOf(id)))].sort();
    assert.ok(sacks.length >= 2, 'the batch spans several sacks');
    const [bad, good] = sacks;
    const [batch] = await store.listBatches(bad);
    await h.corrupt(store, bad, batch);
    await assert.rejects(store.readBatch(bad, batch), CorruptBatchError);
    assert.equal((await store.readBatch(good, batch)).size, ids.filter((id) => store.sackOf(id) === good).length);
    await store.quarantine(bad, batch);
    assert.ok(!(await store.listBatches(bad)).includes(batch));
    assert.ok((await store.listBatches(good)).includes(batch), 'other sacks keep the batch');
    const backlog = await store.backlog({ perMetric: true });
    assert.equal(backlog.quarantined, 1);
    assert.equal(backlog.perMetric?.get(later), 3);
    for (const id of ids) assert.equal(backlog.perMetric?.get(id), store.sackOf(id) === bad ? undefined : 5);
    await store.close();
  });
}
