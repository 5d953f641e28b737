// A client of Aodh's v2 alarm API (as Tally's alarm service and Aodh serve it), over the same
// transport as the Gnocchi client: retries, time limits and errors behave alike. Aodh's
// error bodies ({"error_message": {"faultstring": ...}}) are read into GnocchiApiError's
// description so that callers handle both services' errors the same way.
import { GnocchiApiError } from './errors.js';
import { HttpTransport, type Query, type RequestSpec, type Transport, type TransportOptions } from './transport.js';
import { parsePythonJson, type JsonValue } from './json.js';

export type AodhClientOptions = TransportOptions | { transport: Transport };

export type AlarmState = 'ok' | 'alarm' | 'insufficient data';

/** An alarm as the API writes it; the rule is under `${type}_rule`. */
export interface AodhAlarm {
  alarm_id: string;
  name: string;
  type: string;
  state: AlarmState;
  severity: string;
  enabled: boolean;
  [field: string]: JsonValue;
}

/** What POST /v2/alarms and PUT /v2/alarms/ID read: the alarm's fields and its `${type}_rule`. */
export type AodhAlarmInput = Record<string, JsonValue>;

/** One change of an alarm's history. */
export interface AodhAlarmChange {
  event_id: string;
  alarm_id: string;
  type: string;
  detail: string;
  timestamp: string;
  [field: string]: JsonValue;
}

/** `q.field/q.op/q.value` filters of the simple query language (GET lists). */
export interface AodhSimpleQuery {
  field: string;
  op?: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
  value: string;
  type?: string;
}

export interface AodhListOptions {
  q?: AodhSimpleQuery[];
  limit?: number;
  marker?: string;
  /** "key:dir", several allowed. */
  sort?: string[];
}

const seg = (s: string): string => encodeURIComponent(s);

/** The simple query as Aodh reads it from the query string (parallel q.* lists). */
function simpleQuery(opts: AodhListOptions): Query {
  const q = opts.q ?? [];
  const out: Query = { limit: opts.limit, marker: opts.marker, sort: opts.sort };
  if (q.length > 0) {
    out['q.field'] = q.map((x) => x.field);
    out['q.op'] = q.map((x) => x.op ?? 'eq');
    out['q.value'] = q.map((x) => x.value);
    if (q.some((x) => x.type !== undefined)) out['q.type'] = q.map((x) => x.type ?? '');
  }
  return out;
}

/** Aodh's faultstring, when the body is one of its error documents. */
function faultString(body: string): string | null {
  try {
    const v = parsePythonJson(body);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
    const m = v.error_message;
    if (m !== null && typeof m === 'object' && !Array.isArray(m) && typeof m.faultstring === 'string') return m.faultstring;
  } catch {
    // not JSON: leave the error as the transport read it
  }
  return null;
}

export class AodhClient {
  readonly transport: Transport;

  constructor(opts: AodhClientOptions) {
    this.transport = 'transport' in opts ? opts.transport : new HttpTransport(opts);
  }

  close(): void {
    this.transport.close();
  }

  async #call<T>(spec: RequestSpec): Promise<T> {
    try {
      const { value } = await this.transport.json<T>(spec);
      return value;
    } catch (e) {
      if (e instanceof GnocchiApiError && e.description === '') {
        const fault = faultString(e.body);
        if (fault !== null) throw new GnocchiApiError(e.method, e.url, e.status, e.title, fault, e.body);
      }
      throw e;
    }
  }

  readonly alarm = {
    list: (opts: AodhListOptions = {}): Promise<AodhAlarm[]> =>
      this.#call({ method: 'GET', path: '/v2/alarms', query: simpleQuery(opts) }),
    /** Alarms matching a complex query (a JSON filter such as {"=": {"name": "x"}}). */
    query: (filter?: JsonValue, opts: { orderby?: JsonValue; limit?: number } = {}): Promise<AodhAlarm[]> =>
      this.#call({
        method: 'POST', path: '/v2/query/alarms', idempotent: true,
        body: {
          ...(filter === undefined ? {} : { filter: JSON.stringify(filter) }),
          ...(opts.orderby === undefined ? {} : { orderby: JSON.stringify(opts.orderby) }),
          ...(opts.limit === undefined ? {} : { limit: opts.limit }),
        },
      }),
    get: (id: string): Promise<AodhAlarm> => this.#call({ method: 'GET', path: `/v2/alarms/${seg(id)}` }),
    create: (alarm: AodhAlarmInput): Promise<AodhAlarm> => this.#call({ method: 'POST', path: '/v2/alarms', body: alarm }),
    /** Replaces the alarm (PUT): give the whole document, as `update` builds it. */
    replace: (id: string, alarm: AodhAlarmInput): Promise<AodhAlarm> =>
      this.#call({ method: 'PUT', path: `/v2/alarms/${seg(id)}`, body: alarm }),
    /**
     * Changes some fields: the API only replaces whole alarms, so the current one is read and
     * the changes laid over it (a rule's fields over the current rule's).
     */
    update: async (id: string, changes: AodhAlarmInput): Promise<AodhAlarm> => {
      const current = await this.alarm.get(id);
      const next: Record<string, JsonValue> = { ...current, ...changes };
      const ruleKey = `${String(next.type)}_rule`;
      const was = current[ruleKey];
      const change = changes[ruleKey];
      if (isObject(was) && isObject(change)) next[ruleKey] = { ...was, ...change };
      for (const k of ['alarm_id', 'timestamp', 'state_timestamp']) delete next[k];
      return this.alarm.replace(id, next);
    },
    delete: async (id: string): Promise<void> => {
      await this.#call<null>({ method: 'DELETE', path: `/v2/alarms/${seg(id)}` });
    },
    getState: (id: string): Promise<AlarmState> => this.#call({ method: 'GET', path: `/v2/alarms/${seg(id)}/state` }),
    setState: (id: string, state: AlarmState): Promise<AlarmState> =>
      // Encoded here: the transport sends a string body as it is, and the API reads a JSON string.
      this.#call({ method: 'PUT', path: `/v2/alarms/${seg(id)}/state`, body: JSON.stringify(state) }),
    history: (id: string, opts: AodhListOptions = {}): Promise<AodhAlarmChange[]> =>
      this.#call({ method: 'GET', path: `/v2/alarms/${seg(id)}/history`, query: simpleQuery(opts) }),
    /** History of every visible alarm matching a complex query. */
    searchHistory: (filter?: JsonValue): Promise<AodhAlarmChange[]> =>
      this.#call({
        method: 'POST', path: '/v2/query/alarms/history', idempotent: true,
        body: filter === undefined ? {} : { filter: JSON.stringify(filter) },
      }),
  };

  capabilities(): Promise<Record<string, JsonValue>> {
    return this.#call({ method: 'GET', path: '/v2/capabilities' });
  }
}

function isObject(v: JsonValue | undefined): v is { [k: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
