import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseTimestamp } from '@tally/timeseries';
import { MeasuresError, parseMeasures } from './measures.js';

/** What the general parser makes of one timestamp: its value or its error message. */
function general(t: string): bigint | string {
  try {
    const v = parseTimestamp(t);
    return v < 0n ? 'negative' : v;
  } catch (e) {
    return (e as Error).message;
  }
}

function viaMeasures(t: string): bigint | string {
  try {
    return parseMeasures([{ timestamp: t, value: 1 }]).ts[0];
  } catch (e) {
    assert.ok(e instanceof MeasuresError);
    return e.reason;
  }
}

test('the ISO fast path gives exactly what the general timestamp parser gives', () => {
  const cases = [
    '2024-01-01T00:00:00', '2024-01-01T23:59:59', '2024-02-29T12:00:00', '2023-02-29T12:00:00',
    '2024-13-01T00:00:00', '2024-01-01T24:00:00', '2024-01-01T23:60:00', '2024-01-01T23:59:60',
    '1970-01-01T00:00:00', '1969-12-31T23:59:59', '2262-04-11T23:47:16', '2262-04-11T23:47:17',
    '2261-12-31T23:59:59Z', '9999-12-31T23:59:59', '2024-01-01T00:00:00Z', '2024-01-01T00:0a:00',
    '2024-01-01 00:00:00', '2024-01-01T00:00:00.5', '2024-01-01T00:00:00+01:00', '+024-01-01T00:00:00',
    '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.123456789123456789', '2024-01-01T00:00:00.1234567891234567891',
    '2024-01-01T00:00:00.', '2024-01-01T00:00:00.Z', '2024-01-01T00:00:00+0530', '2024-01-01T00:00:00-05',
    '2024-01-01T00:00:00+24:00', '2024-01-01T00:00:00+01:60', '2024-01-01T00:00:00+1', '2024-01-01T00:00:00+01:0',
    '1970-01-01T00:30:00+01:00', '1970-01-01T00:00:00.5-00:01', '2024-01-01T00:00:00Z ', '2024-01-01T00:00:00ZZ',
  ];
  for (const t of cases) {
    const g = general(t);
    const m = viaMeasures(t);
    if (typeof g === 'bigint') assert.equal(m, g, t);
    else assert.equal(typeof m, 'string', `${t} must be refused, got ${String(m)}`);
  }
  // A whole day of seconds, and dates changing within one list.
  const list = [];
  for (let s = 0; s < 86_400 + 10; s += 7) {
    const d = new Date(Date.UTC(2024, 1, 28, 0, 0, s)).toISOString().slice(0, 19);
    list.push({ timestamp: d, value: s });
  }
  const parsed = parseMeasures(list);
  list.forEach((m, i) => assert.equal(parsed.ts[i], parseTimestamp(m.timestamp), m.timestamp));
});

test('the ISO fast path agrees with the general parser on generated timestamps with fractions and offsets', () => {
  const d2 = (n: number): string => String(n).padStart(2, '0');
  const stamp = fc.record({
    y: fc.integer({ min: 1968, max: 2263 }), mo: fc.integer({ min: 0, max: 13 }), d: fc.integer({ min: 0, max: 32 }),
    h: fc.integer({ min: 0, max: 24 }), mi: fc.integer({ min: 0, max: 60 }), s: fc.integer({ min: 0, max: 60 }),
    frac: fc.option(fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 20 }), { nil: undefined }),
    zone: fc.oneof(fc.constant(''), fc.constant('Z'),
      fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.constantFrom(':', '', 'none'))
        .map(([sign, zh, zm, sep]) => `${sign}${d2(zh)}${sep === 'none' ? '' : `${sep}${d2(zm)}`}`)),
  }).map((r) => `${r.y}-${d2(r.mo)}-${d2(r.d)}T${d2(r.h)}:${d2(r.mi)}:${d2(r.s)}${r.frac === undefined ? '' : `.${r.frac}`}${r.zone}`);
  fc.assert(fc.property(stamp, (t) => {
    const g = general(t);
    const m = viaMeasures(t);
    if (typeof g === 'bigint') assert.equal(m, g, t);
    else assert.equal(typeof m, 'string', `${t} must be refused, got ${String(m)}`);
  }), { numRuns: 3000 });
});

test('a list mixing the fast form with epoch seconds is refused as Gnocchi refuses it', () => {
  assert.throws(() => parseMeasures([{ timestamp: '2024-01-01T00:00:00', value: 1 }, { timestamp: 1704067200, value: 2 }]),
    (e: unknown) => e instanceof MeasuresError && /Unable to convert timestamps/.test(e.reason));
  assert.throws(() => parseMeasures([{ timestamp: 1704067200, value: 2 }, { timestamp: '2024-01-01T00:00:00', value: 1 }]),
    (e: unknown) => e instanceof MeasuresError && /Unable to convert timestamps/.test(e.reason));
  assert.throws(() => parseMeasures([{ timestamp: '2024-01-01T00:00:00', value: Number.NaN }]), MeasuresError);
  assert.equal(parseMeasures([{ timestamp: '2024-01-01T00:00:00', value: '2.5' }]).values[0], 2.5);
});
