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
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const neg = bits >> 63n === 1n;
  const expBits = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const mant = expBits === 0 ? frac : frac | (1n << 52n);
  const exp = (expBits === 0 ? 1 : expBits) - 1075;
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
