import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatTimestamp, parseTimestamp, SeriesTimestampFormatter, TimeParseError } from './time.js';
import { anyInt64, INT64_MAX } from './chunkenc/properties.js';

/** Timestamps Gnocchi accepts: the epoch to the end of int64 (2262-04-11), weighted to its ends and to round values. */
const accepted = fc.oneof(
  fc.bigInt(0n, INT64_MAX),
  fc.constantFrom(0n, 1n, 999_999_999n, 1_000_000_000n, INT64_MAX, INT64_MAX - 1n, INT64_MAX - 999_999_999n),
  fc.tuple(fc.bigInt(0n, INT64_MAX / 1_000_000_000n - 1n), fc.constantFrom(1n, 1000n, 1_000_000n, 1_000_000_000n)).map(([s, unit]) => (s * 1_000_000_000n / unit) * unit),
);

test('time: formatting then parsing any accepted int64 nanosecond timestamp is the identity', () => {
  fc.assert(
    fc.property(accepted, (t) => {
      const text = formatTimestamp(t);
      assert.equal(parseTimestamp(text), t, text);
    }),
    { numRuns: 500 },
  );
});

test('time: timestamps before the epoch format, and parsing them back is a TimeParseError (as in Gnocchi)', () => {
  fc.assert(
    fc.property(fc.bigInt(-(2n ** 63n), -1n), (t) => {
      const text = formatTimestamp(t);
      assert.match(text, /^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6}|\.\d{9})?\+00:00$/);
      assert.throws(() => parseTimestamp(text), TimeParseError);
    }),
    { numRuns: 200 },
  );
});

test('time: the series formatter writes what formatTimestamp writes, in any order, over any span', () => {
  fc.assert(
    fc.property(fc.array(anyInt64, { maxLength: 40 }), (ts) => {
      const f = new SeriesTimestampFormatter();
      for (const t of ts) assert.equal(f.format(t), formatTimestamp(t));
    }),
    { numRuns: 200 },
  );
});

test('time: any text parses to a timestamp in range or throws TimeParseError', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(...'0123456789-+:.TZ eE'), maxLength: 40 }),
    accepted.map((t) => formatTimestamp(t)).chain((s) => fc.tuple(fc.nat({ max: s.length }), fc.string({ maxLength: 3 })).map(([i, x]) => s.slice(0, i) + x + s.slice(i + 1))),
  );
  fc.assert(
    fc.property(text, (s) => {
      try {
        const t = parseTimestamp(s, 1_700_000_000_000_000_000n);
        assert.ok(t >= 0n && t <= INT64_MAX);
      } catch (err) {
        if (!(err instanceof TimeParseError)) throw err;
      }
    }),
    { numRuns: 500 },
  );
});
