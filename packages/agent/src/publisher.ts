// Publishing to a Gnocchi-compatible store (Tally, Gnocchi) through @tally/client. A cycle's
// samples are written to the on-disk buffer first, then one sender sends the buffer's
// records oldest first, each cycle as one batch request
// (POST /v1/batch/resources/metrics/measures?create_metrics=true), several buffered cycles
// together while catching up, and a request split only past `maxRequestBytes`.
//
// What the store answers decides what happens to a record:
// - accepted: acknowledged (it leaves the buffer);
// - unreachable, 5xx, 429, and also 401/403/404 (credentials or URL wrong: the operator
//   fixes them, the data must still be there): the record stays, the sender waits (bounded
//   backoff with jitter) and tries again; nothing newer is sent before it;
// - "Unknown resources": they are created from the samples' snapshots (their resource
//   types and Ceilometer's archive policies first when missing) and the batch is retried;
// - another 4xx: the request is halved until the measures the store rejects are isolated;
//   those are logged with the store's message and dropped (counted), the rest is sent.
//
// Resources whose attributes changed since they were last sent are updated (PATCH) before
// their measures, so their history shows the change; what was sent is remembered per
// resource, bounded (least recently seen forgotten), and kept on disk across restarts.
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  GnocchiApiError, GnocchiTransportError, type ArchivePolicyCreate, type GnocchiClient, type JsonValue,
  type NamedMetricMeasures, type ResourcePatch, type ResourceTypeAttributeInput, type ResourceTypePatchOp,
} from '@tally/client';
import { Backoff, sleep } from '@tally/retry';
import { formatTimestamp } from '@tally/timeseries';
import type { DiskBuffer, BufferedRecord } from './buffer.js';
import { DEFAULT_PUBLISH_RETRY_MAX } from './config.js';
import type { Logger, MeterType, ResourceSnapshot, ResourceTypeDefinition, Sample } from './pollster.js';

/** Ceilometer's archive policies (ceilometer-upgrade creates them from gnocchi_resources.yaml). */
export const CEILOMETER_ARCHIVE_POLICIES: readonly ArchivePolicyCreate[] = [
  { name: 'ceilometer-low', back_window: 0, aggregation_methods: ['mean'], definition: [{ granularity: '5 minutes', timespan: '30 days' }] },
  { name: 'ceilometer-low-rate', back_window: 0, aggregation_methods: ['mean', 'rate:mean'], definition: [{ granularity: '5 minutes', timespan: '30 days' }] },
  { name: 'ceilometer-high', back_window: 0, aggregation_methods: ['mean'], definition: [
    { granularity: '1 second', timespan: '1 hour' }, { granularity: '1 minute', timespan: '1 day' }, { granularity: '1 hour', timespan: '365 days' }] },
  { name: 'ceilometer-high-rate', back_window: 0, aggregation_methods: ['mean', 'rate:mean'], definition: [
    { granularity: '1 second', timespan: '1 hour' }, { granularity: '1 minute', timespan: '1 day' }, { granularity: '1 hour', timespan: '365 days' }] },
];

/** Ceilometer's choice: cumulative counters get `rate:mean`, so that rates come from the store. */
export function defaultArchivePolicy(type: MeterType): string {
  return type === 'cumulative' ? 'ceilometer-low-rate' : 'ceilometer-low';
}

