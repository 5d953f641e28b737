import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { crc32 } from 'node:zlib';
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

// A processing thread's storage: the same contract with blocking file operations, read by
// and reading an instance on the thread pool as the API's would.
storageContract('file, blocking file operations', {
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-storage-'));
    folders.push(dir);
    return openStorage(pathToFileURL(dir).href, { dedicatedThread: true });
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
  await assert.rejects(openStorage('gs://bucket/prefix'), /unknown scheme gs: \(known schemes: file:\/\/, s3:\/\/\)/);
  await assert.rejects(openStorage('file://data/storage'), StorageConfigError);
  await assert.rejects(openStorage(dir), StorageConfigError);
});

test('metric ids that are not safe file names are refused', async (t) => {
  const store = new FileAggregateStorage({ dir: tempDir(t) });
  await assert.rejects(store.read('../x'), RangeError);
  await assert.rejects(store.update('a/b'), RangeError);
  await store.close();
});

test('a commit is one pack file behind the manifest link; superseded packs are freed', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await commit(store, id, change({ put: new Map([['a', bytes('A1')], ['b', bytes('B1')]]) }));
  const [first] = metricFiles(dir, id).filter((f) => f.endsWith('.pack'));
  assert.equal(readlinkSync(join(dir, id.slice(0, 2), id, 'manifest')), first);
  await commit(store, id, change({ put: new Map([['a', bytes('A2')], ['c', bytes('C2')]]), del: ['b'] }));
  const files = metricFiles(dir, id);
  assert.equal(files.length, 2, `manifest + the new pack, nothing superseded left: ${files.join(' ')}`);
  assert.ok(!files.includes(first));
  assert.equal(text(await store.readSplit(id, 'a')), 'A2');
  assert.equal(text(await store.readSplit(id, 'c')), 'C2');
  assert.equal(await store.readSplit(id, 'b'), null);
  await store.close();
});

test('splits a commit does not rewrite move to cold packs: no dead record or manifest stays on disk', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  // The shape of a series: a tail rewritten by every commit, closed splits written once.
  const live = new Map<string, string>();
  for (let i = 0; i < 300; i++) {
    const put = new Map<string, Uint8Array>([['tail', bytes(`tail-${i}-`.padEnd(200, 'x'))]]);
    if (i % 7 === 0) put.set(`closed-${i}`, bytes(`closed-${i}-`.padEnd(120, 'y')));
    for (const [k, v] of put) live.set(k, text(v)!);
    await commit(store, id, change({ state: bytes(`s${i}`), put }));
  }
  for (const [k, v] of live) assert.equal(text(await store.readSplit(id, k)), v, k);
  const fresh = new FileAggregateStorage({ dir });
  for (const [k, v] of live) assert.equal(text(await fresh.readSplit(id, k)), v, `${k} (another process)`);
  await fresh.close();
  const mdir = join(dir, id.slice(0, 2), id);
  const onDisk = metricFiles(dir, id).filter((f) => f.endsWith('.pack')).reduce((n, f) => n + statSync(join(mdir, f)).size, 0);
  const liveBytes = [...live.values()].reduce((n, v) => n + v.length + 8, 0);
  const packs = metricFiles(dir, id).length - 1;
  // The live records and the one live manifest (its state, ids and the refs of 44 splits).
  assert.ok(onDisk < liveBytes + 1000, `${onDisk} bytes on disk for ${liveBytes} live in ${packs} packs`);
  // A cold pack per commit that closed a split, and the hot one.
  assert.ok(packs <= Math.ceil(300 / 7) + 1, `${packs} packs for ${live.size} splits`);
  // Cold records that die later (a closed split rewritten) are copied away.
  const u = await store.update(id);
  await u.commit(change({ state: bytes('late'), put: new Map([...live.keys()].filter((k) => k !== 'tail').slice(0, 40).map((k) => [k, bytes(`${k}!`)])) }));
  const after = metricFiles(dir, id).filter((f) => f.endsWith('.pack')).reduce((n, f) => n + statSync(join(mdir, f)).size, 0);
  assert.ok(after < 2 * 1000 + liveBytes / 2, `${after} bytes on disk once most closed splits were rewritten`);
  await store.close();
});

test('update() reads back the splits of the previous commit (its hot pack, read whole), here and in another process', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  const first = new Map(Array.from({ length: 18 }, (_, i) => [`s${i}`, bytes(`v${i}-`.repeat(i + 1))] as [string, Uint8Array]));
  await commit(store, id, change({ put: first }));
  for (const reader of [store, new FileAggregateStorage({ dir })]) {
    const u = await reader.update(id);
    for (const [k, v] of first) assert.equal(text(await u.readSplit(k)), text(v), k);
    assert.equal(await u.readSplit('absent'), null);
  }
  await store.close();
});

