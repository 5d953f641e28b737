// Request bodies for resources: the base fields, the type's own attributes, and the
// `metrics` map ({name: metric id} or {name: {archive_policy_name, unit}}).
import { parseTimestamp } from '@tally/timeseries';
import { parseUuid, type MetricRef, type ResourceAttributeSchema, type ResourceType } from '@tally/indexer';
import { Invalid, object, opt, nullable, str, strLen, type Validator, type Field } from '../schema.js';

const datetime: Validator<bigint> = (v) => {
  if (typeof v !== 'string' && typeof v !== 'number') throw new Invalid('expected a datetime');
  try {
    return parseTimestamp(v);
  } catch (e) {
    throw new Invalid(e instanceof Error ? e.message : String(e));
  }
};

function attributeValidator(a: ResourceAttributeSchema): Validator<unknown> {
  switch (a.type) {
    case 'string':
      return strLen({ min: a.minLength, max: a.maxLength });
    case 'uuid':
      return (v) => {
        const u = typeof v === 'string' ? parseUuid(v) : null;
        if (u === null) throw new Invalid('badly formed hexadecimal UUID string');
        return u;
      };
    case 'number':
      return (v) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new Invalid('expected Real');
        if (a.min !== null && v < a.min) throw new Invalid(`value must be at least ${a.min}`);
        if (a.max !== null && v > a.max) throw new Invalid(`value must be at most ${a.max}`);
        return v;
      };
    case 'bool':
      return (v) => {
        if (typeof v !== 'boolean') throw new Invalid('expected bool');
        return v;
      };
    case 'datetime':
      return datetime;
  }
}

/** Unresolved metric definitions: the archive policy may still come from a rule. */
export type MetricDefs = Record<string, { id: string } | { archivePolicyName?: string; unit?: string | null }>;

const metricDef = object({ archive_policy_name: opt(str), unit: opt(strLen({ max: 31 })), name: opt(str) });

export const metricsSchema: Validator<MetricDefs> = (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid('expected a dictionary');
  // Keyed by metric names users chose ("__proto__" included): no prototype.
  const out: MetricDefs = Object.create(null) as MetricDefs;
  for (const [name, def] of Object.entries(v as Record<string, unknown>)) {
    if (name.includes('/')) throw new Invalid("'/' is not supported in metric name", [name]);
    try {
      if (typeof def === 'string') {
        const id = parseUuid(def);
        if (id === null) throw new Invalid('not a valid value');
        out[name] = { id };
      } else {
        const d = metricDef(def);
        out[name] = { archivePolicyName: d.archive_policy_name, unit: d.unit ?? null };
      }
    } catch (e) {
      if (e instanceof Invalid) throw new Invalid(e.msg, [name, ...e.path], e.path.length === 0 || e.dictValue);
      throw e;
    }
  }
  return out;
};

export interface ResourceBody {
  id?: string;
  started_at?: bigint;
  ended_at?: bigint | null;
  user_id?: string | null;
  project_id?: string | null;
  metrics?: MetricDefs;
  attributes: Record<string, unknown>;
}

/** The body schema of a type: base fields + its attributes (required ones only on create). */
export function resourceBodySchema(rt: ResourceType, mode: 'create' | 'update'): Validator<ResourceBody> {
  const shape: Record<string, Field<unknown>> = {
    started_at: opt(datetime),
    ended_at: opt(nullable(datetime)),
    user_id: opt(nullable(str)),
    project_id: opt(nullable(str)),
    metrics: opt(metricsSchema),
  };
  if (mode === 'create') shape.id = { v: (v) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : str(v)), required: true };
  for (const [name, a] of Object.entries(rt.attributes)) {
    const v = attributeValidator(a);
    shape[name] = { v: a.required ? v : nullable(v), required: mode === 'create' && a.required };
  }
  const validate = object(shape);
  return (body) => {
    const parsed = validate(body) as Record<string, unknown>;
    const out: ResourceBody = { attributes: {} };
    for (const [k, v] of Object.entries(parsed)) {
      if (k in rt.attributes) out.attributes[k] = v;
      else (out as unknown as Record<string, unknown>)[k] = v;
    }
    return out;
  };
}

export type { MetricRef };
