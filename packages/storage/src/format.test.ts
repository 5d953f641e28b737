import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeManifest, encodeManifest, type Manifest } from './format.js';

function manifest(applied: string[]): Manifest {
  return {
    gen: 7,
    state: new Uint8Array([1, 2, 3]),
    applied: new Set(applied),
    splits: new Map([['mean|1|0', '7-0a0b0c0d-0.split'], ['mean|1|3600', '7-0a0b0c0d-1.split']]),
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

test('version 2 manifests (ids packed one by one) are still read', () => {
  // With at most one batch id, versions 2 and 3 write the same body; the CRC does not cover
  // the version field.
  const m = manifest(['b1', batchId(Date.UTC(2026, 0, 1), 3, '0000abcd1234')]);
  const bytes = encodeManifest(m);
  bytes.writeUInt32LE(2, 4);
  assert.deepEqual([...decodeManifest(bytes, 'v2').applied].sort(), [...m.applied].sort());
  bytes.writeUInt32LE(9, 4);
  assert.throws(() => decodeManifest(bytes, 'v9'), /unknown version/);
});
