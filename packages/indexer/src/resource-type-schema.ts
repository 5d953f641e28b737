// Validation of resource type definitions and of their JSON-patch updates, with the
// checks and messages of Gnocchi's resource_type module and REST schemas.
import { AttributeValueError, checkAttributeValue, pyNumberStr } from './attribute-values.js';
import {
  InvalidResourceAttributeName,
  InvalidResourceAttributeOption,
  InvalidResourceAttributeValue,
  InvalidResourceTypeDefinition,
  ResourceTypePatchConflict,
} from './errors.js';
import { longerThan, MAX_NAME_LENGTH, PROTOTYPE_KEYS } from './limits.js';
import type { ResourceAttributeAddition, ResourceAttributeSchema, ResourceType, ResourceTypeChange } from './types.js';

/** Names that would clash with the columns every resource has (Gnocchi's INVALID_NAMES). */
const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'id', 'type', 'metrics', 'revision', 'revision_start', 'revision_end', 'started_at', 'ended_at',
  'user_id', 'project_id', 'created_by_user_id', 'created_by_project_id', 'get_metric', 'creator',
]);

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** voluptuous's rendering of an error path: " @ data['a'][0]". */
function where(path: readonly (string | number)[]): string {
  return path.length === 0 ? '' : ` @ data${path.map((p) => (typeof p === 'number' ? `[${p}]` : `['${p}']`)).join('')}`;
}

/** voluptuous says "for dictionary value" for bad values, not for bad or missing keys. */
function invalid(reason: string, path: readonly (string | number)[], ofValue = true): InvalidResourceTypeDefinition {
  const prefix = path.length === 0 || !ofValue ? '' : ' for dictionary value';
  return new InvalidResourceTypeDefinition(`${reason}${prefix}${where(path)}`, path.map(String));
}

/** Python's isinstance(v, int): JSON integers (and bools, an int subclass). */
function isPyInt(v: unknown): v is number | boolean {
  return typeof v === 'boolean' || (typeof v === 'number' && Number.isInteger(v));
}

