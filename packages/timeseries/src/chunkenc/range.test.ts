import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Models, RangeDecoder, RangeEncoder, RangeSizer, RAW_MAX } from './range.js';
import { rng } from './datasets.js';

type Op = { kind: 'bit'; ctx: number; bit: number } | { kind: 'raw'; v: number; k: number } | { kind: 'wide'; v: number; k: number };

function roundTrip(ops: Op[], contexts = 4): Uint8Array {
  const e = new RangeEncoder(16);
  const em = new Models(contexts, 1024);
  const sizer = new RangeSizer();
  const sm = new Models(contexts, 1024);
  for (const op of ops) {
    if (op.kind === 'bit') {
      e.putBit(em, op.ctx, op.bit);
      sizer.putBit(sm, op.ctx, op.bit);
    } else if (op.kind === 'raw') {
      e.putRaw(op.v, op.k);
    } else {
      e.putRawWide(op.v, op.k);
    }
  }
  const b = e.finish().slice();
  const d = new RangeDecoder(b);
  const dm = new Models(contexts, 1024);
  for (const [i, op] of ops.entries()) {
    const got = op.kind === 'bit' ? d.getBit(dm, op.ctx) : op.kind === 'raw' ? d.getRaw(op.k) : d.getRawWide(op.k);
    assert.equal(got, op.kind === 'bit' ? op.bit : op.v, `op ${i}`);
  }
  assert.equal(d.overrun, false);
  return b;
}

test('range coder: empty, single bits, raw fields of every width, 53-bit fields', () => {
  assert.equal(roundTrip([]).length, 0);
  roundTrip([{ kind: 'bit', ctx: 0, bit: 1 }]);
  for (let k = 0; k <= RAW_MAX; k++) roundTrip([{ kind: 'raw', v: 2 ** k - 1, k }, { kind: 'raw', v: 0, k }]);
  roundTrip([{ kind: 'wide', v: 2 ** 53 - 1, k: 53 }, { kind: 'wide', v: 2 ** 40 + 12345, k: 41 }, { kind: 'wide', v: 0, k: 53 }]);
});

test('range coder: skewed bits cost what their entropy says, and the sizer agrees with the coder', () => {
  const r = rng(3);
  const ops: Op[] = [];
  // P(1) = 0.1 in context 0, 0.5 in context 1: H = 0.469 + 1 bits per pair.
  for (let i = 0; i < 20_000; i++) ops.push({ kind: 'bit', ctx: 0, bit: r() < 0.1 ? 1 : 0 }, { kind: 'bit', ctx: 1, bit: r() < 0.5 ? 1 : 0 });
  const b = roundTrip(ops);
  const ideal = (20_000 * (0.469 + 1)) / 8;
  assert.ok(b.length < ideal * 1.01 && b.length > ideal * 0.98, `${b.length} bytes, entropy ${ideal.toFixed(0)}`);
  const s = new RangeSizer();
  const m = new Models(4, 1024);
  for (const op of ops) if (op.kind === 'bit') s.putBit(m, op.ctx, op.bit);
  assert.ok(Math.abs(s.bytes() - b.length) <= 4, `sizer ${s.bytes()} vs ${b.length}`);
});

test('range coder: carries through runs of 0xff bytes and trailing zeros are implied', () => {
  // Bits that are almost always 1 push low up to the top of its window: carries into
  // pending 0xff bytes happen often.
  const r = rng(11);
  for (let run = 0; run < 20; run++) {
    const ops: Op[] = [];
    for (let i = 0; i < 3000; i++) ops.push(r() < 0.97 ? { kind: 'bit', ctx: 2, bit: 1 } : { kind: 'raw', v: Math.floor(r() * 4096), k: 12 });
    roundTrip(ops);
  }
  // A stream of certain zeros ends in zero bytes, all dropped.
  const zeros: Op[] = Array.from({ length: 50 }, () => ({ kind: 'bit', ctx: 0, bit: 0 }));
  assert.ok(roundTrip(zeros).length <= 2);
});

test('range decoder: reading far past the end is an overrun', () => {
  const d = new RangeDecoder(Uint8Array.of(1, 2));
  d.getRaw(12);
  assert.equal(d.overrun, false);
  for (let i = 0; i < 10; i++) d.getRaw(12);
  assert.equal(d.overrun, true);
});
