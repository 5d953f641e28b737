// The search helper of the resource list: conditions typed from fields (attribute, operator,
// value) become the JSON filter POSTed to /v1/search/resource/{type}, and are shown in
// Gnocchi's `filter=` string syntax so that users learn the language they can type directly.

export type AttributeType = 'string' | 'number' | 'bool' | 'uuid' | 'datetime';
export const OPERATORS = ['=', '!=', '<', '<=', '>', '>=', 'like', 'in'] as const;
export type Operator = (typeof OPERATORS)[number];
export type Scalar = string | number | boolean | null;

export interface Condition {
  attribute: string;
  op: Operator;
  /** As typed: coerced by the attribute's type (`in` takes a comma-separated list). */
  value: string;
  type: AttributeType;
}

export type Filter =
  | { and: Filter[] }
  | { or: Filter[] }
  | { not: Filter }
  | { [op: string]: { [attribute: string]: Scalar | Scalar[] } };

export class SearchInputError extends Error {
  override readonly name = 'SearchInputError';
}

/** The standard attributes every resource has, with their types (Gnocchi's generic type). */
export const GENERIC_ATTRIBUTES: ReadonlyArray<{ name: string; type: AttributeType }> = [
  { name: 'id', type: 'uuid' },
  { name: 'original_resource_id', type: 'string' },
  { name: 'project_id', type: 'string' },
  { name: 'user_id', type: 'string' },
  { name: 'creator', type: 'string' },
  { name: 'type', type: 'string' },
  { name: 'started_at', type: 'datetime' },
  { name: 'ended_at', type: 'datetime' },
  { name: 'revision_start', type: 'datetime' },
];

/** One typed value: "null" is null for every type; numbers and booleans must parse. */
export function coerceValue(text: string, type: AttributeType): Scalar {
  const t = text.trim();
  if (t === 'null') return null;
  switch (type) {
    case 'number': {
      const n = t === '' ? Number.NaN : Number(t);
      if (!Number.isFinite(n)) throw new SearchInputError(`not a number: ${JSON.stringify(text)}`);
      return n;
    }
    case 'bool':
      if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
      throw new SearchInputError(`not a boolean (true or false): ${JSON.stringify(text)}`);
    default:
      return text;
  }
}

export function conditionFilter(c: Condition): Filter {
  if (!c.attribute) throw new SearchInputError('a condition needs an attribute');
  const value = c.op === 'in'
    ? c.value.split(',').map((v) => v.trim()).filter((v) => v !== '').map((v) => coerceValue(v, c.type))
    : coerceValue(c.value, c.type);
  return { [c.op]: { [c.attribute]: value } };
}

/** The filter for `conditions` joined by `join`; undefined when there is none (list all). */
export function buildFilter(conditions: readonly Condition[], join: 'and' | 'or' = 'and'): Filter | undefined {
  const parts = conditions.map(conditionFilter);
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return join === 'and' ? { and: parts } : { or: parts };
}

function scalarText(v: Scalar): string | null {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return String(v);
  // Gnocchi's quoted strings have no escape for the quote itself and turn backslash
  // sequences into whitespace: such values cannot be written in the string syntax.
  if (v.includes('\\')) return null;
  if (!v.includes("'")) return `'${v}'`;
  if (!v.includes('"')) return `"${v}"`;
  return null;
}

/** The filter in Gnocchi's `filter=` syntax; null when a value cannot be written in it. */
export function filterToString(f: Filter): string | null {
  const key = Object.keys(f)[0];
  const body = (f as Record<string, unknown>)[key];
  if (key === 'and' || key === 'or') {
    const parts = (body as Filter[]).map((p) => {
      const s = filterToString(p);
      return s === null ? null : Object.keys(p)[0] === 'and' || Object.keys(p)[0] === 'or' ? `(${s})` : s;
    });
    return parts.some((p) => p === null) ? null : parts.join(` ${key} `);
  }
  if (key === 'not') {
    const s = filterToString(body as Filter);
    return s === null ? null : `not (${s})`;
  }
  const [attribute, value] = Object.entries(body as Record<string, Scalar | Scalar[]>)[0];
  if (Array.isArray(value)) {
    const items = value.map(scalarText);
    return items.some((i) => i === null) ? null : `${attribute} ${key} [${items.join(', ')}]`;
  }
  const v = scalarText(value);
  return v === null ? null : `${attribute} ${key} ${v}`;
}