function asNumber(v: number | boolean): number {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

/**
 * One attribute's meta schema; null when it matches none of the types (voluptuous's Any
 * then reports "not a valid value" on the `type` key whatever was wrong).
 */
function matchAttribute(def: Json, forUpdate: boolean): { schema: ResourceAttributeSchema; options: Json | undefined } | null {
  const allowed = new Set(['type', 'required']);
  if (forUpdate) allowed.add('options');
  const required = def.required === undefined ? true : def.required;
  if (typeof required !== 'boolean') return null;
  if (forUpdate && def.options !== undefined && (!isObject(def.options) || Object.keys(def.options).some((k) => k !== 'fill'))) return null;
  const options = forUpdate ? (isObject(def.options) ? def.options : {}) : undefined;
  let schema: ResourceAttributeSchema;
  switch (def.type) {
    case 'string': {
      allowed.add('min_length').add('max_length');
      const min = def.min_length === undefined ? 0 : def.min_length;
      const max = def.max_length === undefined ? 255 : def.max_length;
      if (!isPyInt(min) || !isPyInt(max)) return null;
      const [lo, hi] = [asNumber(min), asNumber(max)];
      if (lo < 0 || lo > 255 || hi < 1 || hi > 255) return null;
      schema = { type: 'string', required, minLength: lo, maxLength: hi };
      break;
    }
    case 'number': {
      allowed.add('min').add('max');
      const min = def.min ?? null;
      const max = def.max ?? null;
      // JSON numbers beyond a double's range parse as infinities, which JSON cannot write
      // back: a type holding one could no longer be listed.
      if ((min !== null && typeof min !== 'boolean' && !(typeof min === 'number' && Number.isFinite(min)))
        || (max !== null && typeof max !== 'boolean' && !(typeof max === 'number' && Number.isFinite(max)))) return null;
      schema = { type: 'number', required, min: min === null ? null : asNumber(min), max: max === null ? null : asNumber(max) };
      break;
    }
    case 'uuid': case 'bool': case 'datetime':
      schema = { type: def.type, required };
      break;
    default:
      return null;
  }
  if (Object.keys(def).some((k) => !allowed.has(k))) return null;
  return { schema, options };
}

/** Gnocchi's attribute constructor checks, in its order (min/max before the name). */
export function checkAttribute(name: string, schema: ResourceAttributeSchema): void {
  if (schema.type === 'string' && schema.minLength > schema.maxLength) {
    throw new InvalidResourceAttributeValue(String(schema.minLength), String(schema.maxLength));
  }
  if (schema.type === 'number' && schema.min !== null && schema.max !== null && schema.min > schema.max) {
    throw new InvalidResourceAttributeValue(pyNumberStr(schema.min), pyNumberStr(schema.max));
  }
  // Python's re.match anchors only at the start: just the first character is checked.
  // Names that reach an object's prototype when used as keys are refused too (not
  // Gnocchi's rule): attribute names become keys of request and response objects.
  if (longerThan(name, 63) || RESERVED_NAMES.has(name) || PROTOTYPE_KEYS.has(name) || !/^[a-zA-Z0-9]/.test(name)) {
    throw new InvalidResourceAttributeName(name);
  }
}

function parseAttributes(raw: unknown, forUpdate: boolean): Map<string, { schema: ResourceAttributeSchema; options: Json | undefined }> {
  if (raw === undefined) return new Map();
  if (!isObject(raw)) throw invalid('expected a dictionary', ['attributes']);
  const out = new Map<string, { schema: ResourceAttributeSchema; options: Json | undefined }>();
  for (const [name, def] of Object.entries(raw)) {
    if (!isObject(def)) throw invalid('expected a dictionary', ['attributes', name]);
    const m = matchAttribute(def, forUpdate);
    if (m === null) throw invalid('not a valid value', ['attributes', name, 'type']);
    out.set(name, m);
  }
  return out;
}

function checkTopLevel(body: unknown): Json {
  if (!isObject(body)) throw new InvalidResourceTypeDefinition('expected a dictionary', []);
  for (const k of Object.keys(body)) {
    if (k !== 'name' && k !== 'attributes') throw invalid('extra keys not allowed', [k], false);
  }
  return body;
}

/**
 * Validates a POST /v1/resource_type body. Throws InvalidResourceTypeDefinition (schema),
 * InvalidResourceAttributeName / InvalidResourceAttributeValue (REST: "Invalid input: ...").
 */
export function validateResourceTypeDefinition(body: unknown): { name: string; attributes: Record<string, ResourceAttributeSchema> } {
  const b = checkTopLevel(body);
  if (b.name !== undefined && typeof b.name !== 'string') throw invalid('expected str', ['name']);
  if (typeof b.name === 'string' && longerThan(b.name, MAX_NAME_LENGTH)) {
    throw invalid(`length of value must be at most ${MAX_NAME_LENGTH}`, ['name']);
  }
  const attrs = parseAttributes(b.attributes, false);
  // Gnocchi crashes on a missing name; Tally reports it like voluptuous would.
  if (b.name === undefined) throw invalid('required key not provided', ['name'], false);
  const attributes: Record<string, ResourceAttributeSchema> = {};
  for (const [name, { schema }] of attrs) {
    // Before it becomes a key: checkAttribute refuses the names of prototype members.
    checkAttribute(name, schema);
    attributes[name] = schema;
  }
  return { name: b.name, attributes };
}

/** The resource type as Gnocchi's jsonify() shows it: the document the patch applies to. */
export function resourceTypeToJson(rt: ResourceType): Json {
  const attributes: Json = {};
  for (const [name, s] of Object.entries(rt.attributes)) {
    const d: Json = { type: s.type, required: s.required };
    if (s.type === 'string') Object.assign(d, { max_length: s.maxLength, min_length: s.minLength });
    if (s.type === 'number') Object.assign(d, { min: s.min, max: s.max });
    attributes[name] = d;
  }
  return { name: rt.name, attributes, state: rt.state };
}

function validatePatchShape(patch: unknown): { op: 'add' | 'remove'; path: string; value?: Json }[] {
  if (!Array.isArray(patch)) throw new InvalidResourceTypeDefinition('expected a list', []);
  return patch.map((item: unknown, i) => {
    if (!isObject(item)) throw new InvalidResourceTypeDefinition(`expected a dictionary @ data[${i}]`, [String(i)]);
    for (const k of Object.keys(item)) {
      if (k !== 'op' && k !== 'path' && k !== 'value') throw invalid('extra keys not allowed', [i, k], false);
    }
    if (item.op !== 'add' && item.op !== 'remove') throw invalid('not a valid value', [i, 'op']);
    if (typeof item.path !== 'string' || !item.path.startsWith('/attributes')) throw invalid('not a valid value', [i, 'path']);
    if (item.value !== undefined && !isObject(item.value)) throw invalid('expected a dictionary', [i, 'value']);
    return { op: item.op, path: item.path, value: item.value as Json | undefined };
  });
}

/**
 * The reference tokens of a JSON pointer. A token naming a prototype member
 * (`__proto__`, `constructor`, `prototype`) is refused: the document is made of plain
 * objects, and walking or writing such a member would reach Object.prototype, which every
 * later request shares.
 */
function decodePointer(path: string, index: number): string[] {
  const parts = path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (parts.some((p) => PROTOTYPE_KEYS.has(p))) throw invalid('not a valid value', [index, 'path']);
  return parts;
}

/**
 * RFC 6902 add/remove on plain JSON objects, with python-jsonpatch's conflict messages.
 * Only own members are followed or removed, so nothing inherited is ever reached.
 */
function applyOp(doc: Json, op: 'add' | 'remove', path: string, value: Json | undefined, index: number): void {
  const parts = decodePointer(path, index);
  const last = parts.pop() as string;
  let parent: unknown = doc;
  for (const p of parts) {
    if (!isObject(parent) || !Object.hasOwn(parent, p)) throw new ResourceTypePatchConflict(`member '${p}' not found in ${JSON.stringify(parent)}`);
    parent = parent[p];
  }
  if (!isObject(parent)) throw new ResourceTypePatchConflict(`can't apply ${op} to a non-object at '${path}'`);
  if (op === 'remove') {
    if (!Object.hasOwn(parent, last)) throw new ResourceTypePatchConflict(`can't remove a non-existent object '${last}'`);
    delete parent[last];
  } else {
    Object.defineProperty(parent, last, {
      value: value === undefined ? null : structuredClone(value), enumerable: true, writable: true, configurable: true,
    });
  }
}

function additionFrom(name: string, schema: ResourceAttributeSchema, options: Json): ResourceAttributeAddition {
  checkAttribute(name, schema);
  const fill = options.fill;
  if (fill === undefined || fill === null) {
    if (schema.required) throw new InvalidResourceAttributeOption(name, 'fill', 'must not be empty if required=True');
    return { schema };
  }
  try {
    return { schema, fill: checkAttributeValue(schema, fill) };
  } catch (e) {
    if (e instanceof AttributeValueError) throw new InvalidResourceAttributeOption(name, 'fill', e.message);
    throw e;
  }
}

/**
 * Turns a PATCH /v1/resource_type/<name> body (JSON patch, add/remove under /attributes)
 * into the change for updateResourceType, as Gnocchi does: the patch is applied to the
 * type's JSON, the result validated, and only attributes whose names appear or disappear
 * count (an "add" over an existing attribute changes nothing). An empty change means
 * "return the type unchanged".
 */
export function resourceTypePatchToChange(current: ResourceType, patch: unknown): ResourceTypeChange {
  const ops = validatePatchShape(patch);
  const before = resourceTypeToJson(current);
  const doc = structuredClone(before);
  ops.forEach((o, i) => applyOp(doc, o.op, o.path, o.value, i));
  delete doc.state;
  const attrs = parseAttributes(doc.attributes, true);
  const oldNames = new Set(Object.keys(current.attributes));
  // additionFrom checks each name (prototype members refused) before it becomes a key.
  const add: Record<string, ResourceAttributeAddition> = {};
  for (const [name, { schema, options }] of attrs) {
    if (!oldNames.has(name)) add[name] = additionFrom(name, schema, options ?? {});
  }
  const remove = [...oldNames].filter((n) => !attrs.has(n));
  return { add, remove };
}
