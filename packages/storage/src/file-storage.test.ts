import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import {
  CorruptStorageError, FileAggregateStorage, StorageConfigError, StorageUnavailableError, openStorage,
} from './index.js';
import { change, commit, storageContract } from './contract.js';

const folders: string[] = [];
after(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

storageContract('file', {
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-storage-'));
    folders.push(dir);
    return openStorage(pathToFileURL(dir).href);
  },
  reopen: async (storage) => new FileAggregateStorage({ dir: (storage as FileAggregateStorage).dir }),
});

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-storage-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

function metricFiles(dir: string, id: string): string[] {
  return readdirSync(join(dir, id.slice(0, 2), id)).sort();
}

test('openStorage chooses the driver by scheme and names the known ones otherwise', async (t) => {
  const dir = tempDir(t);
  const store = await openStorage(pathToFileURL(dir).href);
  assert.ok(store instanceof FileAggregateStorage);
  assert.equal(store.dir, dir);
  await store.close();
  await assert.rejects(openStorage('s3://bucket/prefix'), /unknown scheme s3: \(known schemes: file:\/\/\)/);
  await assert.rejects(openStorage('file://data/storage'), StorageConfigError);
  await assert.rejects(openStorage(dir), StorageConfigError);
});

test('metric ids that are not safe file names are refused', async (t) => {
  const store = new FileAggregateStorage({ dir: tempDir(t) });
  await assert.rejects(store.read('../x'), RangeError);
  await assert.rejects(store.update('a/b'), RangeError);
  await store.close();
});

test('superseded split files are freed by the commit that replaces them', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await commit(store, id, change({ put: new Map([['a', bytes('A1')], ['b', bytes('B1')]]) }));
  await commit(store, id, change({ put: new Map([['a', bytes('A2')], ['c', bytes('C2')]]), del: ['b'] }));
  assert.equal(metricFiles(dir, id).length, 3, 'manifest + 2 live splits, nothing superseded left');
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
    await commit(store, id, change({ state: bytes('good'), put: new Map([['a', bytes('A1')]]), applied: ['b1'] }));
    const before = metricFiles(dir, id);
    armed = true;
    const failing = commit(store, id, change({
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

test('commits keep at most fileOpsInFlight file writes in flight, across metrics, and stop at a failure', async (t) => {
  // Every file operation shares the process's thread pool with the API's reads: a commit
  // of thousands of splits issued at once made reads wait behind them for seconds.
  const dir = tempDir(t);
  let inFlight = 0;
  let peak = 0;
  let failAt = -1;
  let started = 0;
  const store = new FileAggregateStorage({
    dir,
    fileOpsInFlight: 3,
    faultHook: async (op) => {
      if (op !== 'split') return;
      if (started++ === failAt) throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
    },
  });
  const splits = (tag: string) => new Map(Array.from({ length: 40 }, (_, i) => [`k${i}`, bytes(`${tag}${i}`)] as [string, Uint8Array]));
  const [a, b] = [randomUUID(), randomUUID()];
  await Promise.all([commit(store, a, change({ put: splits('a') })), commit(store, b, change({ put: splits('b') }))]);
  assert.equal(peak, 3, 'writes overlap, never more than the bound, even for two metrics committing at once');
  assert.equal(text(await store.readSplit(a, 'k39')), 'a39');
  assert.equal(metricFiles(dir, b).length, 41);

  // A failing write: nothing new starts, every started write settles, none is left behind.
  const before = metricFiles(dir, a);
  started = 0;
  failAt = 5;
  await assert.rejects(commit(store, a, change({ put: splits('x') })), (err: unknown) => err instanceof StorageUnavailableError);
  assert.ok(started <= 5 + 3, `at most the writes in flight start after the failure (${started})`);
  assert.deepEqual(metricFiles(dir, a), before);
  await store.close();
});

test('deleteMetric removes the folder and empties the trash a crashed delete left', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await commit(store, id, change({ put: new Map([['k', bytes('v')]]), applied: ['b'] }));
  mkdirSync(join(dir, '.trash', 'left-by-a-crash'), { recursive: true });
  writeFileSync(join(dir, '.trash', 'left-by-a-crash', 'manifest'), 'x');
  await store.deleteMetric(id);
  assert.equal(existsSync(join(dir, id.slice(0, 2), id)), false);
  assert.deepEqual(readdirSync(join(dir, '.trash')), []);
  await store.close();
});

test('a corrupt split is reported, not served', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await commit(store, id, change({ put: new Map([['k', bytes('v')]]) }));
  const mdir = join(dir, id.slice(0, 2), id);
  const live = metricFiles(dir, id).find((f) => f.endsWith('.split'))!;
  const raw = readFileSync(join(mdir, live));
  raw[raw.length - 1] ^= 1;
  writeFileSync(join(mdir, live), raw);
  await assert.rejects(store.readSplit(id, 'k'), CorruptStorageError);
  await store.close();
});

test('update(): frees superseded files by name and follows another process past a stale name', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await commit(store, id, change({ state: bytes('s1'), put: new Map([['a', bytes('A1')], ['b', bytes('B1')]]), applied: ['b1'] }));
  const u = await store.update(id);
  await u.commit(change({ state: bytes('s2'), put: new Map([['a', bytes('A2')]]), applied: ['b2'] }));
  assert.equal(metricFiles(dir, id).length, 3, 'the superseded split of a is gone');
  // Another process commits meanwhile: a reader following an update's stale file name
  // falls back to the current manifest rather than failing.
  const stale = await store.update(id);
  const other = new FileAggregateStorage({ dir });
  await commit(other, id, change({ state: bytes('s3'), put: new Map([['b', bytes('B3')]]) }));
  assert.equal(text(await stale.readSplit('b')), 'B3');
  await other.close();
  // A commit of this process after an update read: that update re-reads before committing.
  const late = await store.update(id);
  await commit(store, id, change({ state: bytes('s4'), put: new Map([['c', bytes('C4')]]) }));
  await late.commit(change({ state: bytes('s5'), put: new Map([['d', bytes('D5')]]) }));
  assert.equal(text(await store.readSplit(id, 'c')), 'C4', 'the later commit kept what came between');
  assert.equal(text(await store.readSplit(id, 'd')), 'D5');
  await store.close();
});

test('a file a crashed commit left is removed by a later commit that lists the folder', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await commit(store, id, change({ put: new Map([['a', bytes('A')]]) }));
  const orphan = join(dir, id.slice(0, 2), id, '1-0badf00d-7.split');
  writeFileSync(orphan, 'left by a crash');
  for (let i = 0; i < 16; i++) {
    await commit(store, id, change({ put: new Map([['a', bytes(`A${i}`)]]) }));
    // Each commit leaves exactly the manifest and the live split, plus the orphan until swept.
    assert.equal(metricFiles(dir, id).length, existsSync(orphan) ? 3 : 2);
  }
  assert.equal(existsSync(orphan), false);
  assert.equal(text(await store.readSplit(id, 'a')), 'A15');
  await store.close();
});
