import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptDataError } from './errors.js';
import { MeasuresChunk, MeasuresIterator, SplitChunk, SplitIterator } from './chunk.js';
import { Encoding } from './encoding.js';
import { randomWalk3 } from './datasets.js';

test('split appender and iterator agree, and bytes() can be taken mid-stream', () => {
  const values = randomWalk3(1000, 8);
  const c = new SplitChunk({ kind: 'decimal', scale: 3, order: 1 });
  assert.equal(c.encoding, Encoding.SplitDecimal);
  let mid: Uint8Array | null = null;
  for (let i = 0; i < values.length; i++) {
    c.append(i * 2, values[i]);
    if (i === 499) mid = c.bytes();
  }
  assert.equal(c.numPoints(), 1000);
  const check = (b: Uint8Array, n: number) => {
    const it = new SplitIterator(b);
    assert.equal(it.length, n);
    let i = 0;
    while (it.next()) {
      assert.equal(it.position, i * 2);
      assert.ok(Object.is(it.value, values[i]));
      i++;
    }
    assert.equal(i, n);
    assert.equal(it.next(), false);
  };
  check(mid!, 500);
  check(c.bytes(), 1000);
});

test('split appender validates positions and decimal fit before mutating', () => {
  const c = new SplitChunk({ kind: 'decimal', scale: 1, order: 2 });
  c.append(0, 1.5);
  assert.throws(() => c.append(1, 1.55), RangeError);
  assert.throws(() => c.append(-1, 1), RangeError);
  assert.throws(() => c.append(2 ** 32, 1), RangeError);
  assert.throws(() => c.append(1.5, 1), RangeError);
  c.append(1, 2.5);
  const it = new SplitIterator(c.bytes());
  const got: number[] = [];
  while (it.next()) got.push(it.position, it.value);
  assert.deepEqual(got, [0, 1.5, 1, 2.5]);
});

test('measures appender and iterator round-trip timestamps without allocation fields', () => {
  const c = new MeasuresChunk();
  const ts = [1_700_000_000_000_000_001n, -5n, 2n ** 63n - 1n, 1_700_000_000_000_000_001n];
  const vs = [-0, 1e-310, 3, -3];
  ts.forEach((t, i) => c.append(t, vs[i]));
  const it = new MeasuresIterator(c.bytes());
  let i = 0;
  while (it.next()) {
    assert.equal(it.ts(), ts[i]);
    assert.equal((BigInt(it.tsHi) << 32n) | BigInt(it.tsLo), ts[i]);
    assert.ok(Object.is(it.value, vs[i]));
    i++;
  }
  assert.equal(i, 4);
});

test('iterators reject truncated and mistyped chunks', () => {
  const c = new SplitChunk();
  for (let i = 0; i < 100; i++) c.append(i * 7, Math.sqrt(i));
  const b = c.bytes();
  assert.throws(() => {
    const it = new SplitIterator(b.subarray(0, b.length - 10));
    while (it.next());
  }, CorruptDataError);
  assert.throws(() => new MeasuresIterator(b), CorruptDataError);
  assert.throws(() => new SplitIterator(Uint8Array.of(0x7f, 0, 0)), CorruptDataError);
});
