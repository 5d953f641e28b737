// Serialises JSON the way Gnocchi (Python's json.dumps) does: ", " and ": " separators and
// floats always written with a fraction ("1.0"). Clients and Gnocchi's own test suites match
// response bodies as strings, so the spacing is part of the contract, not cosmetics.

/** A float as Python's repr prints it, for the finite values Tally stores. */
export function pyFloat(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return v.toFixed(1);
  const s = String(v);
  // JS writes 1e+21 / 1e-7; Python writes 1e+21 / 1e-07. (Most values have no exponent:
  // skipping the regex for them matters when a series of 10 000 points is written.)
  return s.includes('e') ? s.replace(/e([+-])(\d)$/, 'e$10$2') : s;
}

export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      return 'null';
  }
  if (value instanceof PyFloat) return pyFloat(value.v);
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
}

/** Pre-serialised JSON spliced in as is (used for large measure arrays built in one pass). */
export class Raw {
  constructor(readonly text: string) {}
}
