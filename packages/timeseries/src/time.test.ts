import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatTimespan,
  SeriesTimestampFormatter,
  formatTimestamp,
  parseTimespan,
  parseTimestamp,
  TimeParseError,
  TimespanError,
} from './time.js';

const NOW = 1700000000123456789n; // 2023-11-14T22:13:20.123456789Z

// Expected values below were obtained from Gnocchi 4.4.2's utils.to_timestamp.
test('parseTimestamp: epoch seconds, exact', () => {
  assert.equal(parseTimestamp('1425652437.123456789'), 1425652437123456789n);
  assert.equal(parseTimestamp(1425652437.5), 1425652437500000000n);
  assert.equal(parseTimestamp(1425652437), 1425652437000000000n);
  assert.equal(parseTimestamp('2015'), 2015000000000n); // a number first, like Gnocchi
  assert.equal(parseTimestamp('1e9'), 1000000000000000000n);
  assert.equal(parseTimestamp('  12  '), 12000000000n);
  assert.equal(parseTimestamp('.5'), 500000000n);
  assert.equal(parseTimestamp('1e-9'), 1n);
});

test('parseTimestamp: ISO 8601 forms', () => {
  assert.equal(parseTimestamp('2015-03-06T14:33:57'), 1425652437000000000n);
  assert.equal(parseTimestamp('2015-03-06T14:33:57Z'), 1425652437000000000n);
  assert.equal(parseTimestamp('2015-03-06 14:33:57'), 1425652437000000000n);
  assert.equal(parseTimestamp('2015-03-06T14:33:57+02:00'), 1425645237000000000n);
  assert.equal(parseTimestamp('2015-03-06T14:33:57+0200'), 1425645237000000000n);
  assert.equal(parseTimestamp('2015-03-06T14:33:57+02'), 1425645237000000000n);
  assert.equal(parseTimestamp('2015-03-06T14:33:57.5-05:30'), 1425672237500000000n);
  assert.equal(parseTimestamp('2015-03-06'), 1425600000000000000n);
  assert.equal(parseTimestamp('2015-03'), 1425168000000000000n);
  assert.equal(parseTimestamp('2015-03-06T14'), 1425650400000000000n);
  assert.equal(parseTimestamp('2015-03-06 14:33'), 1425652380000000000n);
  assert.equal(parseTimestamp('2015-03-06T14:33:57.123456789'), 1425652437123456789n);
  assert.equal(parseTimestamp('2015-03-06T14:33:57.123456789123'), 1425652437123456789n);
  assert.equal(parseTimestamp('2015-03-06T14:33:57.1234567'), 1425652437123456700n);
  assert.equal(parseTimestamp('2016-02-29'), 1456704000000000000n);
  assert.equal(parseTimestamp('1970-01-01T00:00:00'), 0n);
  assert.equal(parseTimestamp('2262-04-11T23:47:16.854775807'), 9223372036854775807n);
});

test('parseTimestamp: now, today and relative', () => {
  assert.equal(parseTimestamp('now', NOW), 1700000000000000000n); // numpy: second resolution
  assert.equal(parseTimestamp('NOW', NOW), 1700000000000000000n);
  assert.equal(parseTimestamp('today', NOW), 1699920000000000000n);
  assert.equal(parseTimestamp('-1 day', NOW), NOW - 86400000000000n);
  assert.equal(parseTimestamp('+2 hours', NOW), NOW + 7200000000000n);
  assert.equal(parseTimestamp('-5 minutes', NOW), NOW - 300000000000n);
  assert.equal(parseTimestamp('1 hour', NOW), NOW + 3600000000000n);
  assert.equal(parseTimestamp('-1d', NOW), NOW - 86400000000000n);
  assert.equal(parseTimestamp('-0:00:05', NOW), NOW - 5000000000n);
});

test('parseTimestamp: rejects what Gnocchi rejects', () => {
  const garbage = [
    'garbage', '1 shenanigan', '2015-13-01', '2015-02-30', '2015-3-6', '2015-03-06T24:00:00',
    '2015-03-06T23:59:60', '2015-03-06Z', '2015-03-06t14:33:57', '20150306T143357',
    '2015-03-06T14:33:57,5', '2015-03-06T14:33:57+25:00', 'nan', 'inf', '',
  ];
  for (const g of garbage) {
    assert.throws(() => parseTimestamp(g, NOW), (e: unknown) => e instanceof TimeParseError && e.message === 'Unable to convert timestamps', g);
  }
  for (const old of ['1900-01-01', '-5', -1, '2262-04-12', '1915-03-06T14:33:57']) {
    assert.throws(() => parseTimestamp(old), { name: 'TimeParseError', message: 'Timestamp must be after Epoch' });
  }
});

