// Event alarms, as Aodh 15's event evaluator decides them: an event concerns the enabled
// event alarms of the project its `project_id` (or `tenant_id`) trait names; an alarm fires
// when the event's type matches its rule's shell pattern and every condition of its query
// holds on the event's traits. An event alarm only ever moves to `alarm`: nothing brings it
// back but a client. Reason texts and reason_data are Aodh's, since notifications and the
// history carry them to tools that parse them. Pure: the loop is event-evaluator.ts.
//
// Conditions compare values as Python does, because Aodh's conditions are Python's
// operators on values converted by the trait and query types: ints exactly against floats,
// strings by code point, datetimes by instant; values of unrelated types are never equal
// and cannot be ordered (Python raises, Aodh skips the alarm).
import { compileGlob, parsePyFloat, parsePyInt, pyFloatRepr, type Glob } from '@tally/timeseries';
import type { Alarm, AlarmState, EventRule } from '../model.js';
import { microsFromStored, storedFromIso, storedTimestamp } from '../store/clock.js';
import { pyJson } from '@tally/timeseries';
import type { Decision } from './threshold.js';

/**
 * A trait's data type: Ceilometer's numbers on its bus (0 none, 1 string, 2 integer,
 * 3 float, 4 datetime) or Panko's names for them. Any other type reads as a string.
 */
export type TraitType = number | string;

/** A trait as Ceilometer publishes it (`[name, type, value]`) or as Panko answers it. */
export type EventTrait = readonly [name: string, type: TraitType, value: unknown] | { name: string; type: TraitType; value: unknown };

/** An event in the shape Ceilometer publishes and Panko stores. */
export interface EventInput {
  event_type: string;
  message_id: string;
  /** ISO 8601; not looked at by the evaluation. */
  generated?: string;
  traits?: readonly EventTrait[];
  raw?: Record<string, unknown>;
  message_signature?: string;
}

/** A datetime trait or query value: microseconds since the epoch, UTC. */
export class PyDatetime {
  constructor(readonly micros: bigint) {}
  /** Python's str() of a naive datetime. */
  toString(): string {
    const s = storedTimestamp(this.micros).replace('T', ' ');
    return s.endsWith('.000000') ? s.slice(0, -7) : s;
  }
}

/** A value as Python holds it after conversion: str, int (bigint), float (number), datetime; null is None. */
export type PyValue = string | bigint | number | PyDatetime | null;

/** An event Aodh would skip (missing fields) or could not read (a trait value its type refuses). */
export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
}

const TRAIT_TYPE_NUMBERS: Record<string, number> = { none: 0, string: 1, integer: 2, float: 3, datetime: 4 };

/** Python's int(value) for the JSON values an event carries; null where Python raises. */
function pyInt(value: unknown): bigint | null {
  if (typeof value === 'number') return Number.isFinite(value) ? BigInt(Math.trunc(value)) : null;
  if (typeof value === 'boolean') return value ? 1n : 0n;
  return typeof value === 'string' ? parsePyInt(value) : null;
}

/** Python's float(value); null where Python raises. */
function pyFloat(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return typeof value === 'string' ? parsePyFloat(value) : null;
}

/** Python's str(value) of a JSON scalar; null for containers, whose repr is not reproduced. */
function pyStr(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 1e16 ? String(value) : pyFloatRepr(value);
  return null;
}

/** A datetime as Aodh's parse_isotime then normalize_time read it (naive UTC). */
function pyDatetime(value: unknown): PyDatetime | null {
  if (typeof value !== 'string') return null;
  const stored = storedFromIso(value);
  return stored === null ? null : new PyDatetime(microsFromStored(stored));
}

/**
 * A trait or query value converted by its type, as Aodh's _sanitize_trait_value: integer
 * and float by Python's int() and float(), datetime to UTC, anything else to its text.
 * Throws InvalidEventError where Python raises.
 */
