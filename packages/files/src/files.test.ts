import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoalescedFolderSync, FolderSyncer, blockingFileOps, errnoCode, fileUrlPath, fsyncDir, ignoreMissing, isMissing, listDir, poolFileOps, readFile,
  systemErrorCode,
} from './index.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sysErr = (code: string): Error => Object.assign(new Error(code), { code });

test('errno helpers tell system errors from everything else', () => {
  assert.equal(errnoCode(sysErr('ENOSPC')), 'ENOSPC');
  assert.equal(errnoCode(sysErr('SQLITE_BUSY')), 'SQLITE_BUSY');
  assert.equal(errnoCode(new Error('plain')), undefined);
  assert.equal(errnoCode(null), undefined);
  assert.equal(errnoCode(Object.assign(new Error('x'), { code: 5 })), undefined);
  assert.equal(systemErrorCode(sysErr('EIO')), 'EIO');
  assert.equal(systemErrorCode(sysErr('SQLITE_FULL')), undefined, 'a driver code is not an errno');
  assert.equal(systemErrorCode(sysErr('ERR_INVALID_ARG_TYPE')), undefined, "Node's own argument errors are bugs");
  assert.equal(systemErrorCode(new TypeError('bug')), undefined);
  assert.ok(isMissing(sysErr('ENOENT')));
  assert.ok(!isMissing(sysErr('EACCES')));
  assert.doesNotThrow(() => ignoreMissing(sysErr('ENOENT')));
  assert.throws(() => ignoreMissing(sysErr('EACCES')), /EACCES/);
});

test('readFile reads whole files, big and empty, and reports ENOENT', async (t) => {
  const dir = tempDir(t);
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  big[big.length - 1] = 9;
  writeFileSync(join(dir, 'big'), big);
  writeFileSync(join(dir, 'empty'), '');
  assert.ok((await readFile(join(dir, 'big'))).equals(big));
  assert.equal((await readFile(join(dir, 'empty'))).length, 0);
  await assert.rejects(readFile(join(dir, 'none')), (e: unknown) => isMissing(e));
});

for (const [name, ops] of [['pool', poolFileOps], ['blocking', blockingFileOps]] as const) {
  test(`${name} createDurable writes more buffers than one writev takes, views included`, async (t) => {
    const dir = tempDir(t);
    const parts: ArrayBufferView[] = [];
    const expected: number[] = [];
    for (let i = 0; i < 1500; i++) {
      const backing = new Uint8Array(8).map((_, j) => (i * 8 + j) & 0xff);
      // A view into the middle of a larger buffer: only the view's bytes are written.
      const view = new Uint8Array(backing.buffer, 2, 3 + (i % 4));
      parts.push(view);
      expected.push(...view);
    }
    parts.push(new Uint8Array(0), new BigInt64Array([-1n]));
    expected.push(...new Array<number>(8).fill(0xff));
    await ops.createDurable(join(dir, 'f'), parts);
    assert.deepEqual([...readFileSync(join(dir, 'f'))], expected);
  });
}

test('FolderSyncer syncs folders it keeps open, retries a folder that was missing, and closes them', async (t) => {
  const dir = tempDir(t);
  const folders = new FolderSyncer();
  const before = readdirSync('/proc/self/fd').length;
  await Promise.all([folders.sync(dir), folders.sync(dir), folders.sync(dir)]);
  assert.equal(readdirSync('/proc/self/fd').length, before + 1, 'one descriptor for the folder, however many syncs');
  const later = join(dir, 'later');
  await assert.rejects(folders.sync(later), (e: unknown) => isMissing(e));
  mkdirSync(later);
  await folders.sync(later);
  assert.equal(readdirSync('/proc/self/fd').length, before + 2);
  const pending = folders.sync(dir);
  await folders.close();
  await pending;
  assert.equal(readdirSync('/proc/self/fd').length, before, 'closed, after the sync under way');
  await folders.sync(dir);
  assert.equal(readdirSync('/proc/self/fd').length, before, 'after close, a sync opens and closes its folder');
});

test('CoalescedFolderSync: each caller gets a sync started after its call; callers during a sync share the next one', async () => {
  const started: Array<{ path: string; finish: (err?: Error) => void; done: boolean }> = [];
  const sync = new CoalescedFolderSync((path) => new Promise<void>((resolve, reject) => {
    const s = { path, done: false, finish: (err?: Error) => { s.done = true; if (err) reject(err); else resolve(); } };
    started.push(s);
  }));
  const settled = (p: Promise<void>) => {
    const state = { value: 'pending' as string };
    p.then(() => (state.value = 'ok'), (e: Error) => (state.value = `failed: ${e.message}`));
    return state;
  };
  const tick = () => new Promise((r) => setImmediate(r));
  const a = settled(sync.sync('/d'));
  assert.equal(started.length, 1, 'an idle folder is synced at once');
  // Entries made while that sync runs may have missed it: these callers wait for the next.
  const b = settled(sync.sync('/d'));
  const c = settled(sync.sync('/d'));
  const other = settled(sync.sync('/e'));
  assert.equal(started.length, 2, 'another folder has its own sync');
  started[0].finish();
  await tick();
  assert.equal(a.value, 'ok');
  assert.equal(b.value, 'pending', 'a caller during a sync was answered by it');
  assert.equal(started.length, 3, 'one queued sync started for both callers');
  assert.equal(started[2].path, '/d');
  const d = settled(sync.sync('/d'));
  started[2].finish(new Error('EIO'));
  await tick();
  assert.equal(b.value, 'failed: EIO');
  assert.equal(c.value, 'failed: EIO');
  assert.equal(d.value, 'pending');
  assert.equal(started.length, 4, 'the caller that came during the failed sync gets a new one');
  started[3].finish();
  started[1].finish();
  await tick();
  assert.equal(d.value, 'ok');
  assert.equal(other.value, 'ok');
  assert.equal(started.length, 4);
});

