import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  CorruptBatchError, DEFAULT_SACKS, FileIncomingStore, IncomingClosedError, IncomingConfigError,
  IncomingUnavailableError, changeSackCount, type Measures,
} from './index.js';
import { crc32, portableCrc32 } from './crc32.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-incoming-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function measures(n: number, start = 0): Measures {
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    ts[i] = 1_700_000_000_000_000_000n + BigInt(start + i) * 1_000_000_000n;
    values[i] = (start + i) * 0.5;
  }
  return { ts, values };
}

async function allBatches(store: FileIncomingStore): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for (let s = 0; s < store.sacks; s++) for (const id of await store.listBatches(s)) out.push([s, id]);
  return out;
}

function allFiles(dir: string, sacks: number): string[] {
  return Array.from({ length: sacks }, (_, s) => readdirSync(join(dir, `sack-${s}`))).flat();
}

test('add is readable back exactly, in the metric sack', async (t) => {
  const dir = tempDir(t);
  const store = new FileIncomingStore({ dir, sacks: 4 });
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
  await store.close();
});

test('sackOf matches Gnocchi: uuid.int % sacks', () => {
  for (const sacks of [1, 7, 32, 2048]) {
    const store = { sacks };
    for (let i = 0; i < 20; i++) {
      const id = randomUUID();
      const expected = Number(BigInt('0x' + id.replaceAll('-', '')) % BigInt(sacks));
      assert.equal(FileIncomingStore.prototype.sackOf.call(store as FileIncomingStore, id), expected);
    }
  }
});

test('concurrent adds are group-committed and each caller sees its data durable', async (t) => {
  const dir = tempDir(t);
  const store = new FileIncomingStore({ dir, sacks: 2 });
  const metric = randomUUID();
  const others = Array.from({ length: 20 }, () => randomUUID());
  const calls = Array.from({ length: 10 }, (_, c) =>
    store.add(new Map([[metric, measures(5, c * 5)], ...others.map((o) => [o, measures(3)] as const)])),
  );
  await Promise.all(calls);
  const batches = await allBatches(store);
  assert.ok(batches.length < 10 * 2, `merged: ${batches.length} files for 10 callers`);
  const backlog = await store.backlog({ perMetric: true });
  assert.equal(backlog.perMetric?.get(metric), 50);
  assert.equal(backlog.metrics, 21);
  assert.equal(backlog.measures, 50 + 20 * 10 * 3);
  // The same metric from several callers of one flush is stored as one entry.
  const seen = new Set<number>();
  for (const [s, id] of batches) {
    const m = (await store.readBatch(s, id)).get(metric);
    for (const v of m?.values ?? []) seen.add(v);
  }
  assert.equal(seen.size, 50);
  await store.close();
});

test('batch ids sort oldest first and deleteBatches removes them', async (t) => {
  const dir = tempDir(t);
  const store = new FileIncomingStore({ dir, sacks: 1 });
  const id = randomUUID();
  for (let i = 0; i < 3; i++) await store.add(new Map([[id, measures(1, i)]]));
  const ids = await store.listBatches(0);
  assert.equal(ids.length, 3);
  const firstValues = await Promise.all(ids.map(async (b) => (await store.readBatch(0, b)).get(id)!.values[0]));
  assert.deepEqual(firstValues, [0, 0.5, 1]);
  await store.deleteBatches(0, ids.slice(0, 2));
  await store.deleteBatches(0, ids.slice(0, 2)); // already gone: fine
  assert.deepEqual(await store.listBatches(0), ids.slice(2));
  await assert.rejects(store.readBatch(0, '../incoming.json'), RangeError);
  await store.close();
});

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
  const store = new FileIncomingStore({ dir });
  assert.equal(store.sacks, DEFAULT_SACKS);
  const metric = randomUUID();
  await store.add(new Map([[metric, measures(3)]]));
  await assert.rejects(changeSackCount(dir, 3), /still holds 1 file/);
  assert.equal(new FileIncomingStore({ dir }).sacks, DEFAULT_SACKS, 'a refused change leaves the count');
  const sack = store.sackOf(metric);
  await store.deleteBatches(sack, await store.listBatches(sack));
  await store.close();
  assert.deepEqual(await changeSackCount(dir, 3), { from: DEFAULT_SACKS, to: 3 });
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('sack-')).sort(), ['sack-0', 'sack-1', 'sack-2']);
  const reopened = new FileIncomingStore({ dir });
  assert.equal(reopened.sacks, 3);
  await reopened.add(new Map([[metric, measures(2)]]));
  const [batch] = await reopened.listBatches(reopened.sackOf(metric));
  assert.deepEqual((await reopened.readBatch(reopened.sackOf(metric), batch)).get(metric)?.values, measures(2).values);
  await reopened.close();
  await assert.rejects(changeSackCount(join(dir, 'nowhere'), 4), IncomingConfigError);
  await assert.rejects(changeSackCount(dir, 0), RangeError);
});

test('a corrupt or torn batch is detected, skipped by backlog, and can be quarantined', async (t) => {
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

test('malformed input is refused without failing other callers', async (t) => {
  const dir = tempDir(t);
  const store = new FileIncomingStore({ dir, sacks: 1 });
  const bad = store.add(new Map([['x', { ts: new BigInt64Array(2), values: new Float64Array(1) }]]));
  const good = store.add(new Map([['y', measures(2)]]));
  await assert.rejects(bad, TypeError);
  await good;
  assert.equal((await store.backlog()).measures, 2);
  await store.close();
  await assert.rejects(store.add(new Map([['y', measures(1)]])), IncomingClosedError);
});

test('temp files of dead writers are ignored and cleaned at open', async (t) => {
  const dir = tempDir(t);
  await new FileIncomingStore({ dir, sacks: 1 }).close();
  const deadPid = (0x7ffffff0).toString(16);
  const dead = `.tmp-000000000001-00000001-${deadPid}abcd`;
  const live = `.tmp-000000000001-00000002-${process.pid.toString(16).padStart(8, '0')}abcd`;
  writeFileSync(join(dir, 'sack-0', dead), 'partial');
  writeFileSync(join(dir, 'sack-0', live), 'in flight');
  const store = new FileIncomingStore({ dir });
  assert.deepEqual(await store.listBatches(0), []);
  assert.deepEqual(readdirSync(join(dir, 'sack-0')), [live]);
  await store.close();
});

test('portable CRC-32 agrees with zlib', () => {
  const data = new Uint8Array(1000).map((_, i) => (i * 31) & 0xff);
  assert.equal(portableCrc32(data), crc32(data));
  assert.equal(portableCrc32(data.subarray(500), portableCrc32(data.subarray(0, 500))), crc32(data));
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('backlog stays exact across adds and deletes while it remembers headers it has read', async (t) => {
  const dir = tempDir(t);
  const store = new FileIncomingStore({ dir, sacks: 1 });
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
  assert.equal((await store.backlog()).perMetric, null);
  assert.equal(after.measures, 14);
  // Another store on the same folder (another process) sees the same figures.
  const other = new FileIncomingStore({ dir });
  assert.equal((await other.backlog()).measures, 14);
  await store.deleteBatches(0, await store.listBatches(0));
  assert.equal((await store.backlog()).measures, 0);
  await store.close();
  await other.close();
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
