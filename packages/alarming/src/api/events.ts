// POST /v2/events: Tally's own intake of events for event alarms. Aodh reads events from its
// message bus and has no such route; Tally has no bus, so whatever publishes events
// (Ceilometer's HTTP publisher, a script, another service) posts them here, in the shape
// Ceilometer publishes and Panko stores:
//
//   {"event_type": "compute.instance.update", "message_id": "<uuid>",
//    "generated": "2024-05-01T10:00:00.123456",
//    "traits": [["project_id", 1, "<id>"], {"name": "state", "type": "string", "value": "error"}],
//    "raw": {...}}
//
// one event or a list of them. A trait is Ceilometer's [name, type, value] or Panko's
// {name, type, value}; its type is Ceilometer's number (0 none, 1 string, 2 integer, 3 float,
// 4 datetime) or Panko's name for it. Only an administrator or a service may post (events
// name any project). Every event is checked before any is evaluated: a request is taken
// whole or refused whole (400, Aodh's error body). The answer, once every event was
// evaluated (alarms fired, their transitions stored): 202 {"events": <how many>}.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { jsonDepth } from '@tally/rest';
import { sanitizeTraitValue, type EventInput, type EventTrait } from '../evaluator/event.js';
import { storedFromIso } from '../store/clock.js';
import { AodhError, clientError, invalidInput } from './errors.js';
import { isAdmin, type Caller, type Policy } from './policy.js';

/** What evaluates the posted events: the EventEvaluator in production. */
export interface EventHandler {
  evaluateEvents(events: EventInput[]): Promise<unknown>;
}

/** Events in one request. */
export const MAX_EVENTS = 1000;
/** Traits of one event (Ceilometer's richest compute events carry a few dozen). */
export const MAX_TRAITS = 256;
/** event_type, message_id and trait names: Panko's columns are 255 wide. */
export const MAX_NAME_LENGTH = 255;
/** A string or datetime trait value. */
export const MAX_VALUE_LENGTH = 65535;
/** Nesting of `raw`: it is echoed in notifications, whose writers recurse. */
export const MAX_RAW_DEPTH = 32;

const EVENT_KEYS = ['event_type', 'message_id', 'generated', 'traits', 'raw', 'message_signature'];
const TRAIT_TYPE_NAMES = ['none', 'string', 'integer', 'float', 'datetime'];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A refused value as an error message shows it: scalars (long text cut), containers by kind only. */
function shown(v: unknown): unknown {
  if (typeof v === 'string') return v.length > 64 ? `${v.slice(0, 64)}...` : v;
  if (Array.isArray(v)) return 'a list';
  if (isRecord(v)) return 'an object';
  return v ?? null;
}

function name(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw invalidInput(field, shown(v), v === undefined ? 'Mandatory field missing.' : 'Expected a non-empty string.');
  if (v.length > MAX_NAME_LENGTH) throw invalidInput(field, shown(v), `Longer than ${MAX_NAME_LENGTH} characters.`);
  return v;
}

function trait(t: unknown, at: string): EventTrait {
  let n: unknown, type: unknown, value: unknown;
  if (Array.isArray(t)) {
    if (t.length !== 3) throw invalidInput(at, shown(t), 'Expected [name, type, value].');
    [n, type, value] = t as unknown[];
  } else if (isRecord(t)) {
    for (const k of Object.keys(t)) if (k !== 'name' && k !== 'type' && k !== 'value') throw clientError(`Unknown attribute for argument ${at}: ${String(shown(k))}`);
    ({ name: n, type, value } = t);
    if (value === undefined) throw invalidInput(`${at}.value`, null, 'Mandatory field missing.');
  } else {
    throw invalidInput(at, shown(t), 'Expected [name, type, value] or {"name", "type", "value"}.');
  }
  const traitName = name(n, `${at}.name`);
  const typeOk = (typeof type === 'number' && Number.isInteger(type) && type >= 0 && type <= 4) || (typeof type === 'string' && TRAIT_TYPE_NAMES.includes(type));
  if (!typeOk) throw invalidInput(`${at}.type`, shown(type), 'Value should be one of: 0, 1, 2, 3, 4, none, string, integer, float, datetime');
  const ty = type as number | string;
  const typeName = typeof ty === 'number' ? TRAIT_TYPE_NAMES[ty] : ty;
  if (typeName === 'none' || typeName === 'string') {
    if (typeof value !== 'string') throw invalidInput(`${at}.value`, shown(value), 'Expected a string.');
  } else if (typeName === 'integer' && typeof value === 'number' && !Number.isSafeInteger(value)) {
    // Past 2^53 a JSON number no longer holds the integer the client wrote.
    throw invalidInput(`${at}.value`, shown(value), 'Not an exact integer: send it as a string.');
  } else if (typeName === 'float' && typeof value === 'number' && !Number.isFinite(value)) {
    throw invalidInput(`${at}.value`, shown(value), 'Expected a float.');
  } else if (typeof value !== 'string' && typeof value !== 'number') {
    throw invalidInput(`${at}.value`, shown(value), `Expected a ${typeName}.`);
  }
  if (typeof value === 'string' && value.length > MAX_VALUE_LENGTH) {
    throw invalidInput(`${at}.value`, shown(value), `Longer than ${MAX_VALUE_LENGTH} characters.`);
  }
  try {
    sanitizeTraitValue(value, ty);
  } catch {
    throw invalidInput(`${at}.value`, shown(value), `Unable to convert the value to the expected data type ${typeName}.`);
  }
  return Array.isArray(t) ? [traitName, ty, value] : { name: traitName, type: ty, value };
}

