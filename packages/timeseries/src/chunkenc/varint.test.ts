import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_VARINT_BYTES, VARINT_TOO_LARGE, VARINT_TOO_LONG, VARINT_TRUNCATED, pushBigVarint, readBigVarint, readVarint, unzigzag, unzigzagBig,
  varintSize, writeVarint, zigzag, zigzagBig,
} from './varint.js';

function bytesOf(v: number): number[] {
  const out = new Uint8Array(varintSize(v));
  assert.equal(writeVarint(out, 0, v), out.length);
  return [...out];
}

function read(bytes: number[], maxBytes?: number): { v: number; pos: number } {
  const c = { pos: 0 };
  const v = readVarint(Uint8Array.from(bytes), c, bytes.length, maxBytes);
  return { v, pos: c.pos };
}

test('varints are LEB128: the protobuf documentation examples and the byte boundaries', () => {
  assert.deepEqual(bytesOf(0), [0]);
  assert.deepEqual(bytesOf(1), [1]);
  assert.deepEqual(bytesOf(127), [0x7f]);
  assert.deepEqual(bytesOf(128), [0x80, 0x01]);
  assert.deepEqual(bytesOf(150), [0x96, 0x01]);
  assert.deepEqual(bytesOf(300), [0xac, 0x02]);
  assert.deepEqual(bytesOf(2 ** 32), [0x80, 0x80, 0x80, 0x80, 0x10]);
  assert.deepEqual(bytesOf(2 ** 53 - 1), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
  for (const v of [0, 1, 127, 128, 150, 300, 16383, 16384, 2 ** 32 - 1, 2 ** 32, 2 ** 49, 2 ** 53 - 1]) {
    assert.deepEqual(read(bytesOf(v)), { v, pos: varintSize(v) });
  }
});

test('readVarint starts at the cursor, stops at `end`, and leaves what follows', () => {
  const b = Uint8Array.of(9, 0xac, 0x02, 0x05, 0x80);
  const c = { pos: 1 };
  assert.equal(readVarint(b, c), 300);
  assert.equal(c.pos, 3);
  assert.equal(readVarint(b, c), 5);
  assert.equal(readVarint(b, c), VARINT_TRUNCATED);
  assert.equal(readVarint(b, { pos: 1 }, 2), VARINT_TRUNCATED);
  assert.equal(readVarint(b, { pos: 5 }), VARINT_TRUNCATED);
});

test('values of 2^53 or more are read whole and reported, never rounded', () => {
  assert.deepEqual(read([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]), { v: VARINT_TOO_LARGE, pos: 8 }); // 2^53
  // int64 -1 as protobuf writes it: ten bytes.
  assert.deepEqual(read([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), { v: VARINT_TOO_LARGE, pos: 10 });
  // Payload only in the ninth byte (2^56).
  assert.deepEqual(read([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), { v: VARINT_TOO_LARGE, pos: 9 });
  // Zero padding in long forms is still the small value.
  assert.deepEqual(read([0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), { v: 5, pos: 10 });
});

test('more continuation bytes than allowed are refused', () => {
  assert.equal(read(new Array<number>(MAX_VARINT_BYTES).fill(0x80).concat([0])).v, VARINT_TOO_LONG);
  assert.equal(read([0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 5).v, VARINT_TOO_LONG);
  assert.equal(read([0xff, 0xff, 0xff, 0xff, 0x0f], 5).v, 2 ** 32 - 1);
});

test('zigzag interleaves signs and inverts exactly up to 2^52', () => {
  assert.deepEqual([0, -1, 1, -2, 2].map(zigzag), [0, 1, 2, 3, 4]);
  assert.ok(Object.is(zigzag(-0), 0));
  for (const v of [0, -1, 1, 2 ** 31, -(2 ** 31), 2 ** 52 - 1, -(2 ** 52 - 1)]) assert.equal(unzigzag(zigzag(v)), v);
});

test('BigInt varints: the same bytes as the number form below 2^53, and every int64 delta round-trips through zigzag', () => {
  const edges = [0n, 1n, 127n, 128n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n), -1n, 2n ** 64n - 1n];
  for (let i = 0; i < 2000; i++) edges.push(BigInt.asIntN(64, BigInt(Math.floor(Math.random() * 2 ** 32)) << BigInt(i % 33)));
  for (const v of edges) {
    const z = v < 0n || v >= 2n ** 64n ? zigzagBig(v) : v;
    const out: number[] = [];
    pushBigVarint(out, z);
    if (z < 2n ** 53n) {
      const small = new Uint8Array(varintSize(Number(z)));
      writeVarint(small, 0, Number(z));
      assert.deepEqual(out, [...small]);
    }
    const c = { pos: 0 };
    assert.equal(readBigVarint(Uint8Array.from(out), c), z);
    assert.equal(c.pos, out.length);
    assert.equal(unzigzagBig(zigzagBig(v)), v);
  }
  assert.equal(readBigVarint(Uint8Array.from([0x80, 0x80]), { pos: 0 }), null);
  assert.equal(readBigVarint(new Uint8Array(11).fill(0x80), { pos: 0 }), null);
});
