// Deterministic synthetic series shared by the codec tests and benchmarks, so that the
// figures quoted in reviews can be reproduced exactly.

/** Small seeded PRNG (mulberry32-style mixing); deterministic across runs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(r: () => number): () => number {
  return () => {
    const u = 1 - r();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  };
}

export interface Dataset {
  name: string;
  positions: Uint32Array;
  values: Float64Array;
}

export function dense(n: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return p;
}

/** Random walk of 3-decimal values (integer thousandths, step ~ N(0, sigma/1000)). */
export function randomWalk3(n: number, seed = 1, sigma = 100): Float64Array {
  const g = gaussian(rng(seed));
  const v = new Float64Array(n);
  let x = 50_000;
  for (let i = 0; i < n; i++) {
    x += Math.round(g() * sigma);
    v[i] = x / 1000;
  }
  return v;
}

/** The benchmark datasets: a 3600-point split each (1 s granularity, 1 h split). */
export function datasets(n = 3600, seed = 1): Dataset[] {
  const r = rng(seed);
  const g = gaussian(rng(seed + 1));
  const sine = new Float64Array(n);
  for (let i = 0; i < n; i++) sine[i] = 20 + 5 * Math.sin(i / 300) + g() * 0.01;
  const counter = new Float64Array(n);
  let c = 1e9;
  for (let i = 0; i < n; i++) counter[i] = c += 1000 + Math.floor(r() * 50);
  // Sparse: about one point in 10 present, values from a 2-decimal walk.
  const sp: number[] = [];
  for (let i = 0; i < n; i++) if (r() < 0.1) sp.push(i);
  const sparseValues = randomWalk3(sp.length, seed + 2, 10).map((v) => Math.round(v * 100) / 100);
  return [
    { name: 'random walk, 3 decimals', positions: dense(n), values: randomWalk3(n, seed) },
    { name: 'constant', positions: dense(n), values: new Float64Array(n).fill(42.5) },
    { name: 'sine + float noise', positions: dense(n), values: sine },
    { name: 'counter (integer, jittery rate)', positions: dense(n), values: counter },
    { name: 'sparse positions (~10%)', positions: Uint32Array.from(sp), values: sparseValues },
  ];
}