/** Gnocchi refuses `/` in resource ids; Ceilometer's publisher writes `_` instead. */
export const storeResourceId = (id: string): string => id.replace(/\//g, '_');

// ------------------------------------------------------------------ record encoding

/** A buffered cycle: resources once, samples pointing at them. */
interface RecordBody {
  v: 1;
  source: string;
  /** Archive policy the source names, or null for Ceilometer's per meter type. */
  ap: string | null;
  res: [id: string, type: string, attributes: Record<string, JsonValue>][];
  /** meter, unit, type, volume, timestamp (ns, decimal), index in `res`. */
  s: [string, string, MeterType, number, string, number][];
}

export function encodeRecord(source: string, archivePolicy: string | null, samples: readonly Sample[]): Buffer {
  const index = new Map<string, number>();
  const body: RecordBody = { v: 1, source, ap: archivePolicy, res: [], s: [] };
  for (const x of samples) {
    const id = storeResourceId(x.resource.id);
    let i = index.get(id);
    if (i === undefined) {
      i = body.res.length;
      index.set(id, i);
      body.res.push([id, x.resource.type, { ...x.resource.attributes }]);
    } else {
      // The last snapshot of a resource in a cycle is the one that counts.
      body.res[i] = [id, x.resource.type, { ...x.resource.attributes }];
    }
    body.s.push([x.meter, x.unit, x.type, x.volume, x.timestamp.toString(), i]);
  }
  return Buffer.from(JSON.stringify(body));
}

export function decodeRecord(payload: Buffer): RecordBody {
  const b = JSON.parse(payload.toString('utf8')) as RecordBody;
  if (b.v !== 1 || !Array.isArray(b.res) || !Array.isArray(b.s)) throw new Error('unknown buffer record format');
  return b;
}

// ------------------------------------------------------------------ batches

interface MetricEntry {
  resource: string;
  meter: string;
  body: NamedMetricMeasures;
  samples: number;
  bytes: number;
}

/** Measures grouped per resource and metric, in the order they were read. */
function groupMeasures(records: readonly RecordBody[]): { entries: MetricEntry[]; resources: Map<string, ResourceSnapshot> } {
  const byKey = new Map<string, MetricEntry>();
  const resources = new Map<string, ResourceSnapshot>();
  for (const r of records) {
    for (const [id, type, attributes] of r.res) resources.set(id, { id, type, attributes });
    for (const [meter, unit, type, volume, ts, ri] of r.s) {
      const id = r.res[ri][0];
      const key = `${id}\u0000${meter}`;
      let e = byKey.get(key);
      if (!e) {
        e = { resource: id, meter, body: { archive_policy_name: r.ap ?? defaultArchivePolicy(type), unit, measures: [] }, samples: 0, bytes: 64 + id.length + meter.length };
        byKey.set(key, e);
      }
      e.body.measures.push({ timestamp: formatTimestamp(BigInt(ts)), value: volume });
      e.samples++;
      e.bytes += 60;
    }
  }
  return { entries: [...byKey.values()], resources };
}

/** Entries cut into requests of at most `maxBytes` (estimated JSON size), in order. */
function chunk(entries: MetricEntry[], maxBytes: number): MetricEntry[][] {
  const out: MetricEntry[][] = [];
  let cur: MetricEntry[] = [];
  let size = 2;
  for (const e of entries) {
    if (cur.length > 0 && size + e.bytes > maxBytes) {
      out.push(cur);
      cur = [];
      size = 2;
    }
    cur.push(e);
    size += e.bytes;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function batchBody(entries: readonly MetricEntry[]): Record<string, Record<string, NamedMetricMeasures>> {
  const body: Record<string, Record<string, NamedMetricMeasures>> = {};
  for (const e of entries) (body[e.resource] ??= {})[e.meter] = e.body;
  return body;
}

// ------------------------------------------------------------------ errors

/** The store cannot take data now; the record waits in the buffer. */
class StoreUnavailable extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

function isUnavailable(e: unknown): boolean {
  if (e instanceof GnocchiTransportError) return true;
  if (e instanceof GnocchiApiError) return e.status >= 500 || [401, 403, 404, 408, 429].includes(e.status);
  return false;
}

/** Gnocchi answers 409 for an archive policy that exists, 400 "... already exists" for a resource type. */
const alreadyExists = (e: unknown): boolean =>
  e instanceof GnocchiApiError && (e.status === 409 || (e.status === 400 && /already exists/i.test(describe(e))));

const describe = (e: GnocchiApiError): string =>
  typeof e.description === 'string' ? e.description : JSON.stringify(e.description);

/** Ids (as sent) of the resources an "Unknown resources" answer names, when it can be read. */
function unknownResourceIds(e: GnocchiApiError): string[] | null {
  const d = e.description;
  if (typeof d === 'object' && Array.isArray(d.detail)) {
    const ids = d.detail.map((x) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? x.original_resource_id : null));
    if (ids.every((x): x is string => typeof x === 'string')) return ids;
  }
  if (typeof d === 'string') {
    const ids = [...d.matchAll(/'original_resource_id': '((?:[^'\\]|\\.)*)'/g)].map((m) => m[1]);
    if (ids.length > 0) return ids;
  }
  return null;
}

// ------------------------------------------------------------------ the publisher

export interface PublisherStats {
  /** Samples the store acknowledged (since start). */
  published: number;
  /** Samples the store refused with a 4xx and that were dropped (since start). */
  rejected: number;
  /** Batch requests sent (since start). */
  requests: number;
  /** Whether the store answered the last attempt. */
  storeUp: boolean;
}

export interface PublisherOptions {
  client: GnocchiClient;
  buffer: DiskBuffer;
  log: Logger;
  /** Where the memory of resources sent is kept between runs. */
  stateDir: string;
  maxRequestBytes: number;
  /**
   * Backoff between attempts while the store is away (ms): from 1 s, or from the ceiling
   * when that is shorter, up to `publish_retry_max`'s default.
   */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Resources remembered (attribute hashes) at most. */
  maxKnownResources?: number;
}

const KNOWN_FILE = 'resources.json';

export class Publisher {
  readonly #client: GnocchiClient;
  readonly #buffer: DiskBuffer;
  readonly #log: Logger;
  readonly #maxRequestBytes: number;
  readonly #backoff: Backoff;
  readonly #knownPath: string;
  readonly #maxKnown: number;
  readonly #types = new Map<string, ResourceTypeDefinition>();
  /** Resource id -> hash of the type and attributes last sent; insertion order is recency. */
  readonly #known = new Map<string, string>();
  #knownDirty = false;
  #typesReady = false;
  #policiesReady = false;
  #stopping = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  readonly #abort = new AbortController();
  readonly stats: PublisherStats = { published: 0, rejected: 0, requests: 0, storeUp: true };

  constructor(o: PublisherOptions) {
    this.#client = o.client;
    this.#buffer = o.buffer;
    this.#log = o.log;
    this.#maxRequestBytes = o.maxRequestBytes;
    const maxMs = o.retryMaxMs ?? DEFAULT_PUBLISH_RETRY_MAX * 1000;
    this.#backoff = new Backoff({ baseMs: o.retryBaseMs ?? Math.min(1_000, maxMs), maxMs });
    this.#knownPath = join(o.stateDir, KNOWN_FILE);
    this.#maxKnown = o.maxKnownResources ?? 100_000;
  }

  /** Resource types created on the store when missing (pollsters' and the agent's own). */
  addResourceTypes(defs: readonly ResourceTypeDefinition[]): void {
    for (const d of defs) {
      if (!this.#types.has(d.name)) {
        this.#types.set(d.name, d);
        this.#typesReady = false;
      }
    }
  }

  async start(): Promise<void> {
    try {
      const saved = JSON.parse(await readFile(this.#knownPath, 'utf8')) as Record<string, string>;
      for (const [k, v] of Object.entries(saved)) this.#known.set(k, v);
    } catch {
      // First run, or a file cut short: every resource is updated once, which is harmless.
    }
    this.#loop = this.#run();
  }

  /** Writes a cycle's samples to the buffer (durable once this resolves) and wakes the sender. */
  async submit(source: string, archivePolicy: string | null, samples: readonly Sample[]): Promise<void> {
    const good = samples.filter((s) => Number.isFinite(s.volume));
    if (good.length < samples.length) {
      this.#log('warn', 'samples without a finite value dropped', { source, dropped: samples.length - good.length });
      this.stats.rejected += samples.length - good.length;
    }
    if (good.length === 0) return;
    await this.#buffer.append(encodeRecord(source, archivePolicy, good), good.length);
    this.#wake?.();
  }

  /**
   * Stops the sender: what the store takes within `flushMs` is sent, the rest stays in
   * the buffer for the next run.
   */
  async stop(flushMs = 5_000): Promise<void> {
    this.#stopping = true;
    const timer = setTimeout(() => this.#abort.abort(), flushMs);
    this.#wake?.();
    await this.#loop?.catch(() => undefined);
    clearTimeout(timer);
    await this.#saveKnown();
  }

  async #run(): Promise<void> {
    let failures = 0;
    // Set while the samples kept during an outage are being sent, so that their end is said.
    let catchingUp = false;
    for (;;) {
      if (this.#abort.signal.aborted) return;
      try {
        const records = await this.#buffer.peek(this.#maxRequestBytes);
        if (records.length === 0) {
          if (catchingUp) {
            catchingUp = false;
            this.#log('info', 'buffer drained: every buffered sample is published');
          }
          if (this.#stopping) return;
          await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#wake = null;
          continue;
        }
        await this.#sendRecords(records);
        if (!this.stats.storeUp || failures > 0) {
          this.#log('info', 'store reachable again: sending buffered samples', { buffered: this.#buffer.stats().samples });
          catchingUp = true;
        }
        this.stats.storeUp = true;
        failures = 0;
        this.#backoff.reset();
      } catch (e) {
        failures++;
        const message = e instanceof Error ? e.message : String(e);
        if (!(e instanceof StoreUnavailable)) {
          // Not the store being away (a refusal of setup requests, a local failure): the
          // records stay, the error is said each time, and the sender tries again later.
          this.#log('error', 'publishing failed: samples stay in the buffer', { error: message, buffered: this.#buffer.stats().samples });
        } else if (this.stats.storeUp) {
          this.#log('warn', 'store unavailable: samples stay in the buffer until it answers', { error: message, buffered: this.#buffer.stats().samples });
        } else {
          this.#log('debug', 'store still unavailable', { error: message, attempts: failures });
        }
        this.stats.storeUp = false;
        if (this.#stopping) return;
        try {
          await sleep(this.#backoff.next(), this.#abort.signal);
        } catch {
          return;
        }
      }
    }
  }

  /** Calls the store; failures that mean "not now" become StoreUnavailable. */
  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isUnavailable(e)) throw new StoreUnavailable(e);
      throw e;
    }
  }

  async #ensurePolicies(): Promise<void> {
    if (this.#policiesReady) return;
    for (const ap of CEILOMETER_ARCHIVE_POLICIES) {
      try {
        await this.#call(() => this.#client.archivePolicy.create(ap));
      } catch (e) {
        if (!alreadyExists(e)) throw e;
      }
    }
    this.#policiesReady = true;
  }

  async #ensureTypes(): Promise<void> {
    if (this.#typesReady) return;
    for (const t of this.#types.values()) {
      const attributes: Record<string, ResourceTypeAttributeInput> = {};
      for (const [k, a] of Object.entries(t.attributes)) {
        attributes[k] = { type: a.type, required: a.required, ...(a.type === 'string' ? { min_length: 0, max_length: a.maxLength ?? 255 } : {}) } as ResourceTypeAttributeInput;
      }
      try {
        await this.#call(() => this.#client.resourceType.create({ name: t.name, attributes }));
        this.#log('info', 'resource type created', { type: t.name });
      } catch (e) {
        if (alreadyExists(e)) {
          await this.#completeType(t.name, attributes);
          continue;
        }
        if (!(e instanceof GnocchiApiError)) throw e;
        // A definition the store refuses must not hold every other source's samples back:
        // said once here, the resources of that type are then refused (and counted) alone.
        this.#log('error', 'store refused a resource type', { type: t.name, status: e.status, message: describe(e) });
      }
    }
    this.#typesReady = true;
  }

  /**
   * A type the store already has may lack attributes the pollster sets: Gnocchi's upgrade
   * creates Ceilometer's older `instance` (no flavor_name, for one), which resources of the
   * newer shape would be refused by. Missing attributes are added as ceilometer-upgrade
   * adds them: a required string filled with '' on existing resources; any other required
   * attribute, which has no neutral value to fill in, becomes optional.
   */
  async #completeType(name: string, wanted: Readonly<Record<string, ResourceTypeAttributeInput>>): Promise<void> {
    try {
      const have = await this.#call(() => this.#client.resourceType.get(name));
      const ops: ResourceTypePatchOp[] = Object.entries(wanted)
        .filter(([k]) => !(k in have.attributes))
        .map(([k, a]) => ({
          op: 'add' as const,
          path: `/attributes/${k}` as const,
          value: a.required !== true ? a : a.type === 'string' ? { ...a, options: { fill: '' } } : { ...a, required: false },
        }));
      if (ops.length === 0) return;
      await this.#call(() => this.#client.resourceType.update(name, ops));
      this.#log('info', 'resource type given the attributes it lacked', { type: name, added: ops.map((o) => o.path.slice('/attributes/'.length)) });
    } catch (e) {
      if (!(e instanceof GnocchiApiError)) throw e;
      this.#log('error', 'store refused to complete a resource type', { type: name, status: e.status, message: describe(e) });
    }
  }

  async #sendRecords(records: BufferedRecord[]): Promise<void> {
    await this.#ensurePolicies();
    await this.#ensureTypes();
    const bodies: RecordBody[] = [];
    for (const r of records) {
      try {
        bodies.push(decodeRecord(r.payload));
      } catch (e) {
        // The CRC passed, so this is a format this agent does not read: say so, skip it.
        this.#log('error', 'buffer record unreadable, dropped', { samples: r.samples, error: (e as Error).message });
        this.stats.rejected += r.samples;
      }
    }
    const { entries, resources } = groupMeasures(bodies);
    await this.#syncResources(resources);
    for (const part of chunk(entries, this.#maxRequestBytes)) await this.#post(part, resources, 0);
    await this.#buffer.ack(records[records.length - 1]);
    this.#touchKnown(resources);
  }

  #hash(r: ResourceSnapshot): string {
    const sorted = Object.keys(r.attributes).sort().map((k) => [k, r.attributes[k]]);
    return createHash('sha1').update(JSON.stringify([r.type, sorted])).digest('base64');
  }

  #touchKnown(resources: Map<string, ResourceSnapshot>): void {
    for (const r of resources.values()) {
      const h = this.#hash(r);
      this.#known.delete(r.id);
      this.#known.set(r.id, h);
      this.#knownDirty = true;
    }
    while (this.#known.size > this.#maxKnown) this.#known.delete(this.#known.keys().next().value as string);
  }

  async #saveKnown(): Promise<void> {
    if (!this.#knownDirty) return;
    const tmp = `${this.#knownPath}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(Object.fromEntries(this.#known)));
      await rename(tmp, this.#knownPath);
      this.#knownDirty = false;
    } catch (e) {
      this.#log('warn', 'could not save the resources sent', { error: (e as Error).message });
    }
  }

  /**
   * Resources whose type or attributes differ from what was last sent are updated; one this
   * agent has not sent yet is created first (one request for a new resource), and updated
   * only when the store already had it.
   */
  async #syncResources(resources: Map<string, ResourceSnapshot>): Promise<void> {
    let changed = 0;
    for (const r of resources.values()) {
      const h = this.#hash(r);
      if (this.#known.get(r.id) === h) continue;
      changed++;
      if (this.#known.has(r.id) || (await this.#createResource(r)) === 'exists') await this.#updateResource(r);
      this.#known.set(r.id, h);
      this.#knownDirty = true;
    }
    if (changed > 0) await this.#saveKnown();
  }

  async #updateResource(r: ResourceSnapshot): Promise<void> {
    try {
      await this.#call(() => this.#client.resource.update(r.type, r.id, { ...r.attributes } as ResourcePatch));
      if (this.#known.has(r.id)) this.#log('info', 'resource attributes changed: updated', { resource: r.id, type: r.type });
    } catch (e) {
      if (e instanceof StoreUnavailable && e.cause instanceof GnocchiApiError && e.cause.status === 404) {
        await this.#createResource(r);
      } else if (e instanceof GnocchiApiError && e.status < 500) {
        this.#log('warn', 'resource update refused by the store', { resource: r.id, type: r.type, status: e.status, message: describe(e) });
      } else {
        throw e;
      }
    }
  }

  /** 'exists' when the store already had it (409); 'refused' when it will not take it (said in the log). */
  async #createResource(r: ResourceSnapshot): Promise<'created' | 'exists' | 'refused'> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#call(() => this.#client.resource.create(r.type, { ...r.attributes, id: r.id }));
        this.#log('debug', 'resource created', { resource: r.id, type: r.type });
        return 'created';
      } catch (e) {
        const api = e instanceof StoreUnavailable ? (e.cause instanceof GnocchiApiError ? e.cause : null) : e instanceof GnocchiApiError ? e : null;
        if (api?.status === 409) return 'exists';
        if (api?.status === 404) {
          // The type is missing (deleted since, or refused): create the types and try once more.
          if (attempt === 0) {
            this.#typesReady = false;
            await this.#ensureTypes();
            continue;
          }
          this.#log('warn', 'resource not created: the store has no such resource type', { resource: r.id, type: r.type, message: describe(api) });
          return 'refused';
        }
        if (e instanceof StoreUnavailable) throw e;
        if (api && api.status < 500) {
          this.#log('warn', 'resource creation refused by the store', { resource: r.id, type: r.type, status: api.status, message: describe(api) });
          return 'refused';
        }
        throw e;
      }
    }
  }

  /** Sends one request's entries; on a 4xx, creates what is missing or isolates what is refused. */
  async #post(entries: MetricEntry[], resources: Map<string, ResourceSnapshot>, depth: number): Promise<void> {
    try {
      this.stats.requests++;
      await this.#call(() => this.#client.batch.resourcesMetricsMeasures(batchBody(entries), { createMetrics: true }));
      this.stats.published += entries.reduce((s, e) => s + e.samples, 0);
      return;
    } catch (e) {
      if (!(e instanceof GnocchiApiError)) throw e;
      if (e.status === 400 && e.reasonCause === 'Unknown resources' && depth < 3) {
        const ids = unknownResourceIds(e) ?? [...new Set(entries.map((x) => x.resource))];
        for (const id of ids) {
          const r = resources.get(id);
          if (r) await this.#createResource(r);
        }
        this.#touchKnown(new Map(ids.flatMap((id) => (resources.has(id) ? [[id, resources.get(id) as ResourceSnapshot]] : []))));
        return this.#post(entries, resources, depth + 1);
      }
      if (entries.length > 1) {
        const half = entries.length >> 1;
        await this.#post(entries.slice(0, half), resources, depth);
        await this.#post(entries.slice(half), resources, depth);
        return;
      }
      const [one] = entries;
      if (e.status === 413 && one.body.measures.length > 1) {
        const half = one.body.measures.length >> 1;
        const split = (ms: NamedMetricMeasures['measures']): MetricEntry => ({ ...one, body: { ...one.body, measures: ms }, samples: ms.length });
        await this.#post([split(one.body.measures.slice(0, half))], resources, depth);
        await this.#post([split(one.body.measures.slice(half))], resources, depth);
        return;
      }
      this.stats.rejected += one.samples;
      this.#log('error', 'store refused measures: dropped', {
        resource: one.resource, metric: one.meter, samples: one.samples, status: e.status, message: describe(e), rejectedTotal: this.stats.rejected,
      });
    }
  }
}
