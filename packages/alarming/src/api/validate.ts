// Reading an alarm document from a request body, as Aodh 15's v2 API does: its fields,
// types, defaults and checks (wsme's types, then each rule type's own validation), with
// its messages. Ownership, quotas and timestamps are the routes' business.
import {
  ALARM_STATES, ALARM_TYPES, COMPARISON_OPERATORS, SEVERITIES,
  type AlarmState, type AlarmType, type CompositeRule, type EventRule, type Severity, type ThresholdRuleBase,
  type TimeConstraint,
} from '../model.js';
import { checkCron, CronSyntaxError } from './cron.js';
import { clientError, invalidInput, pyList, pyLiteral, pyRepr, type AodhError } from './errors.js';

/** What validation needs from the deployment. */
export interface ValidationContext {
  /** Aggregation methods the metric store offers (Aodh asks Gnocchi's capabilities). */
  aggregationMethods: ReadonlySet<string>;
  /** URL schemes of the actions the notifier can deliver. */
  actionSchemes: ReadonlySet<string>;
  /** Most actions per state; 0 or less: no bound (Aodh's alarm_max_actions). */
  maxActions: number;
  /** The project the caller is confined to (null: an administrator); log:// and test:// are refused to the confined. */
  limitedProject: string | null;
}

/** An alarm document as given: fields the client left out are absent (Aodh's Unset). */
export interface AlarmBody {
  name: string;
  description?: string;
  type: AlarmType;
  enabled: boolean;
  state: AlarmState;
  severity: Severity;
  ok_actions: string[];
  alarm_actions: string[];
  insufficient_data_actions: string[];
  repeat_actions: boolean;
  time_constraints: TimeConstraint[];
  user_id?: string;
  project_id?: string;
  state_reason?: string;
  rule: Record<string, unknown>;
}

type Json = Record<string, unknown>;

const PY_TYPES: Record<string, string> = { string: 'str', number: 'int', boolean: 'bool', object: 'dict' };
function pyType(v: unknown): string {
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'number' && !Number.isInteger(v)) return 'float';
  return PY_TYPES[typeof v] ?? 'NoneType';
}
const wrongType = (field: string, v: unknown, expected: string): AodhError =>
  invalidInput(field, v, `Wrong type. Expected '<class '${expected}'>', got '<class '${pyType(v)}'>'`);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value of `key`, absent when missing or null (wsme treats both as unset). */
function get(o: Json, key: string): unknown {
  const v = Object.hasOwn(o, key) ? o[key] : undefined;
  return v === null ? undefined : v;
}

function text(o: Json, key: string, mandatory: boolean): string | undefined {
  const v = get(o, key);
  if (v === undefined) {
    if (mandatory) throw invalidInput(key, null, 'Mandatory field missing.');
    return undefined;
  }
  if (typeof v !== 'string') throw wrongType(key, v, 'str');
  return v;
}

/** strutils.bool_from_string(strict=True), which wsme applies to booleans given as text. */
function bool(o: Json, key: string, dflt: boolean): boolean {
  const v = get(o, key);
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  throw invalidInput('data', o, `Value not an unambiguous boolean: ${String(v)}`);
}

function integer(o: Json, key: string, opts: { min: number; dflt?: number }): number | undefined {
  const v = get(o, key);
  if (v === undefined) {
    if (opts.dflt === undefined) throw invalidInput(key, null, 'Mandatory field missing.');
    return opts.dflt;
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw wrongType(key, v, 'int');
  if (n < opts.min) throw invalidInput(key, v, `Value should be greater or equal to ${opts.min}`);
  return n;
}

function float(o: Json, key: string): number {
  const v = get(o, key);
  if (v === undefined) throw invalidInput(key, null, 'Mandatory field missing.');
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw wrongType(key, v, 'float');
  return n;
}

function enumOf<T extends string>(o: Json, key: string, values: readonly T[], dflt: T | undefined): T {
  const v = get(o, key);
  if (v === undefined || v === '') {
    if (dflt === undefined) throw invalidInput(key, null, 'Mandatory field missing.');
    return dflt;
  }
  if (typeof v !== 'string' || !values.includes(v as T)) {
    throw invalidInput(key, v, `Value should be one of: ${values.join(', ')}`);
  }
  return v as T;
}

function textList(o: Json, key: string): string[] {
  const v = get(o, key);
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw wrongType(key, v, 'list');
  for (const item of v) if (typeof item !== 'string') throw wrongType(key, item, 'str');
  return v as string[];
}

function noUnknown(o: Json, known: readonly string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) throw clientError(`Unknown attribute for argument data: ${k}`);
}