test('formatTimestamp: fraction only when needed', () => {
  assert.equal(formatTimestamp(1425652437000000000n), '2015-03-06T14:33:57+00:00');
  assert.equal(formatTimestamp(1425652437123456000n), '2015-03-06T14:33:57.123456+00:00');
  assert.equal(formatTimestamp(1425652437500000000n), '2015-03-06T14:33:57.500000+00:00');
  assert.equal(formatTimestamp(1425652437123456789n), '2015-03-06T14:33:57.123456789+00:00');
  assert.equal(formatTimestamp(1n), '1970-01-01T00:00:00.000000001+00:00');
  assert.equal(formatTimestamp(0n), '1970-01-01T00:00:00+00:00');
});

// Expected values from Gnocchi 4.4.2's utils.to_timespan (pytimeparse grammar).
test('parseTimespan: Gnocchi forms', () => {
  const S = 1000000000n;
  const cases: [string | number, bigint][] = [
    ['1 second', S], ['2 hours', 7200n * S], ['7s', 7n * S], ['10s', 10n * S], ['1 minute', 60n * S],
    ['0:00:03.6', 3600000000n], ['1 day, 2:00:00', 93600n * S], ['1.5 minutes', 90n * S],
    ['1.01 minutes', 60n * S], // pytimeparse truncates to whole seconds here
    ['1:30', 90n * S], ['1w2d', 777600n * S], ['5 days 3h', 442800n * S], ['1 min 3.5 sec', 63500000000n],
    [':22', 22n * S], ['1:02:03:04', 93784n * S], ['2 weeks, 3 days, 1:00:00', 1472400n * S],
    ['1h/30m', 5400n * S], ['1 hr', 3600n * S], [300, 300n * S], ['60', 60n * S], ['0.1', 100000000n],
    ['1e-9', 1n], [' 5 ', 5n * S],
  ];
  for (const [input, expected] of cases) assert.equal(parseTimespan(input), expected, String(input));
});

test('parseTimespan: errors', () => {
  assert.throws(() => parseTimespan('1 shenanigan'), (e: unknown) => e instanceof TimespanError && e.message === 'Unable to parse timespan');
  assert.throws(() => parseTimespan('foobar'), { message: 'Unable to parse timespan' });
  for (const bad of ['- 1 minute', '-5', 0, '0', '0.0000000005']) {
    assert.throws(() => parseTimespan(bad), { name: 'TimespanError', message: 'Timespan must be positive' }, String(bad));
  }
});

test('formatTimespan: like Python timedelta str()', () => {
  const S = 1000000000n;
  assert.equal(formatTimespan(S), '0:00:01');
  assert.equal(formatTimespan(3600000000n), '0:00:03.600000');
  assert.equal(formatTimespan(3600n * S), '1:00:00');
  assert.equal(formatTimespan(86400n * S), '1 day, 0:00:00');
  assert.equal(formatTimespan(2n * 86400n * S + 3600n * S), '2 days, 1:00:00');
  assert.equal(formatTimespan(3598n * S), '0:59:58');
  assert.equal(formatTimespan(365n * 86400n * S), '365 days, 0:00:00');
  assert.equal(formatTimespan(-S), '-1 day, 23:59:59');
  // Sub-microsecond durations keep their nanoseconds rather than rounding to 0:00:00.
  assert.equal(formatTimespan(1n), '0:00:00.000000001');
  assert.equal(formatTimespan(1500n), '0:00:00.000001500');
  assert.equal(formatTimespan(2500n), '0:00:00.000002500');
  assert.equal(formatTimespan(1000n), '0:00:00.000001');
});

test('SeriesTimestampFormatter writes what formatTimestamp writes, in any order', () => {
  const f = new SeriesTimestampFormatter();
  const samples: bigint[] = [0n, -1n, 1n, 86_399_999_999_999n, 86_400_000_000_000n, -86_400_000_000_001n,
    1_704_067_200_000_000_000n, 1_704_067_200_123_456_000n, 1_704_067_200_000_000_001n, -62_135_596_800_000_000_000n,
    253_402_300_799_999_999_999n];
  // Ascending 1 s steps across a day boundary, then random instants (sub-second parts too).
  for (let i = 0n; i < 5000n; i++) samples.push(1_704_153_590_000_000_000n + i * 1_000_000_000n);
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 5000; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    samples.push((x % 400_000_000_000_000_000_000n) - 100_000_000_000_000_000_000n);
  }
  for (const t of samples) assert.equal(f.format(t), formatTimestamp(t), `t=${t}`);
});
