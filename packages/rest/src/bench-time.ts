// Timing for the package's micro benchmarks (*.bench.ts).

/** Calls `fn` once untimed, then repeatedly for at least `minMs`; returns ms per call. */
export function msPerCall(fn: () => unknown, minMs: number): number {
  fn();
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs) {
    fn();
    n++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return elapsed / n;
}