export function sanitizeTraitValue(value: unknown, type: TraitType): PyValue {
  const n = typeof type === 'string' ? TRAIT_TYPE_NUMBERS[type] : type;
  let out: PyValue;
  if (n === 2) out = pyInt(value);
  else if (n === 3) out = pyFloat(value);
  else if (n === 4) out = pyDatetime(value);
  else out = pyStr(value);
  if (out === null) throw new InvalidEventError(`value ${JSON.stringify(value) ?? String(value)} is not of type ${String(type)}`);
  return out;
}

/** Python's str() of a converted value (the project a trait names). */
export function pyText(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'number') return pyFloatRepr(v);
  return v.toString();
}

/** An event read for the evaluation: its traits converted, its project found. */
export interface ParsedEvent {
  /** The event as given: reason_data carries it. */
  obj: EventInput;
  id: string;
  eventType: string;
  traits: Map<string, PyValue>;
  /** The last `project_id` or `tenant_id` trait's value as text; '' when there is none. */
  project: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads an event as Aodh's Event does; throws InvalidEventError when Aodh would skip or fail on it. */
export function parseEvent(e: unknown): ParsedEvent {
  if (!isRecord(e)) throw new InvalidEventError('an event must be an object');
  const { event_type: eventType, message_id: id, traits: raw = [] } = e;
  if (typeof eventType !== 'string' || eventType === '') throw new InvalidEventError('event_type is missing');
  if (typeof id !== 'string' || id === '') throw new InvalidEventError('message_id is missing');
  if (!Array.isArray(raw)) throw new InvalidEventError('traits must be a list');
  const traits = new Map<string, PyValue>();
  let project = '';
  for (const t of raw as unknown[]) {
    const [name, type, value] = Array.isArray(t) ? t as unknown[] : isRecord(t) ? [t.name, t.type, t.value] : [];
    if (typeof name !== 'string') throw new InvalidEventError('a trait needs a name');
    if (typeof type !== 'string' && typeof type !== 'number') throw new InvalidEventError(`trait ${name} needs a type`);
    const v = sanitizeTraitValue(value, type);
    traits.set(name, v);
    if (name === 'tenant_id' || name === 'project_id') project = pyText(v);
  }
  return { obj: e as unknown as EventInput, id, eventType, traits, project };
}

// ---- conditions ---------------------------------------------------------------------------

export type QueryOp = 'lt' | 'le' | 'eq' | 'ne' | 'ge' | 'gt';
const QUERY_OPS: ReadonlySet<string> = new Set(['lt', 'le', 'eq', 'ne', 'ge', 'gt']);

/** Python's ordering of two code-point strings (JavaScript's < orders UTF-16 units). */
function compareStrings(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(j) as number;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return (a.length - i) > 0 ? 1 : (b.length - j) > 0 ? -1 : 0;
}

/** Thrown where Python's comparison raises TypeError (values it cannot order). */
class Unorderable extends Error {}

const isNumber = (v: PyValue): v is number | bigint => typeof v === 'number' || typeof v === 'bigint';

/** `operator.<op>(a, b)` over converted values; throws Unorderable where Python raises. */
export function pyCompare(op: QueryOp, a: PyValue, b: PyValue): boolean {
  let c: number;
  if (typeof a === 'string' && typeof b === 'string') {
    c = compareStrings(a, b);
  } else if (isNumber(a) && isNumber(b)) {
    // JavaScript compares a bigint with a number exactly, as Python compares int and float.
    // NaN is neither below, equal nor above anything: every operator but ne is false.
    if ((typeof a === 'number' && Number.isNaN(a)) || (typeof b === 'number' && Number.isNaN(b))) return op === 'ne';
    c = a < b ? -1 : a > b ? 1 : 0;
  } else if (a instanceof PyDatetime && b instanceof PyDatetime) {
    c = a.micros < b.micros ? -1 : a.micros > b.micros ? 1 : 0;
  } else {
    if (op === 'eq') return false;
    if (op === 'ne') return true;
    throw new Unorderable();
  }
  switch (op) {
    case 'lt': return c < 0;
    case 'le': return c <= 0;
    case 'eq': return c === 0;
    case 'ne': return c !== 0;
    case 'ge': return c >= 0;
    case 'gt': return c > 0;
  }
}

/** One condition of an alarm's query, ready to test; `never` where Aodh's comparison raises whatever the event. */
type Condition = { kind: 'trait'; trait: string; op: QueryOp; value: PyValue } | { kind: 'never' };

/** An event alarm read for the evaluation: its pattern compiled, its conditions converted. */
export interface ParsedEventAlarm {
  alarm: Alarm;
  /** The state the evaluation believes the alarm is in (updated as it fires). */
  state: AlarmState;
  glob: Glob;
  conditions: Condition[];
  /**
   * The query Aodh cannot read (a type it has no conversion for, a value its type refuses,
   * an unknown operator): Aodh's evaluation of the whole project then fails on every
   * event; here only this alarm never fires.
   */
  unreadable: string | null;
}

const QUERY_TRAIT_TYPES: Record<string, number> = { none: 0, string: 1, integer: 2, float: 3, datetime: 4 };

export function parseEventAlarm(alarm: Alarm): ParsedEventAlarm {
  const rule = alarm.rule as EventRule;
  const conditions: Condition[] = [];
  let unreadable: string | null = null;
  for (const q of rule.query ?? []) {
    // Aodh keeps a condition on anything but a trait unconverted, then calls its operator
    // name as a function: the comparison raises on every event, so such an alarm never fires.
    if (!q.field.startsWith('traits.')) {
      conditions.push({ kind: 'never' });
      continue;
    }
    const type = QUERY_TRAIT_TYPES[q.type || 'string'];
    const op = q.op ?? 'eq';
    if (type === undefined) {
      unreadable ??= `query type ${String(q.type)} is not a trait type`;
      continue;
    }
    if (!QUERY_OPS.has(op)) {
      unreadable ??= `unknown operator ${op}`;
      continue;
    }
    try {
      conditions.push({ kind: 'trait', trait: q.field.slice('traits.'.length), op: op as QueryOp, value: sanitizeTraitValue(q.value, type) });
    } catch (err) {
      unreadable ??= (err as Error).message;
    }
  }
  return { alarm, state: alarm.state, glob: compileGlob(rule.event_type), conditions, unreadable };
}

function holds(c: Condition, event: ParsedEvent): boolean {
  if (c.kind === 'never') return false;
  // A missing trait is None: equal to nothing, different from everything, unorderable.
  const v = event.traits.has(c.trait) ? event.traits.get(c.trait) as PyValue : null;
  try {
    return pyCompare(c.op, v, c.value);
  } catch (err) {
    if (err instanceof Unorderable) return false;
    throw err;
  }
}

/** Python's json.dumps(value, sort_keys=True) of a JSON document. */
function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (!isRecord(v)) return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort((a, b) => compareStrings(a, b))) out[k] = sort(v[k]);
    return out;
  };
  return pyJson(sort(value), { ensureAscii: true });
}

export interface EventReasonData {
  type: 'event';
  event: EventInput;
}

/**
 * What `event` does to the alarm: null when it leaves it alone (already fired without
 * repeat_actions, another event type, a condition that does not hold); else `alarm`, a
 * transition from another state, or the same state again (`changed` false) for an alarm
 * with repeat_actions, which Aodh records in the history again and announces.
 */
export function evaluateEventAlarm(a: ParsedEventAlarm, event: ParsedEvent): Decision<EventReasonData> | null {
  if (a.state === 'alarm' && !a.alarm.repeat_actions) return null;
  if (a.unreadable !== null) return null;
  if (!a.glob.test(event.eventType)) return null;
  for (const c of a.conditions) if (!holds(c, event)) return null;
  const query = sortedJson((a.alarm.rule as EventRule).query ?? []);
  return {
    state: 'alarm',
    reason: `Event <id=${event.id},event_type=${event.eventType}> hits the query <query=${query}>.`,
    reasonData: { type: 'event', event: event.obj },
    changed: a.state !== 'alarm',
  };
}