test('fsyncDir syncs folders; listDir takes a missing path as empty', async (t) => {
  const dir = tempDir(t);
  await fsyncDir(dir);
  await assert.rejects(fsyncDir(join(dir, 'none')), (e: unknown) => isMissing(e));
  writeFileSync(join(dir, 'a'), '1');
  assert.deepEqual(await listDir(dir), ['a']);
  assert.deepEqual(await listDir(join(dir, 'none')), []);
  assert.deepEqual(await listDir(join(dir, 'a')), [], 'a file is not a folder');
});

for (const [name, ops] of [['pool', poolFileOps], ['blocking', blockingFileOps]] as const) {
  test(`${name} file operations: same results, and errors as rejected promises`, async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'pack');
    // More buffers than one writev takes, so the loop over IOV_MAX runs.
    const parts = Array.from({ length: 1500 }, (_, i) => Buffer.from([i & 0xff, (i >> 8) & 0xff]));
    await ops.createDurable(path, parts);
    const whole = Buffer.concat(parts);
    assert.deepEqual(readFileSync(path), whole);
    await assert.rejects(ops.createDurable(path, [Buffer.from('x')]), (e: unknown) => errnoCode(e) === 'EEXIST');
    assert.deepEqual(readFileSync(path), whole, 'the existing file is left alone');
    await assert.rejects(ops.createDurable(join(dir, 'no', 'such'), []), (e: unknown) => isMissing(e));
    assert.deepEqual(await ops.readRange(path, 10, 20), whole.subarray(10, 30));
    assert.deepEqual(await ops.readRange(path, whole.length - 4, 100), whole.subarray(whole.length - 4), 'short at the end');
    assert.deepEqual(await ops.readFile(path), whole);
    await assert.rejects(ops.readRange(join(dir, 'none'), 0, 1), (e: unknown) => isMissing(e));
    // withFile: the size, then reads located from the end, in one open.
    const tail = await ops.withFile(path, async (size, read) => {
      assert.equal(size, whole.length);
      return [await read(size - 6, 6), await read(size - 2, 10), await read(0, 3)];
    });
    assert.deepEqual(tail, [whole.subarray(whole.length - 6), whole.subarray(whole.length - 2), whole.subarray(0, 3)]);
    await assert.rejects(ops.withFile(join(dir, 'none'), async () => 1), (e: unknown) => isMissing(e));
    await assert.rejects(ops.withFile(path, async () => { throw new Error('from fn'); }), /from fn/);
    await assert.rejects(ops.readFile(join(dir, 'none')), (e: unknown) => isMissing(e));
    await ops.symlink('pack', join(dir, 'link.tmp'));
    await ops.rename(join(dir, 'link.tmp'), join(dir, 'link'));
    assert.equal(readlinkSync(join(dir, 'link')), 'pack');
    await assert.rejects(ops.symlink('pack', join(dir, 'link')), (e: unknown) => errnoCode(e) === 'EEXIST');
    await assert.rejects(ops.rename(join(dir, 'none'), join(dir, 'x')), (e: unknown) => isMissing(e));
    await ops.fsyncDir(dir);
    await assert.rejects(ops.fsyncDir(join(dir, 'none')), (e: unknown) => isMissing(e));
    await ops.unlink(join(dir, 'link'));
    await assert.rejects(ops.unlink(join(dir, 'link')), (e: unknown) => isMissing(e));
    assert.deepEqual(readdirSync(dir).sort(), ['pack']);
  });
}

test('fileUrlPath takes absolute file URLs only', () => {
  assert.equal(fileUrlPath('file:///var/lib/tally/incoming'), '/var/lib/tally/incoming');
  assert.equal(fileUrlPath('file://localhost/srv/a%20b'), '/srv/a b');
  assert.throws(() => fileUrlPath('file://data/incoming'), /file:\/\/data\/incoming: .*absolute/);
  assert.throws(() => fileUrlPath('file:data'), /not a file:\/\/ URL/);
  assert.throws(() => fileUrlPath('/var/lib/tally'), RangeError);
});
