import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { snappyUncompress, snappyUncompressedLength, SnappyError } from './snappy.js';
import { snappyCompress } from './test-codecs.js';

// Gnocchi's suites sit beside the checkout, or where TALLY_CONFORMANCE_DIR says (as for scripts/conformance).
const CONFORMANCE = process.env.TALLY_CONFORMANCE_DIR ?? new URL('../../../../../shared/conformance/', import.meta.url).pathname;
const FIXTURES = join(CONFORMANCE, 'gnocchi-4.4.2/functional/prometheus_fixtures/');

function roundTrip(data: Uint8Array, force4 = false): void {
  const c = snappyCompress(data, { force4 });
  assert.deepEqual(snappyUncompress(c), Buffer.from(data));
}

test('snappy: empty, literals of every length form', () => {
  roundTrip(new Uint8Array(0));
  for (const n of [1, 59, 60, 61, 255, 256, 257, 65535, 65536, 65537, 70000]) roundTrip(randomBytes(n));
});

test('snappy: copies with 1-, 2- and 4-byte offsets, overlapping runs', () => {
  roundTrip(Buffer.from('abcdabcdabcdabcdabcdabcd'));
  roundTrip(Buffer.alloc(5000, 7)); // overlapping copies (offset 1)
  const text = Buffer.from('the quick brown fox jumps over the lazy dog; '.repeat(200));
  roundTrip(text);
  roundTrip(text, true);
  const far = Buffer.concat([randomBytes(70000), Buffer.from('0123456789abcdef'), randomBytes(10), Buffer.from('0123456789abcdef')]);
  roundTrip(Buffer.concat([Buffer.from('0123456789abcdef'), randomBytes(70000), Buffer.from('0123456789abcdef')]));
  roundTrip(far);
});

test('snappy: hand-built stream with an overlapping copy', () => {
  // length 10, literal "ab", copy offset 2 length 8 (1-byte offset form).
  const src = Buffer.from([10, 1 << 2, 0x61, 0x62, 1 | ((8 - 4) << 2), 2]);
  assert.equal(snappyUncompress(src).toString(), 'ababababab');
});

test('snappy: malformed input is a SnappyError, never a crash', () => {
  const bad: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['unterminated preamble', Buffer.from([0x80, 0x80])],
    ['preamble too long', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['literal past input', Buffer.from([5, 4 << 2, 0x61])],
    ['literal past declared length', Buffer.from([1, 1 << 2, 0x61, 0x62])],
    ['copy before start', Buffer.from([4, 1 | (0 << 2), 1])],
    ['zero offset', Buffer.from([6, 1 << 2, 0x61, 0x62, 1, 0])],
    ['truncated copy', Buffer.from([6, 1 << 2, 0x61, 0x62, 2, 1])],
    ['short output', Buffer.from([9, 1 << 2, 0x61, 0x62])],
    ['truncated literal length', Buffer.from([100, 61 << 2, 1])],
  ];
  for (const [name, b] of bad) assert.throws(() => snappyUncompress(b), SnappyError, name);
  for (let i = 0; i < 2000; i++) {
    const b = randomBytes(1 + (i % 40));
    try {
      snappyUncompress(b, 1 << 20);
    } catch (e) {
      assert.ok(e instanceof SnappyError, String(e));
    }
  }
});

test('snappy: the declared length is checked against the limit before allocating', () => {
  const c = snappyCompress(Buffer.alloc(1000));
  assert.equal(snappyUncompressedLength(c).length, 1000);
  assert.throws(() => snappyUncompress(c, 999), /exceeds the limit/);
});

test('snappy: Prometheus fixtures decompress', { skip: !existsSync(FIXTURES) && 'conformance fixtures not found' }, () => {
  for (const f of readdirSync(FIXTURES)) {
    const out = snappyUncompress(readFileSync(join(FIXTURES, f)));
    assert.ok(out.length > 1000);
    assert.ok(out.includes(Buffer.from('localhost:9090')));
  }
});
