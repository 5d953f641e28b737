// Shared benchmark harness: for each dataset prints bytes/point, encode/decode MB/s
// (MB of raw input: 16 bytes per point, an int64 timestamp plus a float64) and the
// same-run references: raw float64 arrays and node:zlib deflate of those arrays.

import { deflateSync } from 'node:zlib';
import { datasets, type Dataset } from './datasets.js';

export interface Codec {
  encode(ds: Dataset): Uint8Array;
  /** Decodes and returns something derived from the output so the work is not elided. */
  decode(b: Uint8Array, ds: Dataset): number;
}

/** Raw columns as the engine would hold them: ns timestamps (1 s apart) and values. */
function rawBytes(ds: Dataset): Uint8Array {
  const n = ds.positions.length;
  const ts = new BigInt64Array(n);
  const t0 = 1_700_000_000_000_000_000n;
  for (let i = 0; i < n; i++) ts[i] = t0 + BigInt(ds.positions[i]) * 1_000_000_000n;
  const out = new Uint8Array(n * 16);
  out.set(new Uint8Array(ts.buffer), 0);
  out.set(new Uint8Array(ds.values.buffer, ds.values.byteOffset, n * 8), n * 8);
  return out;
}

/** Run `fn` repeatedly for ~`ms` milliseconds; returns seconds per call. */
function time(fn: () => void, ms = 150): number {
  fn();
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    fn();
    calls++;
    now = performance.now();
  }
  return (now - start) / 1000 / calls;
}

export function runBench(title: string, codec: Codec, sets: Dataset[] = datasets()): void {
  console.log(`\n== ${title} (3600-point splits; MB/s of 16 B/point raw input)`);
  console.log(
    ['dataset'.padEnd(34), 'B/pt', 'enc MB/s', 'dec MB/s', 'zlib B/pt', 'zlib enc MB/s', 'vs raw', 'vs zlib'].join('  '),
  );
  let sink = 0;
  for (const ds of sets) {
    const n = ds.positions.length;
    const rawMB = (n * 16) / 1e6;
    const b = codec.encode(ds);
    const tEnc = time(() => {
      sink += codec.encode(ds).length;
    });
    const tDec = time(() => {
      sink += codec.decode(b, ds);
    });
    const raw = rawBytes(ds);
    const z = deflateSync(raw);
    const tZ = time(() => {
      sink += deflateSync(raw).length;
    });
    const bpp = b.length / n;
    console.log(
      [
        ds.name.padEnd(34),
        bpp.toFixed(3).padStart(5),
        (rawMB / tEnc).toFixed(0).padStart(8),
        (rawMB / tDec).toFixed(0).padStart(8),
        (z.length / n).toFixed(3).padStart(9),
        (rawMB / tZ).toFixed(0).padStart(13),
        `${(16 / bpp).toFixed(1)}x`.padStart(6),
        `${(z.length / b.length).toFixed(2)}x`.padStart(7),
      ].join('  '),
    );
  }
  if (sink === 0.5) console.log(sink);
}
