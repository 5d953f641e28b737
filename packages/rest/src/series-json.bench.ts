// Writing a read's points as JSON: the byte writer (utcSeriesChunks) against the generic text
// path (measuresJson) measured in the same run, for 10 000 points of four kinds of values.
// The machine is shared and noisy: the two alternate, and the median of seven rounds is printed.
// node packages/rest/dist/series-json.bench.js
import { measuresBody, measuresJson } from './read.js';
import { msPerCall } from './bench-time.js';

const POINTS = 10_000;
const S = 1_000_000_000n;

const time = (fn: () => unknown): number => msPerCall(fn, 100);

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1];
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const r = rng(42);
const t0 = 1_704_067_200n * S;
const ts = BigInt64Array.from({ length: POINTS }, (_, i) => t0 + BigInt(i) * 60n * S);
const granularity = new BigInt64Array(POINTS).fill(60n * S);
let x = 50;
const kinds: [string, Float64Array][] = [
  ['2-decimal gauge', Float64Array.from({ length: POINTS }, () => (x = Math.round((x + (r() - 0.5) * 4) * 100) / 100))],
  ['integer counter', Float64Array.from({ length: POINTS }, (_, i) => 1_000_000 + i * 37)],
  ['full-precision means', Float64Array.from({ length: POINTS }, () => r() * 100 / 3)],
  ['mixed magnitudes', Float64Array.from({ length: POINTS }, () => (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20))],
];

for (const [name, values] of kinds) {
  const series = { ts, granularity, values };
  for (let i = 0; i < 20; i++) {
    measuresJson(series);
    measuresBody(series);
  }
  const refs: number[] = [];
  const fasts: number[] = [];
  for (let round = 0; round < 7; round++) {
    refs.push(time(() => measuresJson(series)));
    fasts.push(time(() => measuresBody(series)));
  }
  const ref = median(refs);
  const fast = median(fasts);
  console.log(`${name.padEnd(22)} generic ${ref.toFixed(2).padStart(6)} ms   bytes ${fast.toFixed(2).padStart(6)} ms   ${(ref / fast).toFixed(2)}x`);
}
