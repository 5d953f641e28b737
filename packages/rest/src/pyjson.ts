// Serialises JSON the way Gnocchi (Python's json.dumps) does: ", " and ": " separators and
// floats written as Python writes them ("1.0", "5e-05", "1e+16", NaN). Clients and Gnocchi's
// own test suites match response bodies as strings, so the spacing is part of the contract,
// not cosmetics.
import { pyFloatJson } from '@tally/timeseries';

/** A value Python holds as a float (measure values, granularities), as json.dumps writes it. */
export { pyFloatJson as pyFloat };

export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // A plain number may have been an int in Python (written as digits); a non-integral
      // one can only be a float (5e-05), and so is, in practice, an integral one from 1e16
      // on: past 2^53 a double no longer holds the int's digits, and Gnocchi writes such
      // floats as 1e+16, which Python clients must not read back as ints. Values known
      // to be floats whatever their value are given as PyFloat.
      return Number.isInteger(value) && Math.abs(value) < 1e16 ? String(value) : pyFloatJson(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      return 'null';
  }
  if (value instanceof PyFloat) return pyFloatJson(value.v);
  if (Array.isArray(value)) return '[' + value.map(pyJson).join(', ') + ']';
  if (value instanceof Raw) return value.text;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    parts.push(JSON.stringify(k) + ': ' + pyJson(v));
  }
  return '{' + parts.join(', ') + '}';
}

/** Marks a number that Python holds as a float (granularities, measure values). */
export class PyFloat {
  constructor(readonly v: number) {}
  /** For JSON.stringify (error messages in logs), which cannot write it as Python would. */
  toJSON(): number {
    return this.v;
  }
}

/** Pre-serialised JSON spliced in as is (used for large measure arrays built in one pass). */
export class Raw {
  constructor(readonly text: string) {}
}