// ---- time constraints -------------------------------------------------------------------

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function timeConstraint(v: unknown): TimeConstraint {
  if (!isObject(v)) throw wrongType('time_constraints', v, 'dict');
  noUnknown(v, ['name', 'description', 'start', 'duration', 'timezone']);
  const name = text(v, 'name', true) as string;
  const start = text(v, 'start', true) as string;
  try {
    checkCron(start);
  } catch (e) {
    if (e instanceof CronSyntaxError) throw invalidInput('start', start, e.message);
    throw e;
  }
  const duration = integer(v, 'duration', { min: 0 }) as number;
  const timezone = text(v, 'timezone', false) ?? '';
  if (timezone && !validZone(timezone)) throw clientError(`Timezone ${timezone} is not valid`);
  const description = text(v, 'description', false) || `Time constraint at ${start} lasting for ${duration} seconds`;
  return { name, description, start, duration, timezone };
}

// ---- rules -------------------------------------------------------------------------------

type ThresholdType = Exclude<AlarmType, 'composite' | 'event'>;
const THRESHOLD_TYPES: readonly ThresholdType[] = [
  'gnocchi_resources_threshold', 'gnocchi_aggregation_by_metrics_threshold', 'gnocchi_aggregation_by_resources_threshold',
];
const BASE_FIELDS = ['granularity', 'comparison_operator', 'threshold', 'aggregation_method', 'evaluation_periods'] as const;
const OWN_FIELDS: Record<ThresholdType, readonly string[]> = {
  gnocchi_resources_threshold: ['metric', 'resource_id', 'resource_type'],
  gnocchi_aggregation_by_metrics_threshold: ['metrics'],
  gnocchi_aggregation_by_resources_threshold: ['metric', 'query', 'resource_type'],
};
/** Tally's opt-in evaluation settings (model.ts), kept when given. */
const TALLY_FIELDS = ['breaching_points', 'missing_data'] as const;
const MISSING_DATA = ['insufficient', 'ok', 'breaching'] as const;

/** A threshold rule's fields in Aodh's order, defaults filled; types checked, not the aggregation method. */
function thresholdRule(type: ThresholdType, o: Json, extraKeys: readonly string[] = []): Json {
  noUnknown(o, [...BASE_FIELDS, ...OWN_FIELDS[type], ...TALLY_FIELDS, ...extraKeys]);
  const base: ThresholdRuleBase = {
    granularity: integer(o, 'granularity', { min: 1, dflt: 60 }) as number,
    comparison_operator: enumOf(o, 'comparison_operator', COMPARISON_OPERATORS, 'eq'),
    threshold: float(o, 'threshold'),
    aggregation_method: text(o, 'aggregation_method', true) as string,
    evaluation_periods: integer(o, 'evaluation_periods', { min: 1, dflt: 1 }) as number,
  };
  const rule: Json = { ...base };
  if (type === 'gnocchi_aggregation_by_metrics_threshold') {
    if (get(o, 'metrics') === undefined) throw invalidInput('metrics', null, 'Mandatory field missing.');
    rule.metrics = textList(o, 'metrics');
  } else {
    for (const f of OWN_FIELDS[type]) rule[f] = text(o, f, true);
  }
  const bp = get(o, 'breaching_points');
  if (bp !== undefined) {
    const n = integer(o, 'breaching_points', { min: 1 }) as number;
    if (n > base.evaluation_periods) throw invalidInput('breaching_points', n, `Value should be lower or equal to evaluation_periods (${base.evaluation_periods})`);
    rule.breaching_points = n;
  }
  if (get(o, 'missing_data') !== undefined) rule.missing_data = enumOf(o, 'missing_data', MISSING_DATA, undefined);
  return rule;
}

function checkAggregationMethod(rule: Json, ctx: ValidationContext): void {
  const m = rule.aggregation_method as string;
  if (!ctx.aggregationMethods.has(m)) {
    throw clientError(`aggregation_method should be in ${pyList([...ctx.aggregationMethods])} not ${m}`);
  }
}

const invalidComposite = (v: unknown): AodhError => clientError(
  `Invalid input composite rule: ${pyLiteral(v)}, it should be a dict with an "and" or "or" as key, and the value of dict ` +
  'should be a list of basic threshold rules or sub composite rules, can be nested.');

/** Deeper composite rules are refused: each level costs the evaluator and the validator a frame. */
export const MAX_COMPOSITE_DEPTH = 32;

