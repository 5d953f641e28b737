import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  CorruptBatchError, DEFAULT_SACKS, FileIncomingStore, IncomingConfigError, IncomingUnavailableError,
  changeSackCount, openIncoming, type IncomingStore, type Measures,
} from './index.js';
import { parseHeader } from './batch-format.js';
import { incomingContract, measures } from './contract.js';

const folders: string[] = [];
after(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

for (const blocking of [false, true]) {
  incomingContract(blocking ? 'file, blocking reads' : 'file', {
    create: async (sacks) => {
      const dir = mkdtempSync(join(tmpdir(), 'tally-incoming-'));
      folders.push(dir);
      return openIncoming(pathToFileURL(dir).href, { sacks, dedicatedThread: blocking });
    },
    reopen: async (store) => new FileIncomingStore({ dir: (store as FileIncomingStore).dir, blockingIo: blocking }),
    corrupt: async (store, sack, id) => {
      // Flips a byte in the data of the sack's first entry: only that sack's range is bad.
      const path = join((store as FileIncomingStore).dir, `sack-${sack}`, id);
      const bytes = readFileSync(path);
      const entry = parseHeader(bytes, bytes.length, path).find((e) => e.sack === sack);
      assert.ok(entry);
      bytes[entry.offset + 3] ^= 0x10;
      writeFileSync(path, bytes);
    },
  });
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-incoming-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function allBatches(store: IncomingStore): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for (let s = 0; s < store.sacks; s++) for (const id of await store.listBatches(s)) out.push([s, id]);
  return out;
}

function allFiles(dir: string, sacks: number): string[] {
  return Array.from({ length: sacks }, (_, s) => readdirSync(join(dir, `sack-${s}`))).flat();
}

test('sack count is fixed at creation', async (t) => {
  const dir = tempDir(t);
  await new FileIncomingStore({ dir, sacks: 8 }).close();
  assert.throws(() => new FileIncomingStore({ dir, sacks: 16 }), IncomingConfigError);
  const reopened = new FileIncomingStore({ dir });
  assert.equal(reopened.sacks, 8);
  await reopened.close();
});

test('a new store has DEFAULT_SACKS sacks; changeSackCount needs an empty backlog', async (t) => {
  const dir = tempDir(t);
  const url = pathToFileURL(dir).href;
  const store = new FileIncomingStore({ dir });
  assert.equal(store.sacks, DEFAULT_SACKS);
  const metric = randomUUID();
  await store.add(new Map([[metric, measures(3)]]));
  await assert.rejects(changeSackCount(url, 3), /still holds 1 file/);
  assert.equal(new FileIncomingStore({ dir }).sacks, DEFAULT_SACKS, 'a refused change leaves the count');
  const sack = store.sackOf(metric);
  await store.deleteBatches(sack, await store.listBatches(sack));
  await store.close();
  assert.deepEqual(await changeSackCount(url, 3), { from: DEFAULT_SACKS, to: 3 });
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('sack-')).sort(), ['sack-0', 'sack-1', 'sack-2']);
  const reopened = new FileIncomingStore({ dir });
  assert.equal(reopened.sacks, 3);
  await reopened.add(new Map([[metric, measures(2)]]));
  const [batch] = await reopened.listBatches(reopened.sackOf(metric));
  assert.deepEqual((await reopened.readBatch(reopened.sackOf(metric), batch)).get(metric)?.values, measures(2).values);
  await reopened.close();
  await assert.rejects(changeSackCount(pathToFileURL(join(dir, 'nowhere')).href, 4), IncomingConfigError);
  await assert.rejects(changeSackCount(url, 0), RangeError);
});

test('openIncoming chooses the driver by scheme and names the known ones otherwise', async (t) => {
  const dir = tempDir(t);
  const store = await openIncoming(pathToFileURL(dir).href, { sacks: 3 });
  assert.ok(store instanceof FileIncomingStore);
  assert.equal(store.sacks, 3);
  await store.close();
  await assert.rejects(openIncoming(pathToFileURL(dir).href, { sacks: 5 }), IncomingConfigError);
  await assert.rejects(openIncoming('s3://bucket/incoming'), /unknown scheme s3: \(known schemes: file:\/\/, redis:\/\/, rediss:\/\/, redis\+unix:\/\/\)/);
  await assert.rejects(changeSackCount('s3://bucket/incoming', 4), /unknown scheme s3:/);
  await assert.rejects(openIncoming('file://data/incoming'), (e: unknown) => e instanceof IncomingConfigError && /absolute/.test(e.message));
  await assert.rejects(openIncoming(dir), /not a URL/);
});