/** One posted event, checked: the fields Ceilometer publishes, nothing else. */
function event(e: unknown, at: string): EventInput {
  if (!isRecord(e)) throw invalidInput(at, shown(e), 'Expected an event object.');
  for (const k of Object.keys(e)) if (!EVENT_KEYS.includes(k)) throw clientError(`Unknown attribute for argument ${at}: ${String(shown(k))}`);
  const out: EventInput = { event_type: name(e.event_type, `${at}.event_type`), message_id: name(e.message_id, `${at}.message_id`) };
  if (typeof e.generated !== 'string' || storedFromIso(e.generated) === null) {
    throw invalidInput(`${at}.generated`, shown(e.generated), e.generated === undefined ? 'Mandatory field missing.' : 'Expected an ISO 8601 timestamp.');
  }
  out.generated = e.generated;
  const traits = e.traits ?? [];
  if (!Array.isArray(traits)) throw invalidInput(`${at}.traits`, shown(traits), 'Expected a list.');
  if (traits.length > MAX_TRAITS) throw invalidInput(`${at}.traits`, `${traits.length} traits`, `More than ${MAX_TRAITS} traits.`);
  out.traits = traits.map((t: unknown, i) => trait(t, `${at}.traits[${i}]`));
  if (e.raw !== undefined) {
    if (!isRecord(e.raw)) throw invalidInput(`${at}.raw`, shown(e.raw), 'Expected an object.');
    if (jsonDepth(e.raw) > MAX_RAW_DEPTH) throw invalidInput(`${at}.raw`, '...', `Nested deeper than ${MAX_RAW_DEPTH} levels.`);
    out.raw = e.raw;
  }
  if (e.message_signature !== undefined) {
    if (typeof e.message_signature !== 'string' || e.message_signature.length > MAX_NAME_LENGTH) {
      throw invalidInput(`${at}.message_signature`, shown(e.message_signature), 'Expected a string.');
    }
    out.message_signature = e.message_signature;
  }
  return out;
}

/** A request's body as events: one object or a list of them; throws a 400 AodhError. */
export function parseEvents(body: unknown): EventInput[] {
  if (Array.isArray(body)) {
    if (body.length > MAX_EVENTS) throw invalidInput('events', `${body.length} events`, `More than ${MAX_EVENTS} events in one request.`);
    return body.map((e: unknown, i) => event(e, `events[${i}]`));
  }
  return [event(body, 'event')];
}

export interface EventRouteDeps {
  handler: EventHandler;
  policy: Policy;
  caller(req: FastifyRequest): Caller;
  jsonBody(req: FastifyRequest): unknown;
  send(reply: FastifyReply, status: number, body: unknown): FastifyReply;
  /** Answers 405 to the methods of `path` not in `allowed`. */
  others(path: string, allowed: string[]): void;
}

/** May post events: an administrator or a service (any caller under the open policy). */
export function mayPostEvents(policy: Policy, c: Caller): boolean {
  return policy.mode === 'open' || isAdmin(c) || c.roles.includes('service');
}

export function eventRoutes(app: FastifyInstance, deps: EventRouteDeps): void {
  app.post('/v2/events', async (req, reply) => {
    const c = deps.caller(req);
    if (!mayPostEvents(deps.policy, c)) throw new AodhError(403, 'RBAC Authorization Failed');
    const events = parseEvents(deps.jsonBody(req));
    await deps.handler.evaluateEvents(events);
    return deps.send(reply, 202, { events: events.length });
  });
  deps.others('/v2/events', ['POST']);
}