function compositeRule(v: unknown, depth = 0): CompositeRule {
  if (depth > MAX_COMPOSITE_DEPTH) throw clientError(`Composite rules may nest at most ${MAX_COMPOSITE_DEPTH} levels deep`);
  if (!isObject(v)) throw invalidComposite(v);
  const keys = Object.keys(v);
  if (keys.length === 1) {
    const k = keys[0];
    if (k !== 'and' && k !== 'or') throw clientError('Threshold rules should be combined with "and" or "or"');
    const subs = v[k];
    if (!Array.isArray(subs)) throw invalidComposite(v);
    const nested = subs.map((s) => compositeRule(s, depth + 1));
    return k === 'and' ? { and: nested } : { or: nested };
  }
  const type = v.type;
  if (type === undefined || type === null || type === '') throw clientError('type must be set in every rule');
  if (typeof type !== 'string' || !THRESHOLD_TYPES.includes(type as ThresholdType)) {
    throw clientError(`Unsupported sub-rule type :${pyRepr(type)} in composite rule, should be one of: ${pyList([...THRESHOLD_TYPES].sort())}`);
  }
  const { type: _t, ...rest } = v;
  const normal = thresholdRule(type as ThresholdType, rest);
  // Aodh keeps the client's keys where they were, appends the defaults, then the type.
  const out: Json = {};
  for (const k of Object.keys(rest)) out[k] = normal[k];
  for (const [k, x] of Object.entries(normal)) if (!(k in out)) out[k] = x;
  out.type = type;
  return out as CompositeRule;
}

const EVENT_QUERY_TYPES = ['integer', 'float', 'string', 'boolean', 'datetime'];
const QUERY_OPS = ['lt', 'le', 'eq', 'ne', 'ge', 'gt'];

