import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTimestamp, pyFloatJson, TimeZone } from '@tally/timeseries';
import { measuresBody, measuresJson } from './read.js';

const S = 1_000_000_000n;

function series(ts: bigint[], values: number[], granularity: bigint[] = ts.map(() => S)) {
  return { ts: BigInt64Array.from(ts), granularity: BigInt64Array.from(granularity), values: Float64Array.from(values) };
}

/** The byte writer must give exactly the generic text (itself checked against Gnocchi's suites). */
function same(r: ReturnType<typeof series>, label: string): void {
  const body = measuresBody(r);
  assert.ok(Buffer.isBuffer(body), 'UTC reads take the byte path');
  assert.equal((body as Buffer).toString('latin1'), measuresJson(r), label);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('UTC series bytes equal the generic text: values', () => {
  const t0 = 1_704_067_200n * S; // 2024-01-01
  const values = [
    0, -0, 1, -1, 12.5, 0.1, 0.2 + 0.1, 1 / 3, -2.675, 100.001, 1e-4, 9.9e-5, 1.5e-7, 123456789.123, 1e15, 999999999999999.9,
    1e16, 2 ** 53, -(2 ** 53) - 2, 1e21, 5e-324, Number.MAX_VALUE, -Number.MIN_VALUE, 0.000123, 1234.5678901, 42.10,
    NaN, Infinity, -Infinity, 3.14159265358979, 1e-10, 0.5, 7.000000001,
  ];
  same(series(values.map((_, i) => t0 + BigInt(i) * S), values), 'special values');
  const r = rng(7);
  for (const scale of [0, 1, 2, 3, 6, 9]) {
    let x = 100;
    const walk = Array.from({ length: 2000 }, () => {
      x += Math.round((r() - 0.5) * 2 * 10 ** scale) / 10 ** scale;
      return Math.round(x * 10 ** scale) / 10 ** scale;
    });
    same(series(walk.map((_, i) => t0 + BigInt(i) * S), walk), `random walk at scale ${scale}`);
  }
  const noise = Array.from({ length: 2000 }, () => (r() - 0.5) * 10 ** Math.floor(r() * 30 - 15));
  same(series(noise.map((_, i) => t0 + BigInt(i) * S), noise), 'full-precision noise over 30 decades');
});

test('UTC series bytes write every value as pyFloatJson does', () => {
  const r = rng(11);
  const view = new DataView(new ArrayBuffer(8));
  const u32 = (): number => Math.floor(r() * 2 ** 32);
  const bits = (hi: number, lo: number): number => {
    view.setUint32(0, hi);
    view.setUint32(4, lo);
    return view.getFloat64(0);
  };
  const values = [
    0, -0, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53) + 1,
    1e16, 9999999999999998, 1e15, 1e15 - 0.5, 999999999999999.9, 1e-5, 1e-4, 0.0001, 0.00009999999999999999, 1e-7,
    1e22, 1.5e300, 0.00005, Number('123456789012345678'), NaN, Infinity, -Infinity,
  ];
  for (let i = 0; i < 20_000; i++) values.push(bits(u32(), u32()));
  for (let i = 0; i < 2_000; i++) values.push(bits(u32() & 0x800fffff, u32()));
  for (let i = 0; i < 20_000; i++) {
    // Short decimals at the scales the writer's shortcut covers, and beyond them.
    const digits = 1 + Math.floor(r() * 17);
    const exp = -Math.floor(r() * 12) + (i % 4 === 0 ? Math.floor(r() * 30) : 0);
    values.push((r() < 0.5 ? -1 : 1) * Number(`${Math.floor(r() * 10 ** digits)}e${exp}`));
  }
  const t0 = 1_704_067_200n * S;
  const ts = values.map((_, i) => t0 + BigInt(i) * S);
  const body = measuresBody(series(ts, values));
  assert.ok(Buffer.isBuffer(body));
  const text = (body as Buffer).toString('latin1');
  const expected = '[' + values.map((v, i) => `["${formatTimestamp(ts[i])}", 1.0, ${pyFloatJson(v)}]`).join(', ') + ']';
  if (text !== expected) {
    const got = text.slice(1, -1).split('], [');
    const want = expected.slice(1, -1).split('], [');
    const i = got.findIndex((p, k) => p !== want[k]);
    assert.equal(got[i], want[i], `value ${values[i]}`);
  }
});

test('UTC series bytes equal the generic text: timestamps and granularities', () => {
  const points = (ts: bigint[]) => series(ts, ts.map((_, i) => i * 0.5));
  // Days, years, leap days, before 1970, sub-second fractions (µs and ns), long spans.
  same(points(Array.from({ length: 3000 }, (_, i) => 1_582_934_400n * S + BigInt(i) * 97n * S)), 'across 2020-02-29');
  same(points([-1n, 0n, 1n, 999n, 1000n, S - 1n, S, -S, -S - 1n, -86_400n * S - 1n]), 'around the epoch');
  same(points([-62_135_596_800n * S, 253_402_300_799n * S]), 'year 1 and 9999, far apart');
  same(points(Array.from({ length: 500 }, (_, i) => 1_700_000_000n * S + BigInt(i) * 1_234_567_891n)), 'ns fractions');
  same(points(Array.from({ length: 500 }, (_, i) => 1_700_000_000n * S + BigInt(i) * 1_500_000n)), 'ms fractions');
  same(points([1_700_000_000n * S, 1_700_000_000n * S + 2n ** 53n + 5n, 1_700_000_000n * S + 2n ** 60n]), 'offsets beyond 2^53 ns');
  const ts = Array.from({ length: 30 }, (_, i) => 1_700_000_000n * S + BigInt(i % 10) * 60n * S);
  const g = Array.from({ length: 30 }, (_, i) => (i < 10 ? 60n * S : i < 20 ? 3600n * S : S / 2n));
  same(series(ts, ts.map((_, i) => i), g), 'several granularities, one after the other');
  same(series([], []), 'empty');
});

test('other time zones and calendar groupings keep the generic text', () => {
  const r = series([1_700_000_000n * S], [1.5]);
  assert.equal(typeof measuresBody(r, TimeZone.of('Europe/Paris')), 'string');
  assert.equal(typeof measuresBody({ ...r, calendar: 'M' }), 'string');
});
