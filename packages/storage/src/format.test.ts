import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { decodeManifest, encodeManifest, type Manifest } from './format.js';

function manifest(applied: string[]): Manifest {
  return {
    gen: 7,
    state: new Uint8Array([1, 2, 3]),
    applied: new Set(applied),
    splits: new Map([
      ['mean|1|0', { file: '7-0a0b0c0d-0.split', offset: 0, length: -1 }],
      ['mean|1|3600', { file: '6-0a0b0c0e.pack', offset: 0, length: 20 }],
      ['mean|1|7200', { file: '7-0a0b0c0d.pack', offset: 500, length: 3 }],
      ['mean|1|9000', { file: '6-0a0b0c0e.pack', offset: 20, length: 200 }],
    ]),
    packs: new Map([['7-0a0b0c0d.pack', 503], ['6-0a0b0c0e.pack', 1000]]),
  };
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
const batchId = (ms: number, counter: number, writer: string): string => `${hex(ms, 12)}-${hex(counter, 8)}-${writer}`;

test('manifests round-trip, applied ids of several writers and other forms included', () => {
  const t0 = Date.UTC(2026, 10, 25);
  const ids = [
    ...Array.from({ length: 20 }, (_, i) => batchId(t0 + i * 3, 100 + i, '0000abcd1234')),
    batchId(t0 + 5, 7, '00001111ffff'), // another writer, lower counter: negative delta
    batchId(t0 + 10_000_000, 0xffffffff, '0000abcd1234'), // counter at its top
    batchId(0, 0, '000000000000'),
    'not-a-batch-id', 'ab-cd', 'ÅÄÖ',
  ];
  for (const applied of [[], ids, ids.slice(0, 1)]) {
    const m = manifest(applied);
    const back = decodeManifest(encodeManifest(m), 'test');
    assert.deepEqual([...back.applied].sort(), [...m.applied].sort());
    assert.deepEqual(back.splits, m.splits);
    assert.deepEqual(back.packs, m.packs);
    assert.deepEqual(back.state, m.state);
    assert.equal(back.gen, 7);
  }
});

test('consecutive batch ids of one writer cost a few bytes each', () => {
  const t0 = Date.UTC(2026, 10, 25);
  const ids = Array.from({ length: 50 }, (_, i) => batchId(t0 + i * 40, 5000 + i, '0000abcd1234'));
  const one = encodeManifest(manifest(ids.slice(0, 1))).length;
  const fifty = encodeManifest(manifest(ids)).length;
  assert.ok((fifty - one) / 49 <= 5, `${((fifty - one) / 49).toFixed(1)} bytes per further id`);
});

test('manifests of versions 2 and 3 (split files only, no pack table) are still read', () => {
  // gen 7 | has state | one applied id "b1" (u8 0: plain text) | one split "k" in file
  // 7-0a0b0c0d-0.split (u8 0 + gen + nonce + index) | state 1 2 3. With one applied id
  // versions 2 and 3 share the body.
  const body = Buffer.from([7, 1, 1, 0, 2, 0x62, 0x31, 1, 0, 1, 0x6b, 0, 7, 0x0a, 0x0b, 0x0c, 0x0d, 0, 1, 2, 3]);
  for (const version of [2, 3]) {
    const bytes = Buffer.alloc(12 + body.length);
    bytes.writeUInt32LE(0x4d594c54, 0);
    bytes.writeUInt32LE(version, 4);
    body.copy(bytes, 12);
    bytes.writeUInt32LE(crc32(body), 8);
    assert.deepEqual(decodeManifest(bytes, `v${version}`), {
      gen: 7, state: Uint8Array.of(1, 2, 3), applied: new Set(['b1']),
      splits: new Map([['k', { file: '7-0a0b0c0d-0.split', offset: 0, length: -1 }]]), packs: new Map(),
    });
    bytes.writeUInt32LE(9, 4);
    assert.throws(() => decodeManifest(bytes, 'v9'), /unknown version/);
  }
});

test('manifests of version 4 (keys front-coded, every record offset written) are still read', () => {
  const key1 = Buffer.from('mean_60000000000_0');
  const key2 = Buffer.from('mean_60000000000_216000000000000');
  // gen 7 | has state | one applied id "b1" | one pack 6-0a0b0c0e.pack of 100 bytes |
  // two splits in it, the second key sharing 17 bytes with the first | state 1 2 3.
  const body = Buffer.from([
    7, 1, 1, 0, 2, 0x62, 0x31,
    1, 0, 6, 0x0a, 0x0b, 0x0c, 0x0e, 100,
    2, 0, key1.length, ...key1, 2, 0, 0, 20,
    17, key2.length - 17, ...key2.subarray(17), 2, 0, 20, 30,
    1, 2, 3,
  ]);
  const bytes = Buffer.alloc(12 + body.length);
  bytes.writeUInt32LE(0x4d594c54, 0);
  bytes.writeUInt32LE(4, 4);
  body.copy(bytes, 12);
  bytes.writeUInt32LE(crc32(body, crc32(bytes.subarray(4, 8))), 8);
  const m = decodeManifest(bytes, 'v4');
  assert.deepEqual(m.splits, new Map([
    ['mean_60000000000_0', { file: '6-0a0b0c0e.pack', offset: 0, length: 20 }],
    ['mean_60000000000_216000000000000', { file: '6-0a0b0c0e.pack', offset: 20, length: 30 }],
  ]));
  assert.deepEqual(m.packs, new Map([['6-0a0b0c0e.pack', 100]]));
  assert.deepEqual(m.state, Uint8Array.of(1, 2, 3));
  // Written again, it is a version 5 manifest with the same content.
  const again = encodeManifest(m);
  assert.equal(again.readUInt32LE(4), 5);
  assert.deepEqual(decodeManifest(again, 'v5'), m);
});

test('version 5: engine split keys cost about 13 bytes with their record reference', () => {
  const splits = new Map<string, { file: string; offset: number; length: number }>();
  let offset = 0;
  for (const [g, start] of [[60_000_000_000n, 1_704_024_000_000_000_000n], [3_600_000_000_000n, 1_697_760_000_000_000_000n]] as const) {
    for (const method of ['mean', 'min', 'max', 'sum', 'std', 'count', 'rate:mean', '95pct']) {
      splits.set(`${method}_${g}_${start}`, { file: '3-0a0b0c0d.pack', offset, length: 130 });
      offset += 130;
    }
  }
  // A record away from the previous one's end, and keys that are not of that form.
  splits.set('odd_key_00_-5_1e3_', { file: '3-0a0b0c0d.pack', offset: 5, length: 1 });
  splits.set('x'.repeat(40), { file: '3-0a0b0c0d.pack', offset: 7, length: 1 });
  splits.set(`n_${'9'.repeat(30)}_${2 ** 53}`, { file: '3-0a0b0c0d.pack', offset: 8, length: 1 });
  const m: Manifest = { gen: 3, state: null, applied: new Set(), splits, packs: new Map([['3-0a0b0c0d.pack', offset]]) };
  const bytes = encodeManifest(m);
  assert.deepEqual(decodeManifest(bytes, 'v5'), m);
  const engineKeys = encodeManifest({ ...m, splits: new Map([...splits].slice(0, 16)) });
  assert.ok(engineKeys.length <= 16 * 13 + 60, `${engineKeys.length} bytes for 16 splits`);
});
