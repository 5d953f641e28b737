// Python's repr() of a float, needed to reproduce messages Gnocchi formats with "%s" of
// timedelta.total_seconds() (e.g. "60.0 granularity interval was changed").

export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const abs = Math.abs(x);
  // Python switches to exponent notation below 1e-4 and from 1e16 on; JS at other bounds.
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e16)) {
    const [mantissa, exp] = x.toExponential().split('e');
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[+-]/, '').padStart(2, '0');
    return `${mantissa}e${sign}${digits}`;
  }
  const s = String(x);
  return Number.isInteger(x) ? `${s}.0` : s;
}

/** timedelta.total_seconds() of a nanosecond duration, as Python would print it. */
export function pySecondsRepr(ns: bigint): string {
  return pyFloatRepr(Number(ns) / 1e9);
}