function eventRule(o: Json): EventRule {
  noUnknown(o, ['event_type', 'query']);
  const eventType = text(o, 'event_type', false) || '*';
  const q = get(o, 'query');
  if (q !== undefined && !Array.isArray(q)) throw wrongType('query', q, 'list');
  const query: EventRule['query'] = [];
  for (const item of (q ?? []) as unknown[]) {
    if (!isObject(item)) throw wrongType('query', item, 'dict');
    noUnknown(item, ['field', 'op', 'value', 'type']);
    const field = text(item, 'field', true) as string;
    const op = get(item, 'op') === undefined ? 'eq' : item.op;
    const raw = get(item, 'value');
    if (raw === undefined) throw invalidInput('value', null, 'Mandatory field missing.');
    if (typeof raw === 'object') throw wrongType('value', raw, 'str');
    const value = String(raw);
    const type = get(item, 'type');
    if (type !== undefined && typeof type !== 'string') throw wrongType('type', type, 'str');
    // The value must read as its declared type, then field, op and type must be plain.
    if (typeof type === 'string' && type !== '') {
      if (!EVENT_QUERY_TYPES.includes(type)) {
        throw clientError(`The data type ${type} is not supported. The supported data type list is: ${pyList(EVENT_QUERY_TYPES)}`);
      }
      if (!convertsTo(value, type)) throw clientError(`Unable to convert the value ${value} to the expected data type ${type}.`);
    }
    const problems: string[] = [];
    if (!/^[a-zA-Z.',0-9_-]*$/.test(field)) problems.push("does not match regular expression ^[a-zA-Z.',0-9_-]*$ for dictionary value @ data['field']");
    if (typeof op !== 'string' || !QUERY_OPS.includes(op)) problems.push(`value must be one of ${pyList(QUERY_OPS)} for dictionary value @ data['op']`);
    if (typeof type !== 'string' || !['string', 'integer', 'float', 'boolean', ''].includes(type)) {
      problems.push("value must be one of ['string', 'integer', 'float', 'boolean', ''] for dictionary value @ data['value']");
    }
    if (problems.length) throw clientError(`Query value or traits invalid: ${problems[0]}`);
    query.push({ field, op: op as string, type: type as string, value });
  }
  return { event_type: eventType, query };
}

/** Whether Aodh's Query.get_value reads `value` as `type`. */
function convertsTo(value: string, type: string): boolean {
  const s = value.trim();
  switch (type) {
    case 'integer': return /^[+-]?\d+(_\d+)*$/.test(s);
    case 'float': return /^[+-]?((\d+(_\d+)*)?\.?\d+(_\d+)*([eE][+-]?\d+)?|\d+\.|inf(inity)?|nan)$/i.test(s);
    case 'boolean': return ['1', 't', 'true', 'on', 'y', 'yes', '0', 'f', 'false', 'off', 'n', 'no'].includes(s.toLowerCase());
    case 'datetime': return !Number.isNaN(Date.parse(s));
    default: return true;
  }
}

// ---- the alarm ---------------------------------------------------------------------------

const ALARM_FIELDS = ['alarm_id', 'name', 'description', 'enabled', 'ok_actions', 'alarm_actions', 'insufficient_data_actions',
  'repeat_actions', 'type', 'time_constraints', 'project_id', 'user_id', 'timestamp', 'state', 'state_timestamp',
  'state_reason', 'severity', 'evaluate_timestamp', ...ALARM_TYPES.map((t) => `${t}_rule`)];

/** The URL scheme of an action as Python's urlsplit finds it ('' when there is none). */
function schemeOf(action: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(action);
  return m ? m[1].toLowerCase() : '';
}

function checkActions(body: AlarmBody, ctx: ValidationContext): void {
  for (const key of ['ok_actions', 'alarm_actions', 'insufficient_data_actions'] as const) {
    // Duplicates are dropped, the first of each kept.
    const actions = [...new Set(body[key])];
    body[key] = actions;
    if (ctx.maxActions > 0 && actions.length > ctx.maxActions) {
      throw clientError(`${key} count exceeds maximum value ${ctx.maxActions}`);
    }
    for (const action of actions) {
      const scheme = schemeOf(action);
      if (!ctx.actionSchemes.has(scheme)) throw clientError(`Unsupported action ${action}`);
      if (ctx.limitedProject && (scheme === 'log' || scheme === 'test')) {
        throw clientError(`You are not authorized to create action: ${action}`, 401);
      }
    }
  }
}

/** Aodh's default description: the event rule's, else "<type> alarm rule". */
export function defaultDescription(type: AlarmType, rule: Json): string {
  return type === 'event' ? `Alarm when ${String(rule.event_type)} event occurred.` : `${type} alarm rule`;
}

/** Reads and checks an alarm document (POST and PUT bodies). */
export function parseAlarm(input: unknown, ctx: ValidationContext): AlarmBody {
  if (!isObject(input)) throw invalidInput('data', input, 'Expected a JSON object');
  noUnknown(input, ALARM_FIELDS);
  const name = text(input, 'name', true) as string;
  const type = enumOf(input, 'type', ALARM_TYPES, undefined);
  const tcs = get(input, 'time_constraints');
  if (tcs !== undefined && !Array.isArray(tcs)) throw wrongType('time_constraints', tcs, 'list');
  // Types of the identity and text fields are checked even when the route ignores them.
  for (const f of ['alarm_id', 'timestamp', 'state_timestamp', 'evaluate_timestamp']) text(input, f, false);
  const body: AlarmBody = {
    name, type,
    description: text(input, 'description', false),
    enabled: bool(input, 'enabled', true),
    state: enumOf(input, 'state', ALARM_STATES, 'insufficient data'),
    severity: enumOf(input, 'severity', SEVERITIES, 'low'),
    ok_actions: textList(input, 'ok_actions'),
    alarm_actions: textList(input, 'alarm_actions'),
    insufficient_data_actions: textList(input, 'insufficient_data_actions'),
    repeat_actions: bool(input, 'repeat_actions', false),
    time_constraints: ((tcs ?? []) as unknown[]).map(timeConstraint),
    user_id: text(input, 'user_id', false),
    project_id: text(input, 'project_id', false),
    state_reason: text(input, 'state_reason', false),
    rule: {},
  };
  const ruleKey = `${type}_rule`;
  const raw = get(input, ruleKey);
  if (raw === undefined) throw clientError(`${ruleKey} must be set for ${type} type alarm`);
  for (const other of ALARM_TYPES) {
    const k = `${other}_rule`;
    if (k !== ruleKey && get(input, k) !== undefined) {
      const [a, b] = ALARM_TYPES.indexOf(other) < ALARM_TYPES.indexOf(type) ? [k, ruleKey] : [ruleKey, k];
      throw clientError(`${a} and ${b} cannot be set at the same time`);
    }
  }
  if (type === 'composite') {
    body.rule = compositeRule(raw) as Json;
  } else if (type === 'event') {
    if (!isObject(raw)) throw wrongType(ruleKey, raw, 'dict');
    body.rule = eventRule(raw) as unknown as Json;
  } else {
    if (!isObject(raw)) throw wrongType(ruleKey, raw, 'dict');
    body.rule = thresholdRule(type, raw);
  }
  checkActions(body, ctx);
  if (type !== 'composite' && type !== 'event') checkAggregationMethod(body.rule, ctx);
  if (type === 'gnocchi_aggregation_by_resources_threshold') {
    const query = body.rule.query as string;
    try {
      JSON.parse(query);
    } catch {
      throw invalidInput('rule/query', query, '');
    }
  }
  const names = body.time_constraints.map((t) => t.name);
  if (new Set(names).size !== names.length) throw clientError('Time constraint names must be unique for a given alarm.');
  return body;
}
