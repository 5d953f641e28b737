import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pooledBytes } from './pool.js';

test('pooled bytes: zeroed, of the length asked, never overlapping, aligned; large ones have buffers of their own', () => {
  const taken: Uint8Array[] = [];
  // Enough to fill several slabs, with sizes that do not divide them.
  for (let i = 0; i < 400; i++) {
    const n = 1 + ((i * 977) % 4096);
    const b = pooledBytes(n);
    assert.equal(b.length, n);
    assert.ok(b.every((x) => x === 0), 'zeroed');
    assert.equal(b.byteOffset % 8, 0);
    b.fill(i % 255 + 1);
    taken.push(b);
  }
  // Every blob still holds what was written into it: none shares bytes with a later one.
  taken.forEach((b, i) => assert.ok(b.every((x) => x === i % 255 + 1), `blob ${i} overwritten`));
  assert.ok(new Set(taken.map((b) => b.buffer)).size > 1, 'several slabs');
  const large = pooledBytes(5000);
  assert.equal(large.length, 5000);
  assert.equal(large.byteOffset, 0);
  assert.equal(large.buffer.byteLength, 5000);
  assert.equal(pooledBytes(0).length, 0);
});