test('metrics written as a manifest file and split files are read, then moved to packs by commits', async (t) => {
  const dir = tempDir(t);
  const id = randomUUID();
  const mdir = join(dir, id.slice(0, 2), id);
  mkdirSync(mdir, { recursive: true });
  const split = (payload: string): Buffer => {
    const p = Buffer.from(payload);
    const h = Buffer.alloc(8);
    h.writeUInt32LE(0x53594c54, 0);
    h.writeUInt32LE(crc32(p), 4);
    return Buffer.concat([h, p]);
  };
  writeFileSync(join(mdir, '1-0a0b0c0d-0.split'), split('A1'));
  writeFileSync(join(mdir, '1-0a0b0c0d-1.split'), split('B1'));
  // Version 1 manifest: JSON bookkeeping, then the state.
  const json = Buffer.from(JSON.stringify({ gen: 1, hasState: true, applied: ['b1'], splits: [['a', '1-0a0b0c0d-0.split'], ['b', '1-0a0b0c0d-1.split']] }));
  const m = Buffer.alloc(16 + json.length + 2);
  m.writeUInt32LE(0x4d594c54, 0);
  m.writeUInt32LE(1, 4);
  m.writeUInt32LE(json.length, 12);
  json.copy(m, 16);
  m.write('s1', 16 + json.length);
  m.writeUInt32LE(crc32(m.subarray(12)), 8);
  writeFileSync(join(mdir, 'manifest'), m);

  const store = new FileAggregateStorage({ dir });
  const rec = await store.read(id);
  assert.equal(text(rec.state), 's1');
  assert.deepEqual([...rec.applied], ['b1']);
  assert.equal(text(await store.readSplit(id, 'a')), 'A1');
  await commit(store, id, change({ state: bytes('s2'), put: new Map([['a', bytes('A2')]]) }));
  assert.equal(text(await store.readSplit(id, 'a')), 'A2');
  assert.equal(text(await store.readSplit(id, 'b')), 'B1', 'a split file still live is kept');
  const files = metricFiles(dir, id);
  assert.ok(!files.includes('1-0a0b0c0d-0.split') && files.includes('1-0a0b0c0d-1.split'), files.join(' '));
  assert.equal(lstatSync(join(mdir, 'manifest')).isSymbolicLink(), true);
  const fresh = new FileAggregateStorage({ dir });
  assert.equal(text((await fresh.read(id)).state), 's2');
  assert.equal(text(await fresh.readSplit(id, 'b')), 'B1');
  await fresh.close();
  await store.close();
});

