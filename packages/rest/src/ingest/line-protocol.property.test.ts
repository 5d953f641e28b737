import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareCodePoints, LineProtocolError, parseLineProtocol, PRECISIONS } from './line-protocol.js';

const NOW = 1_600_000_000_000_000_000n;
const INT64_MAX = 2n ** 63n - 1n;
const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);
const bitsOf = (v: number): bigint => ((F64[0] = v), U64[0]);

/** Names with the characters that need escaping (space, comma, equals) and some that do not. */
const name = fc.string({ unit: fc.constantFrom(...'abcxyz019_.-/ ,=', 'é', '☃'), minLength: 1, maxLength: 8 });
const escape = (s: string): string => s.replace(/[ ,=]/g, (c) => `\\${c}`);
/** The shortest text that reads back as `v`, -0 included. */
const numberText = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));
const finite = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -(2 ** 53), max: 2 ** 53 }),
  fc.constantFrom(-0, 5e-324, -Number.MAX_VALUE, 0.1, 1e21, 123456789012345.6),
);

interface Point {
  measurement: string;
  tags: [string, string][];
  host: string;
  fields: [string, number, boolean][]; // key, value, written as an integer ("i")
  ts: bigint | null; // in precision units
}

const precision = fc.constantFrom(...Object.keys(PRECISIONS));
const point = (scale: bigint): fc.Arbitrary<Point> =>
  fc.record({
    measurement: name,
    tags: fc.uniqueArray(fc.tuple(name.filter((k) => k !== 'host'), name), { maxLength: 3, selector: ([k]) => k }),
    host: name,
    fields: fc.uniqueArray(fc.tuple(name, finite, fc.boolean()), { minLength: 1, maxLength: 3, selector: ([k]) => k }),
    ts: fc.option(fc.oneof(fc.bigInt(0n, INT64_MAX / scale), fc.constant(INT64_MAX / scale)), { nil: null }),
  });

function scaleOf(p: string): bigint {
  return PRECISIONS[p].reduce((a, f) => a * BigInt(f), 1n);
}

test('line protocol: any points (escaped names, tags, float and integer fields, timestamps in any precision) read back exactly', () => {
  const input = precision.chain((p) => fc.tuple(fc.constant(p), fc.array(point(scaleOf(p)), { minLength: 1, maxLength: 8 })));
  fc.assert(
    fc.property(input, ([p, points]) => {
      const lines = points.map((pt) => {
        const tags = [...pt.tags, ['host', pt.host] as [string, string]].map(([k, v]) => `,${escape(k)}=${escape(v)}`).join('');
        const fields = pt.fields.map(([k, v, asInt]) => `${escape(k)}=${asInt && Number.isInteger(v) && !Object.is(v, -0) ? `${BigInt(v)}i` : numberText(v)}`).join(',');
        return `${escape(pt.measurement)}${tags} ${fields}${pt.ts === null ? '' : ` ${pt.ts}`}`;
      });
      const parsed = parseLineProtocol(lines.join('\n'), { tagResourceId: 'host', precision: PRECISIONS[p], now: NOW });
      const expected = new Map<string, Map<string, [bigint, bigint][]>>();
      for (const pt of points) {
        const keys = pt.tags.map(([k]) => k).sort(compareCodePoints);
        const tagMap = new Map(pt.tags);
        const suffix = keys.length ? '@' + keys.map((k) => `${k}=${tagMap.get(k)}`).join(',') : '';
        for (const [k, v] of pt.fields) {
          const metric = `${pt.measurement}.${k}${suffix}`.replace(/\//g, '_');
          const r = expected.get(pt.host) ?? new Map<string, [bigint, bigint][]>();
          expected.set(pt.host, r);
          const col = r.get(metric) ?? [];
          r.set(metric, col);
          col.push([pt.ts === null ? NOW : pt.ts * scaleOf(p), bitsOf(v)]);
        }
      }
      const got = new Map([...parsed].map(([res, ms]) => [res, new Map([...ms].map(([m, c]) => {
        const { ts, values } = c.measures();
        return [m, [...ts].map((t, i): [bigint, bigint] => [t, bitsOf(values[i])])];
      }))]));
      assert.deepEqual(got, expected);
    }),
    { numRuns: 300 },
  );
});

test('line protocol: a timestamp past int64 once scaled is a parse error, not a wrapped time', () => {
  fc.assert(
    fc.property(precision, fc.bigInt(1n, 2n ** 70n), (p, extra) => {
      const ts = INT64_MAX / scaleOf(p) + extra;
      assert.throws(() => parseLineProtocol(`m,host=h f=1 ${ts}`, { tagResourceId: 'host', precision: PRECISIONS[p], now: NOW }), LineProtocolError);
    }),
    { numRuns: 200 },
  );
});

test('line protocol: any text parses or throws LineProtocolError', () => {
  const valid = 'cpu,host=a,dc=x\\ y usage=1.5,idle=2i,ok=true,s="a \\"b\\"" 1600000000000000000\n# comment\nmem,host="q,r" f=-0 ';
  const text = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.string({ unit: fc.constantFrom(...'ab,= \\"#\n\t\r0123456789.eEiu+-'), maxLength: 80 }),
    fc.tuple(fc.nat({ max: valid.length }), fc.nat({ max: 4 }), fc.string({ unit: fc.constantFrom(...',= \\"\n0i.'), maxLength: 3 })).map(
      ([at, del, ins]) => valid.slice(0, at) + ins + valid.slice(at + del),
    ),
  );
  fc.assert(
    fc.property(text, fc.constantFrom('host', 'dc'), (s, tag) => {
      try {
        const parsed = parseLineProtocol(s, { tagResourceId: tag, now: NOW });
        for (const metrics of parsed.values()) {
          for (const col of metrics.values()) {
            const { ts, values } = col.measures();
            assert.equal(ts.length, values.length);
            for (const v of values) assert.ok(Number.isFinite(v));
            for (const t of ts) assert.ok(t >= 0n);
          }
        }
      } catch (err) {
        if (!(err instanceof LineProtocolError)) throw err;
      }
    }),
    { numRuns: 500 },
  );
});
