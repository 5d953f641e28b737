// The two query languages of Aodh's v2 API: the simple one of the query string
// (q.field/q.op/q.value/q.type, sort, limit, marker) and the complex one of
// /v2/query/alarms[/history] (a JSON filter tree, an ordering and a limit), read into the
// store's filters with Aodh's checks and messages.
import type { FilterExpr, FilterValue, OrderBy } from '../store/index.js';
import { storedFromIso } from '../store/index.js';
import { clientError, invalidInput, notAuthorized, pySet } from './errors.js';

export interface SimpleQuery {
  field: string;
  op: string;
  value: string;
  type: string;
}

type QueryString = Record<string, string | string[] | undefined>;

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The q.* triples of a query string. */
export function parseQ(qs: QueryString): SimpleQuery[] {
  const fields = list(qs['q.field']);
  const ops = list(qs['q.op']);
  const values = list(qs['q.value']);
  const types = list(qs['q.type']);
  if (values.length !== fields.length) throw invalidInput('q', values, 'every q.field needs one q.value');
  if (ops.length > fields.length || types.length > fields.length) throw invalidInput('q', ops, 'more q.op or q.type than q.field');
  return fields.map((field, i) => ({ field, op: ops[i] || 'eq', value: values[i], type: types[i] ?? '' }));
}

