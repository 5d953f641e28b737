import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  CorruptStorageError, FileAggregateStorage, StorageUnavailableError, type CommitChange,
} from './index.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-storage-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

function change(partial: Partial<CommitChange>): CommitChange {
  return { state: bytes('s'), put: new Map(), del: [], applied: [], forget: [], ...partial };
}

function metricFiles(dir: string, id: string): string[] {
  return readdirSync(join(dir, id.slice(0, 2), id)).sort();
}

test('an unknown metric reads as empty', async (t) => {
  const store = new FileAggregateStorage({ dir: tempDir(t) });
  const rec = await store.read(randomUUID());
  assert.equal(rec.state, null);
  assert.equal(rec.applied.size, 0);
  assert.equal(await store.readSplit(randomUUID(), 'k'), null);
  await assert.rejects(store.read('../x'), RangeError);
  await store.close();
});

test('commit then read; puts replace, dels remove, superseded files are freed', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await store.commit(id, change({
    state: bytes('state-1'),
    put: new Map([['a', bytes('A1')], ['b', bytes('B1')]]),
    applied: ['batch-1'],
  }));
  await store.commit(id, change({
    state: bytes('state-2'),
    put: new Map([['a', bytes('A2')], ['c', bytes('C2')]]),
    del: ['b'],
    applied: ['batch-2'],
  }));
  const rec = await store.read(id);
  assert.equal(text(rec.state), 'state-2');
  assert.deepEqual([...rec.applied].sort(), ['batch-1', 'batch-2']);
  assert.equal(text(await store.readSplit(id, 'a')), 'A2');
  assert.equal(await store.readSplit(id, 'b'), null);
  assert.equal(text(await store.readSplit(id, 'c')), 'C2');
  assert.equal(metricFiles(dir, id).length, 3, 'manifest + 2 live splits, nothing superseded left');
  await store.close();
});

test('applied ids are kept until forgotten', async (t) => {
  const store = new FileAggregateStorage({ dir: tempDir(t) });
  const id = randomUUID();
  await store.commit(id, change({ applied: ['b1', 'b2'] }));
  await store.commit(id, change({ applied: ['b3'], forget: ['b1', 'never-seen'] }));
  assert.deepEqual([...(await store.read(id)).applied].sort(), ['b2', 'b3']);
  const rec = await store.read(id);
  rec.applied.add('mutated by caller');
  assert.ok(!(await store.read(id)).applied.has('mutated by caller'));
  await store.close();
});

test('a commit failing half way leaves the previous version intact and no files behind', async (t) => {
  const dir = tempDir(t);
  const id = randomUUID();
  for (const failOn of ['split', 'manifest', 'rename'] as const) {
    let armed = false;
    let splits = 0;
    const store = new FileAggregateStorage({
      dir,
      faultHook: (op) => {
        if (!armed || op !== failOn || (op === 'split' && ++splits < 2)) return;
        throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
      },
    });
    await store.commit(id, change({ state: bytes('good'), put: new Map([['a', bytes('A1')]]), applied: ['b1'] }));
    const before = metricFiles(dir, id);
    armed = true;
    const failing = store.commit(id, change({
      state: bytes('bad'),
      put: new Map([['a', bytes('A2')], ['b', bytes('B2')], ['c', bytes('C2')]]),
      applied: ['b2'],
    }));
    await assert.rejects(failing, (err: unknown) => err instanceof StorageUnavailableError && err.code === 'ENOSPC');
    assert.deepEqual(metricFiles(dir, id), before, `${failOn}: no stray file`);
    const fresh = new FileAggregateStorage({ dir }); // as another process would see it
    for (const s of [store, fresh]) {
      const rec = await s.read(id);
      assert.equal(text(rec.state), 'good');
      assert.deepEqual([...rec.applied], ['b1']);
      assert.equal(text(await s.readSplit(id, 'a')), 'A1');
      assert.equal(await s.readSplit(id, 'b'), null);
    }
    await store.close();
    await fresh.close();
  }
});

test('a reader never serves a stale manifest after another process committed', async (t) => {
  const dir = tempDir(t);
  const id = randomUUID();
  const reader = new FileAggregateStorage({ dir });
  const writer = new FileAggregateStorage({ dir });
  await writer.commit(id, change({ state: bytes('v1'), put: new Map([['k', bytes('one')]]) }));
  assert.equal(text((await reader.read(id)).state), 'v1');
  assert.equal(text(await reader.readSplit(id, 'k')), 'one');
  // Same sizes on purpose: the cache must notice by inode/mtime, not size alone.
  await writer.commit(id, change({ state: bytes('v2'), put: new Map([['k', bytes('two')]]) }));
  assert.equal(text((await reader.read(id)).state), 'v2');
  assert.equal(text(await reader.readSplit(id, 'k')), 'two');
  await writer.deleteMetric(id);
  assert.equal((await reader.read(id)).state, null);
  await reader.close();
  await writer.close();
});

