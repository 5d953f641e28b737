// Aodh holds thresholds as Python floats and writes them so ("threshold": 300.0), in its
// answers and in the JSON of history entries; JavaScript has one number type, so the
// fields that are floats are marked before writing.
import { PyFloat } from '@tally/rest';

const FLOAT_FIELDS = new Set(['threshold']);

/** A copy of `value` with every float field of alarm rules (nested ones too) marked as a float. */
export function pythonFloats<T>(value: T): T {
  const walk = (v: unknown, key: string | null): unknown => {
    if (typeof v === 'number' && key !== null && FLOAT_FIELDS.has(key)) return new PyFloat(v);
    if (Array.isArray(v)) return v.map((x) => walk(x, null));
    if (v !== null && typeof v === 'object' && !(v instanceof PyFloat)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    }
    return v;
  };
  return walk(value, null) as T;
}
