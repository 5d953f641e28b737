// Python's float as text: repr() (which str(), "%s" and the json module print too) and
// float() of a string. Gnocchi's clients and test suites compare bodies and messages as
// text, and a Python client decodes "1e+16" as a float but "10000000000000000" as an int,
// so every float Tally writes goes through pyFloatRepr / pyFloatJson.
//
// Hand-written because it is only a layout rule: the digits are the shortest that read
// back to the same double, which CPython's repr and JS's Number#toString / toExponential()
// both produce; only where the exponent form starts and how it is spelled differ.

/** Python's repr() of a float: "1.0", "-0.0", "0.1", "1e-05", "1e+16", "nan", "inf". */
export function pyFloatRepr(x: number): string {
  const a = x < 0 ? -x : x;
  // Python writes positionally for decimal exponents -4..15; in that range JS does too
  // (it switches at -7 and 21), but leaves integral values without a fraction.
  if (a >= 1e-4 && a < 1e16) {
    // JSON.stringify writes a finite number as String() does, but not through V8's cache of
    // number strings: String() puts every new double's text in that cache, which keeps it
    // alive through the young generation's collections, so a read writing 100 000 values
    // that are not short decimals promoted most of their texts into the old generation (the
    // API's heap grew by tens of MiB per few reads, and the server's peak memory with it).
    const s = JSON.stringify(x);
    return s.includes('.') ? s : s + '.0';
  }
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  if (x !== x) return 'nan';
  if (a === Infinity) return x > 0 ? 'inf' : '-inf';
  return exponentForm(x);
}

/** "1.5e-7" -> "1.5e-07": Python's exponent has a sign and at least two digits. */
function exponentForm(x: number): string {
  const s = x.toExponential();
  const e = s.indexOf('e');
  return s.length - e === 3 ? `${s.slice(0, e + 2)}0${s.slice(e + 2)}` : s;
}

/** A float as Python's json.dumps writes it (and Gnocchi returns it): repr, or NaN / Infinity / -Infinity. */
export function pyFloatJson(x: number): string {
  if (x !== x) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return pyFloatRepr(x);
}

/** Python's repr() of timedelta.total_seconds() for a duration in ns ("60.0", "0.5", "1e-06"). */
export function secondsRepr(ns: bigint): string {
  return pyFloatRepr(Number(ns) / 1e9);
}

// The blanks float() ignores: ASCII space and \t-\r, and Unicode spaces. JS's trim() also
// strips U+FEFF and leaves U+0085.
const BLANK = '[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_BLANKS = new RegExp(`^${BLANK}+|${BLANK}+$`, 'g');
const PY_FLOAT_WORD = /^([+-]?)(inf|infinity|nan)$/i;
// Digits may be grouped by single underscores, in the mantissa and in the exponent.
const PY_FLOAT_NUMBER = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;

/**
 * Python's float() of a str: surrounding blanks, digit groups with underscores, "inf",
 * "infinity" and "nan" in any case. Null when Python raises ValueError.
 */
export function parsePyFloat(text: string): number | null {
  const t = text.replace(PY_BLANKS, '');
  const word = PY_FLOAT_WORD.exec(t);
  if (word !== null) {
    if (word[2].toLowerCase() === 'nan') return NaN;
    return word[1] === '-' ? -Infinity : Infinity;
  }
  if (!PY_FLOAT_NUMBER.test(t)) return null;
  return Number(t.includes('_') ? t.replaceAll('_', '') : t);
}

const PY_INT_NUMBER = /^[+-]?\d(?:_?\d)*$/;

/**
 * Python's int() of a str, exactly (a bigint): the blanks float() ignores, a sign, digits
 * grouped by single underscores. Null when Python raises ValueError.
 */
export function parsePyInt(text: string): bigint | null {
  const t = text.replace(PY_BLANKS, '');
  return PY_INT_NUMBER.test(t) ? BigInt(t.includes('_') ? t.replaceAll('_', '') : t) : null;
}
