// Checking and normalising values of resource type attributes.
//
// Messages are voluptuous's, as Gnocchi reports them (REST wraps them in "Invalid input"
// or in "Option 'fill' ... is invalid: <reason>").
import { parseTimestamp, pyFloatRepr } from '@tally/timeseries';
import { parseUuid } from './resource-id.js';
import type { AttributeValue, ResourceAttributeSchema } from './types.js';

/** Thrown with the bare voluptuous reason; callers add Gnocchi's context. */
export class AttributeValueError extends Error {}

/** Python's str() of a JSON number: integral values print without a fraction. */
export function pyNumberStr(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 1e16 ? String(n) : pyFloatRepr(n);
}

function checkString(schema: { minLength: number; maxLength: number }, value: unknown): string {
  if (typeof value !== 'string') throw new AttributeValueError('expected str');
  const len = [...value].length;
  if (len < schema.minLength) throw new AttributeValueError(`length of value must be at least ${schema.minLength}`);
  if (len > schema.maxLength) throw new AttributeValueError(`length of value must be at most ${schema.maxLength}`);
  return value;
}

function checkNumber(schema: { min: number | null; max: number | null }, value: unknown): number {
  // numbers.Real includes Python's bool.
  if (typeof value === 'boolean') value = value ? 1 : 0;
  if (typeof value !== 'number') throw new AttributeValueError('expected Real');
  if (schema.min !== null && value < schema.min) throw new AttributeValueError(`value must be at least ${pyNumberStr(schema.min)}`);
  if (schema.max !== null && value > schema.max) throw new AttributeValueError(`value must be at most ${pyNumberStr(schema.max)}`);
  return value;
}

function checkDatetime(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value !== 'string' && typeof value !== 'number') throw new AttributeValueError('Unable to convert timestamps');
  try {
    return parseTimestamp(value);
  } catch (e) {
    if (e instanceof AttributeValueError) throw e;
    throw new AttributeValueError(e instanceof Error ? e.message : 'Unable to convert timestamps');
  }
}

/** Validates a non-null value against an attribute schema and returns its stored form. */
export function checkAttributeValue(schema: ResourceAttributeSchema, value: unknown): Exclude<AttributeValue, null> {
  switch (schema.type) {
    case 'string':
      return checkString(schema, value);
    case 'number':
      return checkNumber(schema, value);
    case 'bool':
      if (typeof value !== 'boolean') throw new AttributeValueError('expected bool');
      return value;
    case 'uuid': {
      const u = typeof value === 'string' ? parseUuid(value) : null;
      if (u === null) throw new AttributeValueError('badly formed hexadecimal UUID string');
      return u;
    }
    case 'datetime':
      return checkDatetime(value);
  }
}

/** Python's "%s" of a JSON-ish value, for error messages. */
export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pyNumberStr(v);
  if (typeof v === 'string' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  }
  return String(v);
}

function pyRepr(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return pyStr(v);
}

/** Python's str(datetime) for a UTC ns timestamp: "2015-01-01 00:00:00+00:00" (µs when non-zero). */
export function pyDatetimeStr(ns: bigint): string {
  const ms = ns / 1_000_000n - (ns % 1_000_000n < 0n ? 1n : 0n);
  const d = new Date(Number(ms));
  const micros = Number(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n / 1000n);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const base = `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  return `${base}${micros === 0 ? '' : `.${p(micros, 6)}`}+00:00`;
}
