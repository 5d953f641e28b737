// JSON as Python's `json.dumps(value)` writes it with its defaults, the bytes Aodh's REST
// notifier posts: ", " and ": " separators, floats as Python writes them, NaN and Infinity
// as bare tokens, and every character outside printable ASCII escaped (ensure_ascii).
// Receivers written for Aodh may compare or sign these bytes. @tally/rest's pyJson writes
// Gnocchi's bodies, which keep non-ASCII characters as they are; the number rule is the
// one both share, pyFloatJson from @tally/timeseries.
import { pyFloatJson } from '@tally/timeseries';

function pyString(s: string): string {
  // JSON.stringify already writes \" \\ \b \f \n \r \t and \u00xx for other controls as
  // Python does; what is left is the non-ASCII (and DEL) characters ensure_ascii escapes.
  return JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * JavaScript does not keep Python's int/float distinction: an integral value below 1e16 is
 * written as an int (a count, an id), anything else as Python writes a float.
 */
function pyNumber(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 1e16 ? String(n) : pyFloatJson(n);
}

/** `json.dumps(value)`; `undefined` members of objects are left out, as JSON.stringify does. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return pyString(value);
    case 'number':
      return pyNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v: unknown) => pythonJsonDumps(v)).join(', ')}]`;
      const parts: string[] = [];
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (v === undefined || typeof v === 'function') continue;
        parts.push(`${pyString(k)}: ${pythonJsonDumps(v)}`);
      }
      return `{${parts.join(', ')}}`;
    }
    default:
      return 'null';
  }
}
