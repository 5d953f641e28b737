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