test('a commit failing half way leaves the previous version intact and no files behind', async (t) => {
  const dir = tempDir(t);
  const id = randomUUID();
  for (const [failOn, blockingIo] of [['pack', false], ['rename', false], ['pack', true], ['rename', true]] as const) {
    let armed = false;
    const store = new FileAggregateStorage({
      dir,
      blockingIo,
      faultHook: (op) => {
        if (!armed || op !== failOn) return;
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
    assert.deepEqual(metricFiles(dir, id), before, `${failOn}, blocking ${blockingIo}: no stray file`);
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

test('a lock lost while a commit writes its packs: the commit stops before its commit point and leaves no file', async (t) => {
  const dir = tempDir(t);
  const id = randomUUID();
  for (const blockingIo of [false, true]) {
    let lost: AbortController | null = null;
    const reason = new Error('sack lock lost');
    const store = new FileAggregateStorage({ dir, blockingIo, faultHook: (op) => { if (op === 'pack') lost?.abort(reason); } });
    await commit(store, id, change({ state: bytes('good'), put: new Map([['a', bytes('A1')]]), applied: ['b1'] }));
    // A second commit, so that the next one writes a cold pack as well as a hot one.
    await commit(store, id, change({ state: bytes('good'), put: new Map([['b', bytes('B1')]]), applied: ['b1'] }));
    const before = metricFiles(dir, id);
    lost = new AbortController();
    const u = await store.update(id, { signal: lost.signal });
    await assert.rejects(u.commit(change({ state: bytes('bad'), put: new Map([['a', bytes('A2')]]), applied: ['b2'] })), (err) => err === reason);
    assert.deepEqual(metricFiles(dir, id), before, `blocking ${blockingIo}: no stray file`);
    const fresh = new FileAggregateStorage({ dir });
    for (const s of [store, fresh]) {
      assert.equal(text((await s.read(id)).state), 'good');
      assert.equal(text(await s.readSplit(id, 'a')), 'A1');
    }
    await store.close();
    await fresh.close();
  }
});

test('commits keep at most fileOpsInFlight pack writes in flight across metrics; a failing one leaves nothing', async (t) => {
  // Every file operation shares the process's thread pool with the API's reads: writes
  // issued all at once made reads wait behind them for seconds.
  const dir = tempDir(t);
  let inFlight = 0;
  let peak = 0;
  const failing = new Set<string>();
  const store = new FileAggregateStorage({
    dir,
    fileOpsInFlight: 3,
    faultHook: async (op, path) => {
      if (op !== 'pack') return;
      if ([...failing].some((id) => path.includes(id))) throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
      peak = Math.max(peak, ++inFlight);
      // Held until the bound's worth are in (a loaded machine can take longer than a fixed
      // pause to bring the third in), then a little longer, so that any past the bound
      // would be seen.
      for (const t0 = Date.now(); inFlight < 3 && Date.now() - t0 < 1000;) await new Promise((r) => setTimeout(r, 1));
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
    },
  });
  const ids = Array.from({ length: 12 }, () => randomUUID());
  await Promise.all(ids.map((id) => commit(store, id, change({ put: new Map([['k', bytes(id)]]) }))));
  assert.equal(peak, 3, 'writes overlap, never more than the bound');
  for (const id of ids) assert.equal(text(await store.readSplit(id, 'k')), id);

  const before = metricFiles(dir, ids[0]);
  failing.add(ids[0]);
  const results = await Promise.allSettled(ids.map((id) => commit(store, id, change({ put: new Map([['k', bytes(`${id}!`)]]) }))));
  assert.ok(results[0].status === 'rejected' && results[0].reason instanceof StorageUnavailableError);
  assert.ok(results.slice(1).every((r) => r.status === 'fulfilled'), 'other metrics commit');
  assert.deepEqual(metricFiles(dir, ids[0]), before);
  assert.equal(text(await store.readSplit(ids[0], 'k')), ids[0]);
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
  const live = metricFiles(dir, id).find((f) => f.endsWith('.pack'))!;
  const raw = readFileSync(join(mdir, live));
  raw[8] ^= 1; // the first record's payload
  writeFileSync(join(mdir, live), raw);
  // Read by the writer (a commit does not keep what it wrote), by another, and with no cache.
  await assert.rejects(store.readSplit(id, 'k'), CorruptStorageError);
  for (const reader of [new FileAggregateStorage({ dir }), new FileAggregateStorage({ dir, recordCacheBytes: 0 })]) {
    await assert.rejects(reader.readSplit(id, 'k'), CorruptStorageError);
    await reader.close();
  }
  await store.close();
});

test('update(): frees superseded files by name and follows another process past a stale name', async (t) => {
  const dir = tempDir(t);
  const store = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await commit(store, id, change({ state: bytes('s1'), put: new Map([['a', bytes('A1')], ['b', bytes('B1')]]), applied: ['b1'] }));
  const u = await store.update(id);
  await u.commit(change({ state: bytes('s2'), put: new Map([['a', bytes('A2')]]), applied: ['b2'] }));
  // b, not rewritten, moved from the superseded pack to a cold pack: manifest, hot, cold.
  assert.equal(metricFiles(dir, id).length, 3, 'the superseded pack is gone');
  // Another process commits meanwhile: a reader following an update's stale file name
  // falls back to the current manifest rather than failing.
  const stale = await store.update(id);
  const other = new FileAggregateStorage({ dir });
  await commit(other, id, change({ state: bytes('s3'), put: new Map([['b', bytes('B3')]]) }));
  assert.equal(text(await stale.readSplit('b')), 'B3');
  // a was in the pack the update read (its hot pack), which the other commit freed.
  assert.equal(text(await stale.readSplit('a')), 'A2');
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
  const mdir = join(dir, id.slice(0, 2), id);
  const orphans = [join(mdir, '1-0badf00d-7.split'), join(mdir, '9-0badf00d.pack')];
  for (const orphan of orphans) writeFileSync(orphan, 'left by a crash');
  symlinkSync('9-0badf00d.pack', join(mdir, '.manifest-0badf00d.tmp'));
  for (let i = 0; i < 16; i++) {
    await commit(store, id, change({ put: new Map([['a', bytes(`A${i}`)]]) }));
    // Each commit leaves exactly the manifest and the live pack, plus the orphans until swept.
    assert.equal(metricFiles(dir, id).length, existsSync(orphans[0]) ? 5 : 2);
  }
  assert.equal(existsSync(orphans[0]) || existsSync(orphans[1]), false);
  assert.equal(text(await store.readSplit(id, 'a')), 'A15');
  await store.close();
});

test('split reads are served from memory once read, and follow later commits', async (t) => {
  const dir = tempDir(t);
  const writer = new FileAggregateStorage({ dir });
  const reader = new FileAggregateStorage({ dir });
  const id = randomUUID();
  await commit(writer, id, change({ put: new Map([['k', bytes('v1')], ['j', bytes('j1')]]) }));
  assert.equal(text(await reader.readSplit(id, 'k')), 'v1');
  // The file is still named by the manifest but no longer read: the cached payload answers.
  const mdir = join(dir, id.slice(0, 2), id);
  const pack = metricFiles(dir, id).find((f) => f.endsWith('.pack'))!;
  const raw = readFileSync(join(mdir, pack));
  raw[8] ^= 1; // k's payload (record: 8-byte header, 2 bytes)
  raw[18] ^= 1; // j's
  writeFileSync(join(mdir, pack), raw);
  assert.equal(text(await reader.readSplit(id, 'k')), 'v1');
  await assert.rejects(reader.readSplit(id, 'j'), CorruptStorageError, 'an uncached split is read (and checked)');
  await commit(writer, id, change({ put: new Map([['k', bytes('v2')], ['j', bytes('j2')]]) }));
  assert.equal(text(await reader.readSplit(id, 'k')), 'v2', 'a new commit names a new record');
  assert.equal(text(await reader.readSplit(id, 'j')), 'j2');
  await writer.close();
  await reader.close();
});