/** Python's ast.literal_eval on the scalars a query value can spell; the text itself otherwise. */
export function literal(value: string): FilterValue {
  const s = value.trim();
  if (s === 'True') return true;
  if (s === 'False') return false;
  if (s === 'None') return null;
  if (/^[+-]?\d+(_\d+)*$/.test(s) || /^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$/.test(s)) {
    const n = Number(s.replace(/_/g, ''));
    if (Number.isFinite(n)) return n;
  }
  const quoted = /^(['"])(.*)\1$/s.exec(s);
  if (quoted && !quoted[2].includes(quoted[1]) && !quoted[2].includes('\\')) return quoted[2];
  return value;
}

const TRUE = ['1', 't', 'true', 'on', 'y', 'yes'];
const FALSE = ['0', 'f', 'false', 'off', 'n', 'no'];

/** strutils.bool_from_string(strict=True). */
export function boolValue(q: SimpleQuery): boolean {
  const s = q.value.trim().toLowerCase();
  if (TRUE.includes(s)) return true;
  if (FALSE.includes(s)) return false;
  throw clientError(`Unable to convert the value ${q.value} to the expected data type boolean.`);
}

/** Query.get_value: the value read as its declared type (or as a Python literal). */
export function typedValue(q: SimpleQuery): FilterValue {
  switch (q.type) {
    case '': return literal(q.value);
    case 'string': return q.value;
    case 'boolean': return boolValue(q);
    case 'integer': {
      if (!/^\s*[+-]?\d+\s*$/.test(q.value)) throw clientError(`Unable to convert the value ${q.value} to the expected data type integer.`);
      return Number(q.value);
    }
    case 'float': {
      const n = Number(q.value);
      if (q.value.trim() === '' || Number.isNaN(n)) throw clientError(`Unable to convert the value ${q.value} to the expected data type float.`);
      return n;
    }
    case 'datetime': {
      const t = storedFromIso(q.value);
      if (t === null) throw clientError(`Unable to convert the value ${q.value} to the expected data type datetime.`);
      return t;
    }
    default:
      throw clientError(`The data type ${q.type} is not supported. The supported data type list is: ['integer', 'float', 'string', 'boolean', 'datetime']`);
  }
}

/** sort=key[:dir] pairs, limit and marker, checked against a table's sortable keys. */
export function parsePage(qs: QueryString, sortKeys: readonly string[]): { sort?: OrderBy[]; limit?: number; marker?: string } {
  const sorts = list(qs.sort);
  const rawLimit = list(qs.limit)[0];
  const marker = list(qs.marker)[0];
  let limit: number | undefined;
  if (rawLimit !== undefined && rawLimit !== '') {
    if (!/^\s*[+-]?\d+\s*$/.test(rawLimit)) {
      throw invalidInput('limit', rawLimit, `unable to convert to int. Error: invalid literal for int() with base 10: '${rawLimit}'`);
    }
    limit = Number(rawLimit);
    if (limit < 0) throw invalidInput('limit', limit, 'it should be a positive integer.');
    // Aodh applies no limit at all when it is 0.
    if (limit === 0) limit = undefined;
  }
  const sort: OrderBy[] = [];
  for (const s of sorts) {
    const i = s.indexOf(':');
    const key = i < 0 ? s : s.slice(0, i);
    const dir = (i < 0 ? '' : s.slice(i + 1)) || 'asc';
    if (!sortKeys.includes(key)) {
      throw invalidInput('sort', s, "the sort parameter should be a pair of sort key and sort dir combined with ':', or only " +
        `sort key specified and sort dir will be default 'asc', the supported sort keys are: (${sortKeys.map((k) => `'${k}'`).join(', ')})`);
    }
    if (dir !== 'asc' && dir !== 'desc') throw invalidInput('sort', s, "the sort direction should be 'asc' or 'desc'");
    sort.push({ field: key, dir });
  }
  return { sort: sort.length ? sort : undefined, limit, marker: marker === '' ? undefined : marker };
}

export const ALARM_SORT_KEYS = ['alarm_id', 'enabled', 'name', 'type', 'severity', 'timestamp', 'user_id', 'project_id', 'state', 'repeat_actions', 'state_timestamp'];
export const HISTORY_SORT_KEYS = ['event_id', 'alarm_id', 'on_behalf_of', 'project_id', 'user_id', 'type', 'timestamp', 'severity'];

// ---- the complex query -------------------------------------------------------------------

export const ALARM_FIELDS = ['alarm_id', 'type', 'enabled', 'name', 'description', 'timestamp', 'user_id', 'project_id', 'state',
  'state_timestamp', 'state_reason', 'ok_actions', 'alarm_actions', 'insufficient_data_actions', 'repeat_actions', 'rule',
  'time_constraints', 'severity', 'evaluate_timestamp'];
export const HISTORY_FIELDS = ['event_id', 'alarm_id', 'type', 'detail', 'user_id', 'project_id', 'on_behalf_of', 'timestamp', 'severity'];
const NAME_MAPPING: Record<string, string> = { user: 'user_id', project: 'project_id' };
const TIMESTAMP_FIELDS = new Set(['timestamp', 'state_timestamp']);
const SIMPLE_OPS: Record<string, '=' | '!=' | '<' | '<=' | '>' | '>='> = {
  '=': '=', '!=': '!=', '<': '<', '>': '>', '<=': '<=', '=<': '<=', '>=': '>=', '=>': '>=',
};
/** Deeper filters are refused: each level costs a frame here and in the SQL planner. */
export const MAX_FILTER_DEPTH = 64;

class FilterSyntax extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function single(v: unknown, what: string): [string, unknown] {
  if (!isObj(v)) throw new FilterSyntax(`${JSON.stringify(v)} is not of type 'object' (${what})`);
  const keys = Object.keys(v);
  if (keys.length !== 1) throw new FilterSyntax(`${JSON.stringify(v)} should have exactly one property (${what})`);
  return [keys[0], v[keys[0]]];
}

function fieldName(field: string, fields: readonly string[]): string {
  if (fields.includes(field)) return field;
  if (NAME_MAPPING[field]) return NAME_MAPPING[field];
  throw new FilterSyntax(`'${field}' is not a valid field`);
}

function scalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
}

function timestampValue(field: string, v: unknown): FilterValue {
  if (!TIMESTAMP_FIELDS.has(field)) return v as FilterValue;
  const t = typeof v === 'string' ? storedFromIso(v) : null;
  if (t === null) throw clientError(`Failed to parse the timestamp value ${String(v)}`);
  return t;
}

function readFilter(node: unknown, fields: readonly string[], depth: number): FilterExpr {
  if (depth > MAX_FILTER_DEPTH) throw new FilterSyntax(`nested deeper than ${MAX_FILTER_DEPTH} levels`);
  const [rawOp, arg] = single(node, 'filter');
  const op = rawOp.toLowerCase();
  if (op === 'and' || op === 'or') {
    if (!Array.isArray(arg) || arg.length < 2) throw new FilterSyntax(`${JSON.stringify(arg)} is not an array of at least 2 filters (${rawOp})`);
    const subs = arg.map((s) => readFilter(s, fields, depth + 1));
    return op === 'and' ? { and: subs } : { or: subs };
  }
  if (op === 'not') return { not: readFilter(arg, fields, depth + 1) };
  if (op === '=~') throw new FilterSyntax('the operator =~ (regular expression) is not supported');
  const [rawField, value] = single(arg, rawOp);
  const field = fieldName(rawField, fields);
  if (op === 'in') {
    if (!Array.isArray(value) || value.length === 0 || !value.every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x)))) {
      throw new FilterSyntax(`${JSON.stringify(value)} is not a non-empty array of strings and numbers (in)`);
    }
    return { op: 'in', field, values: value.map((x) => timestampValue(field, x)) };
  }
  const cmp = SIMPLE_OPS[op];
  if (!cmp) throw new FilterSyntax(`'${rawOp}' is not a valid operator`);
  if (!scalar(value)) throw new FilterSyntax(`${JSON.stringify(value)} is not a string, number or boolean (${rawOp})`);
  return { op: cmp, field, value: timestampValue(field, value) };
}