test('concurrent adds are merged into few files (group commit)', async (t) => {
  const store = new FileIncomingStore({ dir: tempDir(t), sacks: 2 });
  const others = Array.from({ length: 20 }, () => randomUUID());
  await Promise.all(Array.from({ length: 10 }, (_, c) =>
    store.add(new Map(others.map((o) => [o, measures(3, c)] as const)))));
  const batches = await allBatches(store);
  assert.ok(batches.length < 10 * 2, `merged: ${batches.length} links for 10 callers`);
  assert.equal((await store.backlog()).measures, 10 * 20 * 3);
  await store.close();
});

test('a corrupt or torn batch is detected, skipped by backlog, quarantined intact and counted', async (t) => {
  const dir = tempDir(t);
  const store = new FileIncomingStore({ dir, sacks: 1 });
  await store.add(new Map([['m1', measures(100)]]));
  await store.add(new Map([['m2', measures(100)]]));
  const [first, second] = await store.listBatches(0);
  const p1 = join(dir, 'sack-0', first);
  const bytes = readFileSync(p1);
  bytes[bytes.length - 3] ^= 0x40; // bit flip in the data
  writeFileSync(p1, bytes);
  await assert.rejects(store.readBatch(0, first), CorruptBatchError);
  const p2 = join(dir, 'sack-0', second);
  writeFileSync(p2, readFileSync(p2).subarray(0, 200)); // torn write
  await assert.rejects(store.readBatch(0, second), CorruptBatchError);
  // backlog reads headers only: the torn file (size mismatch) is skipped, the bit flip in
  // the data of the other is only caught by readBatch.
  assert.deepEqual([...(await store.backlog({ perMetric: true })).perMetric ?? []], [['m1', 100]]);
  await store.quarantine(0, first);
  assert.deepEqual(await store.listBatches(0), [second]);
  await store.quarantine(0, second);
  assert.deepEqual(await store.listBatches(0), []);
  assert.deepEqual(readdirSync(join(dir, 'quarantine')).sort(), [`${first}.sack-0`, `${second}.sack-0`]);
  assert.ok(readFileSync(join(dir, 'quarantine', `${first}.sack-0`)).equals(bytes), 'moved as it was');
  assert.equal((await store.backlog()).quarantined, 2);
  await store.close();
});

test('disk errors reject with IncomingUnavailableError and leave nothing visible', async (t) => {
  const dir = tempDir(t);
  for (const failOn of ['write', 'link'] as const) {
    let calls = 0;
    const store = new FileIncomingStore({
      dir,
      sacks: 4,
      faultHook: (op) => {
        // A flush writes one file, then links it into each sack: the second link fails
        // after the first was made, which must be undone.
        if (op === failOn && ++calls === (failOn === 'write' ? 1 : 2)) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      },
    });
    const batch = new Map(Array.from({ length: 40 }, () => [randomUUID(), measures(10)] as const));
    const err = await store.add(batch).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof IncomingUnavailableError, `${failOn}: ${String(err)}`);
    assert.equal(err.code, 'ENOSPC');
    assert.deepEqual(allFiles(dir, 4), [], `${failOn}: no batch nor temp file left`);
    await store.close();
  }
});

test('temp files of dead writers are ignored and cleaned at open', async (t) => {
  const dir = tempDir(t);
  await new FileIncomingStore({ dir, sacks: 1 }).close();
  const deadPid = (0x7ffffff0).toString(16);
  const dead = `.tmp-000000000001-00000001-${deadPid}abcd`;
  const live = `.tmp-000000000001-00000002-${process.pid.toString(16).padStart(8, '0')}abcd`;
  writeFileSync(join(dir, 'sack-0', dead), 'partial');
  writeFileSync(join(dir, 'sack-0', live), 'in flight');
  // A park cut short leaves its temp file in the sack's parked folder.
  mkdirSync(join(dir, 'parked', 'sack-0'), { recursive: true });
  writeFileSync(join(dir, 'parked', 'sack-0', dead), 'partial');
  const store = new FileIncomingStore({ dir });
  assert.deepEqual(await store.listBatches(0), []);
  assert.deepEqual(readdirSync(join(dir, 'sack-0')), [live]);
  assert.deepEqual(readdirSync(join(dir, 'parked', 'sack-0')), []);
  assert.deepEqual(await store.listParked(0), []);
  await store.close();
});

