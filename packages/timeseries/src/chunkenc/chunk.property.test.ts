import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MeasuresChunk, MeasuresIterator, SplitChunk, SplitIterator, type ValueCodec } from './chunk.js';
import { findScale } from './decimal.js';
import { assertSameBits, decodesOrRejects, doubleColumn, mutated, timestampColumn } from './properties.js';

/** The codecs a column can be coded with: XOR and IEEE always, decimal when it applies. */
function codecsFor(values: Float64Array): ValueCodec[] {
  const s = findScale(values);
  const codecs: ValueCodec[] = [{ kind: 'xor' }, { kind: 'ieee' }];
  if (s >= 0) codecs.push({ kind: 'decimal', scale: s, order: 1 }, { kind: 'decimal', scale: s, order: 2 });
  return codecs;
}

test('chunks: appended points iterate back bit for bit with every applicable codec', () => {
  fc.assert(
    fc.property(timestampColumn(120), doubleColumn(120), (ts0, values0) => {
      const n = Math.min(ts0.length, values0.length);
      const ts = ts0.subarray(0, n);
      const values = values0.subarray(0, n);
      const positions = Array.from(ts, (t) => Number(BigInt.asUintN(32, t)));
      for (const codec of codecsFor(values)) {
        const m = new MeasuresChunk(codec);
        const s = new SplitChunk(codec);
        for (let i = 0; i < n; i++) {
          m.append(ts[i], values[i]);
          s.append(positions[i], values[i]);
        }
        assert.equal(m.numPoints(), n);
        const mi = new MeasuresIterator(m.bytes());
        const si = new SplitIterator(s.bytes());
        const got = new Float64Array(n);
        const gotS = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          assert.ok(mi.next() && si.next());
          assert.equal(mi.ts(), ts[i]);
          assert.equal(si.position, positions[i]);
          got[i] = mi.value;
          gotS[i] = si.value;
        }
        assert.ok(!mi.next() && !si.next());
        assertSameBits(got, values);
        assertSameBits(gotS, values);
      }
    }),
    { numRuns: 150 },
  );
});

test('chunks: iterating mutated chunks yields points or CorruptDataError', () => {
  const m = new MeasuresChunk({ kind: 'decimal', scale: 1, order: 2 });
  const s = new SplitChunk({ kind: 'xor' });
  for (let i = 0; i < 50; i++) {
    m.append(BigInt(i) * 1_000_000_000n, i / 10);
    s.append(i * 2, Math.sqrt(i));
  }
  fc.assert(
    fc.property(fc.oneof(mutated(m.bytes()), mutated(s.bytes())), (b) => {
      for (const make of [(x: Uint8Array) => new MeasuresIterator(x), (x: Uint8Array) => new SplitIterator(x)]) {
        decodesOrRejects(() => {
          const it = make(b);
          for (let i = 0; i < 1000 && it.next(); i++);
        });
      }
    }),
    { numRuns: 300 },
  );
});
