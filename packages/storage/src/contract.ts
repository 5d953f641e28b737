// The behaviour every AggregateStorage driver owes its callers, as tests a driver's own
// test file runs against it: `storageContract('s3', harness)`. Imported only by tests
// (`@tally/storage/contract`), never by production code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AggregateStorage, CommitChange } from './types.js';

export interface StorageHarness {
  /** A new, empty storage; the harness disposes of it after the tests. */
  create(): Promise<AggregateStorage>;
  /** Another handle on the same storage, as another process would open it. */
  reopen(storage: AggregateStorage): Promise<AggregateStorage>;
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

export function change(partial: Partial<CommitChange>): CommitChange {
  return { state: bytes('s'), put: new Map(), del: [], applied: [], forget: [], ...partial };
}

/** One read-modify-write, as metricd does it. */
export async function commit(storage: AggregateStorage, metricId: string, c: CommitChange): Promise<void> {
  await (await storage.update(metricId)).commit(c);
}

export function storageContract(name: string, h: StorageHarness): void {
  test(`${name}: an unknown metric reads as empty`, async () => {
    const store = await h.create();
    const rec = await store.read(randomUUID());
    assert.equal(rec.state, null);
    assert.equal(rec.applied.size, 0);
    assert.equal(await store.readSplit(randomUUID(), 'k'), null);
    const u = await store.update(randomUUID());
    assert.equal(u.state, null);
    assert.equal(await u.readSplit('k'), null);
    await store.close();
  });

  test(`${name}: commits put, replace and delete splits and keep applied ids until forgotten`, async () => {
    const store = await h.create();
    const id = randomUUID();
    await commit(store, id, change({ state: bytes('state-1'), put: new Map([['a', bytes('A1')], ['b', bytes('B1')]]), applied: ['b1', 'b2'] }));
    await commit(store, id, change({
      state: bytes('state-2'), put: new Map([['a', bytes('A2')], ['c', bytes('C2')]]), del: ['b'],
      applied: ['b3'], forget: ['b1', 'never-seen'],
    }));
    const rec = await store.read(id);
    assert.equal(text(rec.state), 'state-2');
    assert.deepEqual([...rec.applied].sort(), ['b2', 'b3']);
    assert.equal(text(await store.readSplit(id, 'a')), 'A2');
    assert.equal(await store.readSplit(id, 'b'), null);
    assert.equal(text(await store.readSplit(id, 'c')), 'C2');
    await store.close();
  });

  test(`${name}: an update builds on what it read and its commit is seen by everyone`, async () => {
    const store = await h.create();
    const id = randomUUID();
    await commit(store, id, change({ state: bytes('s1'), put: new Map([['a', bytes('A1')], ['b', bytes('B1')]]), applied: ['b1'] }));
    const u = await store.update(id);
    assert.equal(text(u.state), 's1');
    assert.deepEqual([...u.applied], ['b1']);
    assert.equal(text(await u.readSplit('a')), 'A1');
    await u.commit(change({ state: bytes('s2'), put: new Map([['a', bytes('A2')]]), applied: ['b2'] }));
    const other = await h.reopen(store);
    for (const s of [store, other]) {
      assert.equal(text((await s.read(id)).state), 's2');
      assert.deepEqual([...(await s.read(id)).applied].sort(), ['b1', 'b2']);
      assert.equal(text(await s.readSplit(id, 'a')), 'A2');
      assert.equal(text(await s.readSplit(id, 'b')), 'B1', 'splits not in the change are kept');
    }
    await other.close();
    await store.close();
  });

  test(`${name}: a commit whose lock was lost (its signal aborted) writes nothing and fails with the signal's reason`, async () => {
    const store = await h.create();
    const id = randomUUID();
    await commit(store, id, change({ state: bytes('v1'), put: new Map([['a', bytes('A1')]]), applied: ['b1'] }));
    const lost = new AbortController();
    const u = await store.update(id, { signal: lost.signal });
    const reason = new Error('sack lock lost');
    lost.abort(reason);
    await assert.rejects(u.commit(change({ state: bytes('v2'), put: new Map([['a', bytes('A2')], ['b', bytes('B2')]]), applied: ['b2'] })),
      (err) => err === reason);
    const other = await h.reopen(store);
    for (const s of [store, other]) {
      const rec = await s.read(id);
      assert.equal(text(rec.state), 'v1');
      assert.deepEqual([...rec.applied], ['b1']);
      assert.equal(text(await s.readSplit(id, 'a')), 'A1');
      assert.equal(await s.readSplit(id, 'b'), null);
    }
    // The next holder builds on what the lost one left.
    await commit(other, id, change({ state: bytes('v3'), put: new Map([['b', bytes('B3')]]), applied: ['b3'] }));
    assert.deepEqual([...(await store.read(id)).applied].sort(), ['b1', 'b3']);
    assert.equal(text(await store.readSplit(id, 'a')), 'A1');
    assert.equal(text(await store.readSplit(id, 'b')), 'B3');
    await other.close();
    await store.close();
  });

  test(`${name}: a reader never serves a stale record after another handle committed or deleted`, async () => {
    const store = await h.create();
    const id = randomUUID();
    const reader = await h.reopen(store);
    await commit(store, id, change({ state: bytes('v1'), put: new Map([['k', bytes('one')]]) }));
    assert.equal(text((await reader.read(id)).state), 'v1');
    assert.equal(text(await reader.readSplit(id, 'k')), 'one');
    // Same sizes on purpose: a cache must notice the change by more than a size.
    await commit(store, id, change({ state: bytes('v2'), put: new Map([['k', bytes('two')]]) }));
    assert.equal(text((await reader.read(id)).state), 'v2');
    assert.equal(text(await reader.readSplit(id, 'k')), 'two');
    await store.deleteMetric(id);
    assert.equal((await reader.read(id)).state, null);
    assert.equal(await reader.readSplit(id, 'k'), null);
    await reader.close();
    await store.close();
  });


  test(`${name}: a read's splits are those of its commit, and a rewritten split is read anew`, async () => {
    const store = await h.create();
    const id = randomUUID();
    const reader = await h.reopen(store);
    assert.equal(await (await reader.read(id)).readSplit('k'), null, 'an unknown metric has no splits');
    await commit(store, id, change({ state: bytes('v1'), put: new Map([['k', bytes('one')], ['j', bytes('jay')]]) }));
    for (const s of [store, reader]) {
      const rec = await s.read(id);
      assert.equal(text(rec.state), 'v1');
      assert.equal(text(await rec.readSplit('k')), 'one');
      assert.equal(text(await rec.readSplit('k')), 'one', 'read again (from a cache, where there is one)');
      assert.equal(text(await rec.readSplit('j')), 'jay');
      assert.equal(await rec.readSplit('missing'), null);
    }
    // Rewritten with bytes of the same size, from the other handle: the record read next
    // must not be served the first payload from a cache.
    await commit(reader, id, change({ state: bytes('v2'), put: new Map([['k', bytes('two')]]), del: ['j'] }));
    for (const s of [store, reader]) {
      const rec = await s.read(id);
      assert.equal(text(rec.state), 'v2');
      assert.equal(text(await rec.readSplit('k')), 'two');
      assert.equal(await rec.readSplit('j'), null);
    }
    await reader.close();
    await store.close();
  });
  test(`${name}: concurrent commits to different metrics and to one metric all land`, async () => {
    const store = await h.create();
    const ids = Array.from({ length: 16 }, () => randomUUID());
    await Promise.all(ids.map((id, i) =>
      commit(store, id, change({ state: bytes(`s${i}`), put: new Map([['k', bytes(`v${i}`)]]), applied: [`b${i}`] }))));
    const shared = ids[0];
    await Promise.all([1, 2, 3, 4].map((n) => commit(store, shared, change({ applied: [`x${n}`] }))));
    const fresh = await h.reopen(store);
    for (const [i, id] of ids.entries()) assert.equal(text(await fresh.readSplit(id, 'k')), `v${i}`);
    assert.deepEqual([...(await fresh.read(shared)).applied].sort(), ['b0', 'x1', 'x2', 'x3', 'x4']);
    await fresh.close();
    await store.close();
  });

  test(`${name}: deleteMetric removes everything, is idempotent, and the id can be reused`, async () => {
    const store = await h.create();
    const id = randomUUID();
    await commit(store, id, change({ put: new Map([['k', bytes('v')]]), applied: ['b'] }));
    await store.deleteMetric(id);
    await store.deleteMetric(id);
    await store.deleteMetric(randomUUID());
    const rec = await store.read(id);
    assert.equal(rec.state, null);
    assert.equal(rec.applied.size, 0);
    assert.equal(await store.readSplit(id, 'k'), null);
    await commit(store, id, change({ state: bytes('reborn') }));
    assert.equal(text((await store.read(id)).state), 'reborn');
    assert.equal(await store.readSplit(id, 'k'), null);
    await store.close();
  });
}