test('one flush is one file linked into every sack it touches; each sack reads only its metrics', async (t) => {
  const dir = tempDir(t);
  const store = new FileIncomingStore({ dir, sacks: 4 });
  const ids = Array.from({ length: 40 }, () => randomUUID());
  await store.add(new Map(ids.map((id, i) => [id, measures(1 + (i % 3))] as const)));
  const touched = new Set(ids.map((id) => store.sackOf(id)));
  const batches = await allBatches(store);
  assert.equal(batches.length, touched.size, 'a link per touched sack');
  assert.equal(new Set(batches.map(([, b]) => b)).size, 1, 'one batch id');
  const [s0, b0] = batches[0];
  assert.equal(statSync(join(dir, `sack-${s0}`, b0)).nlink, touched.size, 'one file behind the links');
  const seen = new Map<string, number>();
  for (const [s, b] of batches) {
    for (const [id, m] of await store.readBatch(s, b)) {
      assert.equal(store.sackOf(id), s, `${id} read from its own sack`);
      seen.set(id, m.ts.length);
    }
  }
  assert.deepEqual([...seen].sort(), ids.map((id, i) => [id, 1 + (i % 3)]).sort());
  const backlog = await store.backlog();
  assert.equal(backlog.metrics, 40);
  assert.equal(backlog.measures, ids.reduce((n, _, i) => n + 1 + (i % 3), 0));
  // Deleting one sack's link leaves the others readable.
  await store.deleteBatches(s0, [b0]);
  const [s1, b1] = batches[1];
  assert.ok((await store.readBatch(s1, b1)).size > 0);
  assert.equal(statSync(join(dir, `sack-${s1}`, b1)).nlink, touched.size - 1);
  assert.deepEqual(allFiles(dir, 4).filter((f) => f.startsWith('.tmp-')), [], 'no temp name left');
  await store.close();
});

/** A batch file as format version 1 wrote it (one sack per file, no sack in the entries). */
function version1File(entries: Array<[string, Measures]>): Buffer {
  const ids = entries.map(([id]) => Buffer.from(id));
  const headerLen = Math.ceil((24 + ids.reduce((n, id) => n + 14 + id.length, 0)) / 8) * 8;
  const header = Buffer.alloc(headerLen);
  const data: Buffer[] = [];
  let pos = 24;
  let offset = headerLen;
  entries.forEach(([, m], i) => {
    header.writeUInt32LE(m.ts.length, pos);
    header.writeBigUInt64LE(BigInt(offset), pos + 4);
    header.writeUInt16LE(ids[i].length, pos + 12);
    ids[i].copy(header, pos + 14);
    pos += 14 + ids[i].length;
    offset += m.ts.length * 16;
    data.push(Buffer.from(m.ts.buffer), Buffer.from(m.values.buffer));
  });
  header.write('TLYI', 0, 'latin1');
  header.writeUInt32LE(1, 4);
  header.writeUInt32LE(entries.length, 8);
  header.writeUInt32LE(headerLen, 12);
  header.writeUInt32LE(crc32(header.subarray(24)), 16);
  header.writeUInt32LE(crc32(Buffer.concat(data)), 20);
  return Buffer.concat([header, ...data]);
}

test('batch files of format version 1 are still read and counted', async (t) => {
  const dir = tempDir(t);
  const store = new FileIncomingStore({ dir, sacks: 2 });
  const id = randomUUID();
  const sack = store.sackOf(id);
  writeFileSync(join(dir, `sack-${sack}`, '000000000001-00000001-0000000100ab'), version1File([[id, measures(5)]]));
  assert.equal((await store.backlog()).measures, 5);
  const [batch] = await store.listBatches(sack);
  assert.deepEqual([...(await store.readBatch(sack, batch)).get(id)!.values], [...measures(5).values]);
  await store.close();
});

test('a batch whose header is damaged fails in every sack; quarantined from each, it counts once', async (t) => {
  const dir = tempDir(t);
  const store = new FileIncomingStore({ dir, sacks: 4 });
  await store.add(new Map(Array.from({ length: 30 }, () => [randomUUID(), measures(2)] as const)));
  const links = await allBatches(store);
  assert.ok(links.length >= 2);
  const [s0, id] = links[0];
  const path = join(dir, `sack-${s0}`, id);
  const bytes = readFileSync(path);
  bytes[30] ^= 0x01; // in the entries: the header checksum no longer matches
  writeFileSync(path, bytes); // in place: every link sees the change
  for (const [s] of links) await assert.rejects(store.readBatch(s, id), CorruptBatchError);
  for (const [s] of links) await store.quarantine(s, id);
  assert.equal(readdirSync(join(dir, 'quarantine')).length, links.length);
  assert.deepEqual(await store.backlog(), { metrics: 0, measures: 0, perMetric: null, quarantined: 1, parkedMeasures: 0, parkedMetrics: 0 });
  await store.close();
});