test('concurrent commits to different metrics (and to one metric) all land', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const ids = Array.from({ length: 16 }, () => randomUUID());
  await Promise.all(ids.map((id, i) =>
    store.commit(id, change({ state: bytes(`s${i}`), put: new Map([['k', bytes(`v${i}`)]]), applied: [`b${i}`] }))));
  const shared = ids[0];
  await Promise.all([1, 2, 3, 4].map((n) => store.commit(shared, change({ applied: [`x${n}`] }))));
  const fresh = new FileAggregateStorage({ dir });
  for (const [i, id] of ids.entries()) {
    assert.equal(text(await fresh.readSplit(id, 'k')), `v${i}`);
  }
  assert.deepEqual([...(await fresh.read(shared)).applied].sort(), ['b0', 'x1', 'x2', 'x3', 'x4']);
  await store.close();
  await fresh.close();
});

test('deleteMetric removes everything atomically and is idempotent', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await store.commit(id, change({ put: new Map([['k', bytes('v')]]), applied: ['b'] }));
  await store.deleteMetric(id);
  await store.deleteMetric(id);
  assert.equal(existsSync(join(dir, id.slice(0, 2), id)), false);
  const rec = await store.read(id);
  assert.equal(rec.state, null);
  assert.equal(rec.applied.size, 0);
  assert.equal(await store.readSplit(id, 'k'), null);
  await store.commit(id, change({ state: bytes('reborn') }));
  assert.equal(text((await store.read(id)).state), 'reborn');
  await store.close();
});

test('cleanup removes crash leftovers but not live files; corruption is reported', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await store.commit(id, change({ put: new Map([['k', bytes('v')]]) }));
  const mdir = join(dir, id.slice(0, 2), id);
  writeFileSync(join(mdir, '1-deadbeef-0.split'), 'orphan of an old generation');
  writeFileSync(join(mdir, '9-deadbeef-0.split'), 'maybe a commit in flight');
  assert.equal(await store.cleanup(), 1);
  assert.deepEqual(metricFiles(dir, id).filter((f) => f.startsWith('9-')), ['9-deadbeef-0.split']);
  assert.equal(text(await store.readSplit(id, 'k')), 'v');
  const live = metricFiles(dir, id).find((f) => f.startsWith('1-') && f !== '1-deadbeef-0.split')!;
  const raw = readFileSync(join(mdir, live));
  raw[raw.length - 1] ^= 1;
  writeFileSync(join(mdir, live), raw);
  await assert.rejects(store.readSplit(id, 'k'), CorruptStorageError);
  await store.close();
});

test('update(): reads once, builds on what it read, and frees superseded files by name', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await store.commit(id, change({ state: bytes('s1'), put: new Map([['a', bytes('A1')], ['b', bytes('B1')]]), applied: ['b1'] }));
  const u = await store.update(id);
  assert.equal(text(u.state), 's1');
  assert.deepEqual([...u.applied], ['b1']);
  assert.equal(text(await u.readSplit('a')), 'A1');
  assert.equal(await u.readSplit('zz'), null);
  await u.commit(change({ state: bytes('s2'), put: new Map([['a', bytes('A2')]]), applied: ['b2'] }));
  assert.equal(text((await store.read(id)).state), 's2');
  assert.equal(text(await store.readSplit(id, 'a')), 'A2');
  assert.equal(text(await store.readSplit(id, 'b')), 'B1');
  assert.equal(metricFiles(dir, id).length, 3, 'the superseded split of a is gone');
  // Another process commits meanwhile: a reader following an update's stale file name
  // falls back to the current manifest rather than failing.
  const stale = await store.update(id);
  const other = new FileAggregateStorage({ dir });
  await other.commit(id, change({ state: bytes('s3'), put: new Map([['b', bytes('B3')]]) }));
  assert.equal(text(await stale.readSplit('b')), 'B3');
  await other.close();
  // A commit of this process after an update read: that update re-reads before committing.
  const late = await store.update(id);
  await store.commit(id, change({ state: bytes('s4'), put: new Map([['c', bytes('C4')]]) }));
  await late.commit(change({ state: bytes('s5'), put: new Map([['d', bytes('D5')]]) }));
  assert.equal(text(await store.readSplit(id, 'c')), 'C4', 'the later commit kept what came between');
  assert.equal(text(await store.readSplit(id, 'd')), 'D5');
  await store.close();
});

test('a file a crashed commit left is removed by a later commit that lists the folder', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await store.commit(id, change({ put: new Map([['a', bytes('A')]]) }));
  const orphan = join(dir, id.slice(0, 2), id, '1-0badf00d-7.split');
  writeFileSync(orphan, 'left by a crash');
  for (let i = 0; i < 16; i++) {
    const u = await store.update(id);
    await u.commit(change({ put: new Map([['a', bytes(`A${i}`)]]) }));
    // Each commit leaves exactly the manifest and the live split, plus the orphan until swept.
    assert.equal(metricFiles(dir, id).length, existsSync(orphan) ? 3 : 2);
  }
  assert.equal(existsSync(orphan), false);
  assert.equal(text(await store.readSplit(id, 'a')), 'A15');
  await store.close();
});
