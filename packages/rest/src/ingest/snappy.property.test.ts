import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { snappyUncompress, snappyUncompressedLength, SnappyError } from './snappy.js';
import { snappyCompress } from './test-codecs.js';

/** Bytes with the repetitions copies are made of: random, runs, and repeated chunks. */
const data = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 40 })), { maxLength: 12 }).map((runs) =>
    Uint8Array.from(runs.flatMap(([chunk, times]) => Array.from({ length: times }, () => [...chunk]).flat())),
  ),
);

function uncompressesOrRejects(b: Uint8Array): void {
  let out: Buffer;
  try {
    out = snappyUncompress(b, 1 << 20);
  } catch (err) {
    if (err instanceof SnappyError) return;
    throw err;
  }
  assert.equal(out.length, snappyUncompressedLength(b).length);
}

test('snappy: any bytes round-trip, with every element kind and 4-byte offsets', () => {
  fc.assert(
    fc.property(data, fc.boolean(), (src, force4) => {
      assert.deepEqual(new Uint8Array(snappyUncompress(snappyCompress(src, { force4 }))), src);
    }),
    { numRuns: 300 },
  );
});

test('snappy: arbitrary and mutated blocks decompress to their declared length or throw SnappyError', () => {
  const valid = [snappyCompress(Buffer.from('abcabcabcabc'.repeat(30) + 'the end')), snappyCompress(Buffer.alloc(2000, 7), { force4: true })];
  const mutated = fc.oneof(...valid.map((v) => fc.constant(v))).chain((v) =>
    fc.oneof(
      fc.tuple(fc.nat({ max: v.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const b = Buffer.from(v);
        b[at] ^= x;
        return b;
      }),
      fc.nat({ max: v.length }).map((k) => v.subarray(0, k)),
      fc.uint8Array({ minLength: 1, maxLength: 16 }).map((x) => Buffer.concat([v, x])),
    ),
  );
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), uncompressesOrRejects),
    { numRuns: 500 },
  );
});

test('snappy: a declared length no input of that size can reach is refused before allocating it', () => {
  for (const declared of [2 ** 31, 2 ** 32 - 1, 200 * 1024 * 1024]) {
    // varint of the declared length, then a handful of copy elements.
    const head: number[] = [];
    for (let v = declared; ; v = Math.floor(v / 128)) {
      if (v < 128) {
        head.push(v);
        break;
      }
      head.push((v % 128) | 0x80);
    }
    const block = Uint8Array.from([...head, 0x00, 0x41, 0xfe, 0x01, 0x00]);
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(() => snappyUncompress(block, 2 ** 32), SnappyError);
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'allocated by the declared length');
  }
  // The best ratio is still accepted: a literal then 64-byte copies of it.
  const n = 64 * 100 + 1;
  const best = Uint8Array.from([...[n % 128 | 0x80, n >> 7], 0x00, 0x41, ...Array.from({ length: 100 }, () => [0xfe, 0x01, 0x00]).flat()]);
  assert.deepEqual(new Uint8Array(snappyUncompress(best)), new Uint8Array(n).fill(0x41));
});
