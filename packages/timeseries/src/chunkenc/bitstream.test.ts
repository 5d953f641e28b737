import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BitReader, BitWriter } from './bitstream.js';
import { rng } from './datasets.js';

test('fields of every width 0..32 round-trip across word boundaries', () => {
  const r = rng(7);
  const widths: number[] = [];
  const vals: number[] = [];
  const w = new BitWriter(1);
  for (let i = 0; i < 5000; i++) {
    const n = Math.floor(r() * 33);
    const v = n === 0 ? 0 : Math.floor(r() * 2 ** n);
    widths.push(n);
    vals.push(v);
    w.writeBits(v, n);
  }
  const total = widths.reduce((a, b) => a + b, 0);
  assert.equal(w.bitLength, total);
  const b = w.bytes();
  assert.equal(b.length, Math.ceil(total / 8));
  const rd = new BitReader(b);
  for (let i = 0; i < widths.length; i++) assert.equal(rd.readBits(widths[i]), vals[i], `field ${i}`);
  assert.equal(rd.overrun, false);
});

test('writeBits masks high garbage bits and handles 32-bit values with the top bit set', () => {
  const w = new BitWriter();
  w.writeBits(0xffffffff, 3);
  w.writeBits(0x80000001, 32);
  w.writeBit(1);
  const rd = new BitReader(w.bytes());
  assert.equal(rd.readBits(3), 7);
  assert.equal(rd.readBits(32), 0x80000001);
  assert.equal(rd.readBit(), 1);
});

test('wide fields up to 53 bits round-trip', () => {
  const w = new BitWriter();
  const cases: [number, number][] = [
    [2 ** 53 - 1, 53],
    [0, 53],
    [2 ** 40 + 12345, 41],
    [4294967296, 33],
    [4294967295, 32],
    [1, 1],
  ];
  for (const [v, n] of cases) w.writeWide(v, n);
  const rd = new BitReader(w.bytes());
  for (const [v, n] of cases) assert.equal(rd.readWide(n), v);
});

test('readOnes counts unary prefixes, capped, across refills', () => {
  const w = new BitWriter();
  // Prefixes below the cap are terminated by a zero; at the cap no zero is written.
  const qs = [0, 1, 5, 15, 3, 0, 14, 7, 15, 15, 2, 16, 9];
  for (const q of qs) {
    for (let i = 0; i < q; i++) w.writeBit(1);
    if (q < 16) w.writeBit(0);
  }
  w.writeBits(0b1010, 4);
  const rd = new BitReader(w.bytes());
  for (const q of qs) assert.equal(rd.readOnes(16), q);
  assert.equal(rd.readBits(4), 0b1010);
  assert.equal(rd.overrun, false);
});

test('clone and bytes do not disturb an ongoing stream', () => {
  const w = new BitWriter(1);
  w.writeBits(5, 3);
  const snap = w.bytes();
  const c = w.clone();
  c.writeBits(0x3ff, 10);
  w.writeBits(1, 1);
  assert.deepEqual(snap, Uint8Array.of(0b10100000));
  assert.deepEqual(w.bytes(), Uint8Array.of(0b10110000));
  assert.deepEqual(c.bytes(), Uint8Array.of(0b10111111, 0b11111000));
});

test('reading past the end is reported as overrun, not thrown', () => {
  const rd = new BitReader(Uint8Array.of(0xff));
  assert.equal(rd.readBits(8), 0xff);
  assert.equal(rd.overrun, false);
  assert.equal(rd.readBits(4), 0);
  assert.equal(rd.overrun, true);
});

test('reads honour a sub-range of a larger buffer', () => {
  const rd = new BitReader(Uint8Array.of(0x00, 0xab, 0xcd, 0xee), 1, 3);
  assert.equal(rd.readBits(16), 0xabcd);
  assert.equal(rd.overrun, false);
  rd.readBits(1);
  assert.equal(rd.overrun, true);
});

test('view() is bytes() without the copy; reset() starts a new stream in the same writer', () => {
  const r = rng(3);
  const w = new BitWriter(4);
  for (let round = 0; round < 50; round++) {
    w.reset(256);
    const fields: [number, number][] = [];
    const count = Math.floor(r() * 200);
    for (let i = 0; i < count; i++) {
      const n = 1 + Math.floor(r() * 32);
      const v = Math.floor(r() * 2 ** n);
      fields.push([v, n]);
      w.writeBits(v, n);
    }
    const copy = w.bytes();
    const view = w.view();
    assert.deepEqual(view, copy);
    const rd = new BitReader(view);
    for (const [v, n] of fields) assert.equal(rd.readBits(n), v >>> 0);
  }
});
