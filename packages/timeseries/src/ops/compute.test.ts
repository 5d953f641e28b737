// computeAggregates against results produced by Gnocchi 4.4.2's own processor
// (testdata/gen-cases.py): values must be bit-identical, NaN where Gnocchi has NaN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignSeries, computeAggregates, type SeriesInput } from './compute.js';
import { parseOperations } from './schema.js';
import { UnaggregableError } from './evaluate.js';
import { GNOCCHI_CASES, type GnocchiCase } from './testdata/gnocchi-cases.js';

const BASE = 1425652437n * 1_000_000_000n;
const S = 1_000_000_000n;

function inputsOf(c: GnocchiCase): SeriesInput[] {
  return c.inputs.map(([id, agg, g, pts]) => ({
    key: [id, agg] as const,
    granularity: BigInt(g) * S,
    series: {
      ts: BigInt64Array.from(pts.map(([t]) => BASE + BigInt(t) * S)),
      values: Float64Array.from(pts.map(([, v]) => v)),
    },
  }));
}

type Triple = [number, number, number | string];

function asTriples(ts: BigInt64Array, g: bigint, values: Float64Array): Triple[] {
  return Array.from(ts, (t, i): Triple => {
    const v = values[i];
    return [Number(t), Number(g / S), Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v];
  });
}

function run(c: GnocchiCase): unknown {
  const op = parseOperations(c.ops);
  const inputs = inputsOf(c);
  const q = {
    fill: c.fill,
    neededOverlap: c.overlap,
    start: c.start === null ? undefined : BASE + BigInt(c.start) * S,
    stop: c.stop === null ? undefined : BASE + BigInt(c.stop) * S,
  };
  try {
    const r = computeAggregates(op, inputs, q);
    if (r.aggregated) {
      return { ok: { aggregated: r.groups.flatMap((g) => asTriples(g.series[0].ts, g.granularity, g.series[0].values)) } };
    }
    const out: Record<string, Record<string, Triple[]>> = {};
    for (const g of r.groups) {
      g.inputs.forEach((idx, i) => {
        const [id, agg] = inputs[idx].key;
        ((out[id] ??= {})[agg] ??= []).push(...asTriples(g.series[i].ts, g.granularity, g.series[i].values));
      });
    }
    return { ok: out };
  } catch (e) {
    if (e instanceof UnaggregableError) return { error: e.reason, detail: e.detail };
    throw e;
  }
}

/**
 * numpy's float64 sin/cos/tan use CPU-dependent SIMD code (up to 4 ulp off), V8 uses
 * fdlibm: those cases allow 4 ulps, there is no single bit-exact answer to match.
 */
const TRIG_CASES = new Set(['unary cos', 'unary sin', 'unary tan']);

function withinFourUlps(a: unknown, b: unknown): boolean {
  if (typeof a !== 'number' || typeof b !== 'number') return JSON.stringify(a) === JSON.stringify(b);
  if (a === b) return true;
  const buf = new Float64Array([a, b]);
  const bits = new BigInt64Array(buf.buffer);
  const d = bits[0] - bits[1];
  return d <= 4n && d >= -4n;
}

function sameWithinUlps(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(actual) && Array.isArray(expected)) {
    return actual.length === expected.length && actual.every((x, i) => sameWithinUlps(x, expected[i]));
  }
  if (typeof actual === 'object' && actual !== null && typeof expected === 'object' && expected !== null) {
    const ka = Object.keys(actual);
    return ka.length === Object.keys(expected).length &&
      ka.every((k) => sameWithinUlps((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k]));
  }
  return withinFourUlps(actual, expected);
}

for (const c of GNOCCHI_CASES) {
  test(`gnocchi case: ${c.name}`, () => {
    // Timestamps are compared as numbers (ns fit a double exactly at these values' precision).
    const expected = JSON.parse(JSON.stringify(c.expected)) as unknown;
    const actual = JSON.parse(JSON.stringify(run(c))) as unknown;
    if (TRIG_CASES.has(c.name)) assert.ok(sameWithinUlps(actual, expected), JSON.stringify(actual));
    else assert.deepEqual(actual, expected);
  });
}

/** The outer join spelled out with a Map: what alignSeries must give on any input. */
function naiveAlign(all: { ts: BigInt64Array; values: Float64Array }[], filler: number): { ts: bigint[]; columns: number[][] } {
  const ts = [...new Set(all.flatMap((s) => [...s.ts]))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const columns = all.map((s) => {
    const at = new Map([...s.ts].map((t, i) => [t, s.values[i]]));
    return ts.map((t) => at.get(t) ?? filler);
  });
  return { ts, columns };
}

test('alignSeries: series sharing their timestamps, views of larger arrays, and timestamps differing in either word', () => {
  const n = 50;
  const ts = BigInt64Array.from({ length: n }, (_, i) => BASE + BigInt(i) * 60n * S);
  const vals = (k: number) => Float64Array.from({ length: n }, (_, i) => i * 10 + k);
  // A view at an offset into a larger buffer, with the same timestamps.
  const bigTs = new BigInt64Array(n + 3);
  bigTs.set(ts, 3);
  const bigVals = new Float64Array(n + 3);
  bigVals.set(vals(2), 3);
  const same = [{ ts, values: vals(0) }, { ts: ts.slice(), values: vals(1) }, { ts: bigTs.subarray(3), values: bigVals.subarray(3) }];
  // One timestamp moved by 2^32 ns (high word only) and one by 1 ns (low word only).
  const high = ts.slice();
  high[10] += 1n << 32n;
  const low = ts.slice();
  low[20] += 1n;
  const shorter = ts.slice(0, n - 5);
  for (const all of [same, [...same, { ts: high, values: vals(3) }], [...same, { ts: low, values: vals(4) }], [same[0], { ts: shorter, values: vals(5).subarray(0, n - 5) }]]) {
    const a = alignSeries(all, -1);
    const want = naiveAlign(all, -1);
    assert.deepEqual([...a.ts], want.ts);
    assert.deepEqual(a.columns.map((c) => [...c]), want.columns);
    // The columns are the caller's: not the inputs' arrays.
    for (const [i, c] of a.columns.entries()) assert.notEqual(c.buffer, all[i].values.buffer);
  }
});
