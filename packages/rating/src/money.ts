// Exact decimal arithmetic for money and quantities. CloudKitty computes prices with Python's
// `decimal` module in its default context: 28 significant digits, ties rounded to even, every
// operation rounded on its own. Prices only equal CloudKitty's if each multiplication and
// addition rounds exactly where Python's does, so this is a decimal.js clone configured the
// same way rather than the library's defaults (20 digits, ties away from zero).
import { Decimal as DecimalJs } from 'decimal.js';

export const Dec = DecimalJs.clone({
  precision: 28,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  // Never switch to exponent notation when printing; amounts are written as plain decimals.
  toExpNeg: -9e15,
  toExpPos: 9e15,
});
export type Dec = InstanceType<typeof Dec>;

export const ZERO = new Dec(0);
export const ONE = new Dec(1);

/** Thrown for a string that is not a finite decimal number. */
export class InvalidDecimalError extends Error {
  constructor(readonly input: string, readonly what = 'decimal') {
    super(`${what} ${JSON.stringify(input)} is not a finite decimal number`);
    this.name = 'InvalidDecimalError';
  }
}

// Plain decimals and exponent notation, as Python's Decimal reads them (no NaN, no
// infinities, no hexadecimal: decimal.js would accept 0x... where Python would not).
const DECIMAL_RE = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

/** Whether `s` reads as a finite decimal number. */
export function isDecimalString(s: string): boolean {
  return DECIMAL_RE.test(s);
}

/** Reads a decimal string (or a finite number, through its shortest decimal form) exactly. */
export function dec(v: string | number | Dec, what = 'decimal'): Dec {
  if (v instanceof Dec) return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InvalidDecimalError(String(v), what);
    // String(v) is the shortest decimal that reads back as v, as Python's str(float) is:
    // CloudKitty turns the floats Gnocchi answers into Decimal(str(value)).
    return new Dec(String(v));
  }
  if (!DECIMAL_RE.test(v)) throw new InvalidDecimalError(v, what);
  return new Dec(v.trim());
}

/** The canonical decimal string of a value: plain notation, no trailing zeros, no "-0". */
export function decimalString(d: Dec): string {
  if (d.isZero()) return '0';
  return d.toFixed();
}

/** ISO 4217 code of the currency a price is in. */
export type Currency = string;

export const DEFAULT_CURRENCY: Currency = 'USD';

const CURRENCY_RE = /^[A-Z]{3}$/;

export class InvalidCurrencyError extends Error {
  constructor(readonly input: string) {
    super(`currency ${JSON.stringify(input)} is not an ISO 4217 code (three capital letters)`);
    this.name = 'InvalidCurrencyError';
  }
}

/** Checks a currency code's shape and returns it. */
export function currency(code: string): Currency {
  if (!CURRENCY_RE.test(code)) throw new InvalidCurrencyError(code);
  return code;
}

/** An amount with its currency, as every rated total is reported. */
export interface Money {
  /** Decimal string. */
  amount: string;
  currency: Currency;
}

/** The exact sum of prices (decimal strings), in one currency. */
export function sumMoney(prices: Iterable<string>, cur: Currency): Money {
  let total = ZERO;
  for (const p of prices) total = total.plus(dec(p, 'price'));
  return { amount: decimalString(total), currency: cur };
}

/**
 * The exact value of a binary double as a decimal (0.1 -> 0.1000000000000000055511151231257827...):
 * CloudKitty converts the floats Gnocchi answers with `Decimal(float)`, which keeps every bit,
 * before applying factor and offset; matching its quantities takes the same exact value.
 */
export function exactDecimalOfDouble(x: number): Dec {
  if (!Number.isFinite(x)) throw new InvalidDecimalError(String(x), 'number');
  if (Number.isSafeInteger(x)) return new Dec(x);
  const { neg, mant, exp } = binaryParts(x);
  let digits: string;
  if (exp >= 0) digits = (mant << BigInt(exp)).toString();
  else {
    // m / 2^k = m * 5^k / 10^k
    const k = -exp;
    const s = (mant * 5n ** BigInt(k)).toString().padStart(k + 1, '0');
    digits = `${s.slice(0, -k)}.${s.slice(-k)}`;
  }
  return new Dec((neg ? '-' : '') + digits);
}

/** Scratch space of binaryParts (synchronous: never shared by two calls). */
const BITS = new DataView(new ArrayBuffer(8));

/** A finite double as sign, integer mantissa and power of two: x = (-1)^neg * mant * 2^exp. */
function binaryParts(x: number): { neg: boolean; mant: bigint; exp: number } {
  BITS.setFloat64(0, x);
  const bits = BITS.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  return { neg: bits >> 63n === 1n, mant: expBits === 0 ? frac : frac | (1n << 52n), exp: (expBits === 0 ? 1 : expBits) - 1075 };
}