/** Every leaf's field and value(s), to check what a confined caller may see. */
function leaves(e: FilterExpr): { field: string; values: FilterValue[] }[] {
  if ('and' in e) return e.and.flatMap(leaves);
  if ('or' in e) return e.or.flatMap(leaves);
  if ('not' in e) return leaves(e.not);
  return [{ field: e.field, values: e.op === 'in' ? e.values : [e.value] }];
}

export interface ComplexQuery {
  filter: FilterExpr | null;
  orderby: OrderBy[] | null;
  limit: number | undefined;
}

/**
 * Reads the body of /v2/query/alarms[/history]. A caller confined to a project only sees
 * what `visibility` (project_id, or on_behalf_of for history) says is its own: the filter
 * is and-ed with it, and naming another project is refused (401).
 */
export function parseComplexQuery(body: unknown, fields: readonly string[], visibility: string, limitedProject: string | null): ComplexQuery {
  if (!isObj(body)) throw invalidInput('body', body, 'Expected a JSON object');
  for (const k of Object.keys(body)) if (!['filter', 'orderby', 'limit'].includes(k)) throw clientError(`Unknown attribute for argument body: ${k}`);
  let filter: FilterExpr | null = null;
  const rawFilter = body.filter;
  if (rawFilter !== undefined && rawFilter !== null) {
    if (typeof rawFilter !== 'string') throw invalidInput('filter', rawFilter, "Wrong type. Expected '<class 'str'>'");
    try {
      filter = readFilter(JSON.parse(rawFilter) as unknown, fields, 0);
    } catch (e) {
      if (e instanceof FilterSyntax || e instanceof SyntaxError) throw clientError(`Filter expression not valid: ${e.message}`);
      throw e;
    }
  }
  if (limitedProject !== null) {
    if (filter) {
      for (const leaf of leaves(filter)) {
        const other = leaf.field === visibility ? leaf.values.find((v) => v !== limitedProject) : undefined;
        if (other !== undefined) throw notAuthorized(other);
      }
    }
    const own: FilterExpr = { op: '=', field: visibility, value: limitedProject };
    filter = filter ? { and: [own, filter] } : own;
  }
  let orderby: OrderBy[] | null = null;
  if (body.orderby !== undefined && body.orderby !== null) {
    if (typeof body.orderby !== 'string') throw invalidInput('orderby', body.orderby, "Wrong type. Expected '<class 'str'>'");
    try {
      const parsed = JSON.parse(body.orderby) as unknown;
      if (!Array.isArray(parsed)) throw new FilterSyntax(`${body.orderby} is not of type 'array'`);
      orderby = parsed.map((item) => {
        const [f, dir] = single(item, 'orderby');
        if (typeof dir !== 'string' || !['asc', 'desc'].includes(dir.toLowerCase())) throw new FilterSyntax(`${JSON.stringify(dir)} is not 'asc' or 'desc'`);
        if (!fields.includes(f) && !NAME_MAPPING[f]) throw new FilterSyntax(`'${f}' is not a valid field`);
        return { field: fieldName(f, fields), dir: dir.toLowerCase() as 'asc' | 'desc' };
      });
    } catch (e) {
      if (e instanceof FilterSyntax || e instanceof SyntaxError) throw clientError(`Order-by expression not valid: ${e.message}`);
      throw e;
    }
  }
  let limit: number | undefined;
  if (body.limit !== undefined && body.limit !== null) {
    if (typeof body.limit !== 'number' || !Number.isSafeInteger(body.limit)) throw invalidInput('limit', body.limit, "Wrong type. Expected '<class 'int'>'");
    if (body.limit <= 0) throw clientError('Limit should be positive');
    limit = body.limit;
  }
  return { filter, orderby, limit };
}

/** Fields of the simple alarm list query. */
export const ALARM_QUERY_FIELDS = ['all_projects', 'user_id', 'project_id', 'type', 'name', 'enabled', 'state', 'severity', 'timestamp', 'repeat_actions'];

export { pySet };
