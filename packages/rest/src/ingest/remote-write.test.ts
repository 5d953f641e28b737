import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeWriteRequest, RemoteWriteError } from './remote-write.js';
import { Pb, writeRequest } from './test-codecs.js';

test('remote write: labels, samples in ns, other labels ignored', () => {
  const buf = writeRequest([
    { labels: { __name__: 'up', job: 'node', instance: 'h:9100', le: '0.5' }, samples: [[1700000000123, 1], [1700000001123, 0.5]] },
    { labels: { __name__: 'x' }, samples: [[0, -2]] },
  ]);
  const s = decodeWriteRequest(buf);
  assert.equal(s.length, 2);
  assert.deepEqual([s[0].name, s[0].job, s[0].instance], ['up', 'node', 'h:9100']);
  assert.deepEqual([...s[0].measures.ts], [1700000000123000000n, 1700000001123000000n]);
  assert.deepEqual([...s[0].measures.values], [1, 0.5]);
  assert.deepEqual([s[1].name, s[1].job, s[1].instance], ['x', null, null]);
  assert.deepEqual([...s[1].measures.ts], [0n]);
});

test('remote write: NaN (staleness markers) and infinities are counted, not stored', () => {
  const stale = Buffer.from('7ff0000000000002', 'hex').readDoubleBE();
  const s = decodeWriteRequest(writeRequest([{ labels: { __name__: 'a' }, samples: [[1, stale], [2, 3], [3, Infinity], [4, NaN]] }]));
  assert.deepEqual([...s[0].measures.values], [3]);
  assert.deepEqual([...s[0].measures.ts], [2000000n]);
  assert.equal(s[0].skipped, 3);
});

test('remote write: unknown fields (metadata, exemplars, histograms) are skipped', () => {
  const buf = writeRequest([{ labels: { __name__: 'a', job: 'j' }, samples: [[5, 1]] }], (req) => {
    req.bytes(3, new Pb().varint(1, 2).bytes(2, 'a').bytes(4, 'help'));
    req.fixed32(9, 1).double(10, 1).varint(11, 5);
  });
  // Exemplars (3) and histograms (4) inside the series.
  const withExemplar = Buffer.concat([buf, new Pb().bytes(1, new Pb().bytes(1, new Pb().bytes(1, '__name__').bytes(2, 'b'))
    .bytes(3, new Pb().double(2, 1).varint(3, 9)).bytes(4, new Pb().varint(1, 1)).bytes(2, new Pb().double(1, 7).varint(2, 8))).finish()]);
  const s = decodeWriteRequest(withExemplar);
  assert.deepEqual(s.map((x) => x.name), ['a', 'b']);
  assert.deepEqual([...s[1].measures.values], [7]);
});

test('remote write: defaults (no value, no timestamp) and empty series', () => {
  const buf = new Pb().bytes(1, new Pb().bytes(1, new Pb().bytes(1, '__name__').bytes(2, 'z')).bytes(2, new Pb())).bytes(1, new Pb()).finish();
  const s = decodeWriteRequest(buf);
  assert.deepEqual([...s[0].measures.ts], [0n]);
  assert.deepEqual([...s[0].measures.values], [0]);
  assert.equal(s[1].name, null);
  assert.equal(s[1].measures.ts.length, 0);
  assert.deepEqual(decodeWriteRequest(Buffer.alloc(0)), []);
});

test('remote write: out-of-range timestamps are errors', () => {
  const neg = new Pb().bytes(1, new Pb().bytes(2, new Pb().double(1, 1).negativeInt64(2, -5n))).finish();
  assert.throws(() => decodeWriteRequest(neg), /out of range/);
  const huge = new Pb().bytes(1, new Pb().bytes(2, new Pb().double(1, 1).varint(2, 2 ** 52))).finish();
  assert.throws(() => decodeWriteRequest(huge), /out of range/);
});

test('remote write: malformed protobuf is a RemoteWriteError', () => {
  const good = writeRequest([{ labels: { __name__: 'a', job: 'j', instance: 'i' }, samples: [[1, 1], [2, 2]] }]);
  for (let cut = 1; cut < good.length; cut++) {
    try {
      decodeWriteRequest(good.subarray(0, cut));
    } catch (e) {
      assert.ok(e instanceof RemoteWriteError, String(e));
    }
  }
  assert.throws(() => decodeWriteRequest(Buffer.from([0x0b])), RemoteWriteError); // group wire type
  assert.throws(() => decodeWriteRequest(Buffer.from([0x0a, 0x05, 0x01])), RemoteWriteError);
  const badUtf8 = new Pb().bytes(1, new Pb().bytes(1, new Pb().bytes(1, 'job').bytes(2, Buffer.from([0xff, 0xfe])))).finish();
  assert.throws(() => decodeWriteRequest(badUtf8), /UTF-8/);
  for (let i = 0; i < 3000; i++) {
    try {
      decodeWriteRequest(randomBytes(1 + (i % 64)));
    } catch (e) {
      assert.ok(e instanceof RemoteWriteError, String(e));
    }
  }
});
