import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { XdrError, XdrReader, XdrWriter } from './xdr.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('scalars are big-endian and 4 or 8 bytes, as RFC 4506 lays them out', () => {
  const w = new XdrWriter(4);
  w.u32(0xdeadbeef).i32(-2).u64(0xffffffffffffffffn).i64(-(2n ** 63n)).f64(1.5).bool(true);
  assert.equal(hex(w.bytes()),
    'deadbeef' + 'fffffffe' + 'ffffffffffffffff' + '8000000000000000' + '3ff8000000000000' + '00000001');
  const r = new XdrReader(w.bytes());
  assert.equal(r.u32(), 0xdeadbeef);
  assert.equal(r.i32(), -2);
  assert.equal(r.u64(), 0xffffffffffffffffn);
  assert.equal(r.i64(), -(2n ** 63n));
  assert.equal(r.f64(), 1.5);
  assert.equal(r.bool(), true);
  r.done();
});

test('strings and opaques carry their length and pad to 4 bytes with zeros', () => {
  const w = new XdrWriter();
  w.string('héllo', 100).fixedOpaque(new Uint8Array([1, 2, 3]), 3).varOpaque(new Uint8Array([9]), 8).string('', 1);
  // 'héllo' is 6 UTF-8 bytes -> 2 bytes of padding.
  assert.equal(hex(w.bytes()), '00000006' + '68c3a96c6c6f' + '0000' + '010203' + '00' + '00000001' + '09000000' + '00000000');
  const r = new XdrReader(w.bytes());
  assert.equal(r.string(100), 'héllo');
  assert.deepEqual([...r.fixedOpaque(3)], [1, 2, 3]);
  assert.deepEqual([...r.varOpaque(8)], [9]);
  assert.equal(r.string(1), '');
  r.done();
});

test('optionals and arrays round-trip', () => {
  fc.assert(fc.property(
    fc.array(fc.option(fc.string({ maxLength: 20 }), { nil: null }), { maxLength: 30 }),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.double({ noNaN: true }),
    (items, ul, l, d) => {
      const w = new XdrWriter(1);
      w.array(items, 30, (ww, s) => void ww.optional(s, (www, v) => void www.string(v, 100))).u64(ul).i64(l).f64(d);
      const r = new XdrReader(w.bytes());
      const back = r.array(30, (rr) => rr.optional((rrr) => rrr.string(100)));
      assert.deepEqual(back, items);
      assert.equal(r.u64(), ul);
      assert.equal(r.i64(), l);
      assert.ok(Object.is(r.f64(), d));
      r.done();
    },
  ));
});

test('every truncation of a valid encoding is refused with a truncated XdrError', () => {
  const w = new XdrWriter();
  w.string('domain-name', 1000).u64(123456789012345678n).array(['a', 'bc', 'def'], 10, (ww, s) => void ww.string(s, 10)).i32(7);
  const full = w.bytes().slice();
  const read = (r: XdrReader): void => {
    r.string(1000);
    r.u64();
    r.array(10, (rr) => rr.string(10));
    r.i32();
    r.done();
  };
  read(new XdrReader(full));
  for (let cut = 0; cut < full.length; cut++) {
    assert.throws(() => read(new XdrReader(full.subarray(0, cut))), (e: unknown) => e instanceof XdrError && e.kind === 'truncated', `cut at ${cut}`);
  }
});

test('hostile lengths and counts are refused before anything is allocated', () => {
  // A string claiming 4 GiB in an 8-byte message.
  const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  assert.throws(() => new XdrReader(huge).string(0xffffffff), (e: unknown) => e instanceof XdrError && e.kind === 'truncated');
  assert.throws(() => new XdrReader(huge).string(4 * 1024 * 1024), (e: unknown) => e instanceof XdrError && e.kind === 'limit');
  // An array count of 2^32-1 whose element reader would never be reached.
  let calls = 0;
  assert.throws(() => new XdrReader(huge).array(0xffffffff, (r) => { calls++; return r.u32(); }),
    (e: unknown) => e instanceof XdrError && e.kind === 'truncated');
  assert.equal(calls, 0);
  // A count within the bytes left but above the declared limit.
  const w = new XdrWriter();
  w.u32(5).u32(1).u32(2).u32(3).u32(4).u32(5);
  assert.throws(() => new XdrReader(w.bytes()).array(4, (r) => r.u32()), (e: unknown) => e instanceof XdrError && e.kind === 'limit');
});

test('invalid values and leftovers are refused', () => {
  assert.throws(() => new XdrReader(new Uint8Array([0, 0, 0, 2])).bool(), (e: unknown) => e instanceof XdrError && e.kind === 'invalid');
  const r = new XdrReader(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2]));
  r.u32();
  assert.throws(() => r.done(), (e: unknown) => e instanceof XdrError && e.kind === 'trailing');
});

test('the writer refuses values its type cannot hold', () => {
  const w = new XdrWriter();
  assert.throws(() => w.u32(-1), RangeError);
  assert.throws(() => w.u32(2 ** 32), RangeError);
  assert.throws(() => w.i32(2 ** 31), RangeError);
  assert.throws(() => w.u64(2n ** 64n), RangeError);
  assert.throws(() => w.i64(2n ** 63n), RangeError);
  assert.throws(() => w.string('toolong', 3), RangeError);
  assert.throws(() => w.array([1, 2], 1, (ww, v) => void ww.u32(v)), RangeError);
  assert.equal(w.length, 0);
});
