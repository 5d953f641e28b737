// The byte parser of measures bodies against the general path (JSON.parse, then
// parseMeasures): whatever the byte parser accepts, the general path accepts too, with the
// same timestamps and values, bit for bit; bodies it refuses go to the general path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Measures } from '@tally/timeseries';
import { parseMeasures } from '../measures.js';
import { fastBatchMeasures, fastMeasuresList } from './measures-json.js';

const F64 = new Float64Array(1);
const BITS = new BigUint64Array(F64.buffer);
const bitsOf = (v: number): bigint => ((F64[0] = v), BITS[0]);

function general(text: string): Measures | null {
  try {
    return parseMeasures(JSON.parse(text) as unknown, 0n);
  } catch {
    return null;
  }
}

function assertSame(got: Measures, want: Measures, body: string): void {
  assert.deepEqual([...got.ts], [...want.ts], body);
  assert.deepEqual([...got.values].map(bitsOf), [...want.values].map(bitsOf), body);
}

const ws = fc.constantFrom('', ' ', '\n', '\t', ' \r\n  ');

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const isoTimestamp = fc
  .record({
    y: fc.integer({ min: 1965, max: 2265 }), mo: fc.integer({ min: 0, max: 13 }), d: fc.integer({ min: 0, max: 32 }),
    h: fc.integer({ min: 0, max: 24 }), mi: fc.integer({ min: 0, max: 60 }), s: fc.integer({ min: 0, max: 60 }),
    frac: fc.option(fc.stringMatching(/^[0-9]{0,20}$/), { nil: undefined }),
    zone: fc.constantFrom('', 'Z', '+01:00', '-05:30', '+0530', '+02', '-23:59', '+24:00', 'z', ' '),
  })
  .map(({ y, mo, d, h, mi, s, frac, zone }) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${frac === undefined ? '' : `.${frac}`}${zone}`);

const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? '-0' : JSON.stringify(v))),
  fc.integer({ min: -(2 ** 53), max: 2 ** 53 }).map(String),
  fc.stringMatching(/^-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,4})?$/),
  fc.constantFrom('1e999', '-1e400', '0.1', '1E+2', '1e-7', '123456789012345678', '0.0000001', '5e-324', '1e0000001', '01', '1.', '.5', '+1', '-'),
);

const measure = fc
  .record({ t: isoTimestamp, v: numberText, valueFirst: fc.boolean(), a: ws, b: ws, c: ws })
  .map(({ t, v, valueFirst, a, b, c }) => {
    const tp = `"timestamp"${a}:${b}"${t}"`;
    const vp = `"value"${b}:${c}${v}`;
    return `{${a}${valueFirst ? vp : tp}${b},${c}${valueFirst ? tp : vp}${a}}`;
  });

const list = fc.tuple(fc.array(measure, { maxLength: 12 }), ws).map(([ms, w]) => `[${w}${ms.join(`${w},`)}${w}]`);

test('a measures list the byte parser reads is read the same by JSON.parse and parseMeasures', () => {
  let fast = 0;
  fc.assert(
    fc.property(list, ws, (body, w) => {
      const text = `${w}${body}${w}`;
      const got = fastMeasuresList(Buffer.from(text));
      const want = general(text);
      if (got === null) return;
      fast++;
      assert.notEqual(want, null, `the byte parser accepted what the general path refuses: ${text}`);
      assertSame(got, want as Measures, text);
    }),
    { numRuns: 3000 },
  );
  // The property says nothing if the byte parser refuses everything.
  assert.ok(fast > 300, `only ${fast} bodies took the byte path`);
});

test('a mutated body is either refused by the byte parser or read as the general path reads it', () => {
  fc.assert(
    fc.property(list, fc.nat(), fc.constantFrom('', ',', '"', '\\', '{', '}', ']', ' ', '0', 'e', '-', '.', 'é', '\u0000'), (body, at, insert) => {
      const i = at % (body.length + 1);
      const text = body.slice(0, i) + insert + body.slice(i + (insert === '' ? 1 : 0));
      const got = fastMeasuresList(Buffer.from(text));
      if (got === null) return;
      const want = general(text);
      assert.notEqual(want, null, `the byte parser accepted what the general path refuses: ${text}`);
      assertSame(got, want as Measures, text);
    }),
    { numRuns: 3000 },
  );
});

test('forms left to the general path: escapes, extra or repeated keys, strings as values, epoch timestamps, trailing garbage', () => {
  const ok = '{"timestamp": "2024-01-01T00:00:00", "value": 1}';
  assert.notEqual(fastMeasuresList(Buffer.from(`[${ok}]`)), null);
  for (const body of [
    '[{"timestamp": "2024-01-01T00:00:0\\u0030", "value": 1}]',
    '[{"timestamp": "2024-01-01T00:00:00", "value": 1, "x": 2}]',
    '[{"timestamp": "2024-01-01T00:00:00", "timestamp": "2024-01-01T00:00:01", "value": 1}]',
    '[{"timestamp": "2024-01-01T00:00:00", "value": "1"}]',
    '[{"timestamp": 1704067200, "value": 1}]',
    '[{"timestamp": "2024-01-01 00:00:00", "value": 1}]',
    '[{"timestamp": "1969-12-31T23:59:59", "value": 1}]',
    `[${ok}] x`,
    `[${ok},]`,
    '[{"timestamp": "2024-01-01T00:00:00", "value": 1e999}]',
  ]) {
    assert.equal(fastMeasuresList(Buffer.from(body)), null, body);
  }
});

test('batch bodies: every list read as the general path reads it, in order; unusual keys left to the general path', () => {
  const a = '0b4e6a4e-1d1c-4b5b-8f6e-3f3b2a1c0d9e';
  const b = 'f0e1d2c3-b4a5-4968-8776-655443322110';
  const lists = [
    '[{"timestamp": "2024-01-01T00:00:00.5Z", "value": 1.25}]',
    '[{"value": -0, "timestamp": "2024-02-29T23:59:59+01:00"}, {"timestamp": "2024-03-01T00:00:00", "value": 3e2}]',
  ];
  const got = fastBatchMeasures(Buffer.from(` {"${a}": ${lists[0]},\n"${b}":${lists[1]}} `));
  assert.ok(got !== null);
  assert.deepEqual([...got.keys()], [a, b]);
  assertSame(got.get(a)!, general(lists[0])!, lists[0]);
  assertSame(got.get(b)!, general(lists[1])!, lists[1]);
  assert.equal(fastBatchMeasures(Buffer.from('{}'))?.size, 0);
  for (const body of [
    `{"${a.toUpperCase()}": []}`,
    `{"{${a}}": []}`,
    `{"${a}": [], "${a}": []}`,
    '{"__proto__": []}',
    `{"${a}": [] }}`,
    `[{"${a}": []}]`,
  ]) {
    assert.equal(fastBatchMeasures(Buffer.from(body)), null, body);
  }
});