const PRECISION = 28;
const FIVE_POWERS: bigint[] = [];
const fivePow = (k: number): bigint => (FIVE_POWERS[k] ??= 5n ** BigInt(k));
const TEN_POWERS: bigint[] = [];
const tenPow = (k: number): bigint => (TEN_POWERS[k] ??= 10n ** BigInt(k));

/**
 * `x => decimalString(exactDecimalOfDouble(x).times(exactDecimalOfDouble(factor)))` for a
 * finite factor: the exact product of the two doubles rounded once to 28 significant
 * digits, ties to even, as Python's Decimal multiplication rounds it. Converting usage
 * makes one such product per point whose quantity is not a whole number; done with
 * integers here it costs a fraction of decimal.js's string parsing and long arithmetic,
 * which dominated rating such points.
 */
export function doubleTimesFactor(factor: number): (x: number) => string {
  if (!Number.isFinite(factor)) throw new InvalidDecimalError(String(factor), 'number');
  const f = binaryParts(factor);
  return (x) => {
    if (!Number.isFinite(x)) throw new InvalidDecimalError(String(x), 'number');
    const v = binaryParts(x);
    let coef = v.mant * f.mant;
    if (coef === 0n) return '0';
    // The exact product is coef * 2^e2 = coef * 5^-e2 * 10^e2 (e2 < 0): coef * 10^e10.
    const e2 = v.exp + f.exp;
    let e10 = 0;
    if (e2 >= 0) coef <<= BigInt(e2);
    else {
      coef *= fivePow(-e2);
      e10 = e2;
    }
    return exactString(round28(v.neg !== f.neg ? -coef : coef, e10));
  };
}

/**
 * A finite decimal as an integer coefficient and a power of ten (coef * 10^exp), for the
 * few operations rating makes per point (a product and a sum or two): exact in integers,
 * then rounded once to 28 significant digits, ties to even, which is what Python's Decimal
 * (and decimal.js configured as Dec) gives for each operation. decimal.js's parsing and
 * long multiplication were most of the cost of pricing points whose quantities do not
 * repeat.
 */
export interface Exact {
  readonly coef: bigint;
  readonly exp: number;
}

const EXACT_RE = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/;

/** The exact value of a decimal string; null when it is not one (see isDecimalString). */
export function parseExact(s: string): Exact | null {
  const m = EXACT_RE.exec(s);
  if (m === null) return null;
  const int = m[2];
  const frac = m[3] ?? '';
  if (int === '' && frac === '') return null;
  const coef = BigInt(int + frac);
  return { coef: m[1] === '-' ? -coef : coef, exp: (m[4] === undefined ? 0 : Number(m[4])) - frac.length };
}

/** The exact value of a Dec. */
export function exactOfDec(d: Dec): Exact {
  return parseExact(d.toExponential()) as Exact;
}

/** `x` rounded to 28 significant digits, ties to even. */
function round28(coef: bigint, exp: number): Exact {
  const neg = coef < 0n;
  const mag = neg ? -coef : coef;
  const drop = mag.toString().length - PRECISION;
  if (drop <= 0) return { coef, exp };
  const unit = tenPow(drop);
  let q = mag / unit;
  const r = mag - q * unit;
  const half = unit / 2n;
  if (r > half || (r === half && (q & 1n) === 1n)) q += 1n;
  return { coef: neg ? -q : q, exp: exp + drop };
}

export function exactTimes(a: Exact, b: Exact): Exact {
  return round28(a.coef * b.coef, a.exp + b.exp);
}

export function exactPlus(a: Exact, b: Exact): Exact {
  if (a.exp === b.exp) return round28(a.coef + b.coef, a.exp);
  return a.exp < b.exp
    ? round28(a.coef + b.coef * tenPow(b.exp - a.exp), a.exp)
    : round28(a.coef * tenPow(a.exp - b.exp) + b.coef, b.exp);
}

/** -1, 0 or 1 as a is below, equal to or above b. */
export function exactCmp(a: Exact, b: Exact): number {
  const d = a.exp === b.exp ? a.coef - b.coef
    : a.exp < b.exp ? a.coef - b.coef * tenPow(b.exp - a.exp) : a.coef * tenPow(a.exp - b.exp) - b.coef;
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** The canonical string of decimalString: plain notation, no trailing zeros, no "-0". */
export function exactString(x: Exact): string {
  if (x.coef === 0n) return '0';
  const neg = x.coef < 0n;
  let digits = (neg ? -x.coef : x.coef).toString();
  let exp = x.exp;
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 48) end--;
  exp += digits.length - end;
  digits = digits.slice(0, end);
  let plain: string;
  if (exp >= 0) plain = digits + '0'.repeat(exp);
  else if (digits.length > -exp) plain = `${digits.slice(0, exp)}.${digits.slice(exp)}`;
  else plain = `0.${'0'.repeat(-exp - digits.length)}${digits}`;
  return neg ? `-${plain}` : plain;
}
