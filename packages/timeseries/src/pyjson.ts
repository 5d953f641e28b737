// JSON as Python's json.dumps writes it: ", " and ": " separators, floats as Python writes
// them ("1.0", "5e-05", "1e+16", NaN), optionally every character outside printable ASCII
// escaped (json.dumps's default ensure_ascii). Gnocchi's clients and test suites match
// response bodies as strings, and receivers written for Aodh may compare or sign the bytes
// of its notifications, so the layout is part of the contract. One writer serves Gnocchi's
// answers (non-ASCII kept, as Gnocchi's renderer does), Aodh's answers and history details
// and the notifier's bodies (ASCII, as Aodh's json.dumps defaults).
//
// Hand-written: JSON.stringify's layout cannot be configured this way, and no library
// writes Python's float forms.
import { pyFloatJson } from './pyfloat.js';

export interface PyJsonOptions {
  /** Escape every character outside printable ASCII as \uXXXX (json.dumps(ensure_ascii=True)). */
  ensureAscii?: boolean;
  /**
   * Keys whose numbers Python holds as floats whatever their value, at any depth (an alarm
   * rule's threshold): written as floats ("300.0") where a plain number would be an int.
   */
  floatKeys?: ReadonlySet<string>;
}

/** Marks a number that Python holds as a float (granularities, measure values). */
export class PyFloat {
  constructor(readonly v: number) {}
  /** For JSON.stringify (error messages in logs), which cannot write it as Python would. */
  toJSON(): number {
    return this.v;
  }
}

/** Pre-serialised JSON spliced in as is (large measure arrays built in one pass). */
export class Raw {
  constructor(readonly text: string) {}
}

function asciiString(s: string): string {
  // JSON.stringify already writes \" \\ \b \f \n \r \t and \u00xx for other controls as
  // Python does; what is left is what ensure_ascii adds: DEL and every non-ASCII unit.
  return JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A plain number may have been an int in Python (written as digits); a non-integral one can
 * only be a float (5e-05), and so is, in practice, an integral one from 1e16 on: past 2^53 a
 * double no longer holds the int's digits, and Python writes such floats as 1e+16, which
 * Python clients must not read back as ints. Values known to be floats whatever their value
 * are given as PyFloat (or named by `floatKeys`).
 */
function plainNumber(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 1e16 ? String(n) : pyFloatJson(n);
}

/** json.dumps(value); `undefined` members of objects are left out, as JSON.stringify does. */
export function pyJson(value: unknown, options: PyJsonOptions = {}): string {
  const str = options.ensureAscii ? asciiString : JSON.stringify;
  const floatKeys = options.floatKeys;
  const write = (v: unknown, asFloat: boolean): string => {
    if (v === null || v === undefined) return 'null';
    switch (typeof v) {
      case 'string':
        return str(v);
      case 'number':
        return asFloat ? pyFloatJson(v) : plainNumber(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'bigint':
        return v.toString();
      case 'object':
        break;
      default:
        return 'null';
    }
    if (v instanceof PyFloat) return pyFloatJson(v.v);
    if (Array.isArray(v)) return '[' + v.map((x: unknown) => write(x, false)).join(', ') + ']';
    if (v instanceof Raw) return v.text;
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === undefined) continue;
      parts.push(str(k) + ': ' + write(x, floatKeys !== undefined && floatKeys.has(k)));
    }
    return '{' + parts.join(', ') + '}';
  };
  return write(value, false);
}
