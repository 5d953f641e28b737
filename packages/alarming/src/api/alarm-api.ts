// Aodh 15's alarm API v2 as one encapsulated Fastify plugin: its body parser, CORS,
// identity, 404 and error handler (Aodh's {"error_message": ...} bodies) govern its routes
// only. Mounted on a server of its own (buildAlarmServer, Aodh's port 8042) or beside
// another API.
import type { Kysely } from 'kysely';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  HttpError, authenticate, createHttpServer, installSiblingApiBasics, isDatabaseUnavailable,
  type AuthMode, type TlsFiles, type TokenVerifier,
} from '@tally/rest';
import { VALID_AGGREGATION_METHODS, pyJson } from '@tally/timeseries';
import type { Alarm } from '../model.js';
import {
  ALARM_FLOAT_FIELDS, InvalidMarkerError, UnknownFieldError, microsFromStored, storedFromIso, storedTimestamp,
  type AlarmChange, type AlarmFilters, type AlarmInput, type AlarmStore, type HistoryFilters, type StoredAlarm,
} from '../store/index.js';
import { eventRoutes, type EventHandler } from './events.js';
import { AodhError, alarmNotFound, clientError, invalidInput, notAuthorized, pyList, pySet } from './errors.js';
import { Policy, isAdmin, type AlarmPolicy, type Caller } from './policy.js';
import { notificationRoutes, notifierErrorToAodh } from './notifications.js';
import {
  ALARM_FIELDS, ALARM_QUERY_FIELDS, ALARM_SORT_KEYS, HISTORY_FIELDS, HISTORY_SORT_KEYS,
  boolValue, parseComplexQuery, parsePage, parseQ, typedValue, type SimpleQuery,
} from './query.js';
import { defaultDescription, parseAlarm, type AlarmBody, type ValidationContext } from './validate.js';

export const ALARM_REASON_DEFAULT = 'Not evaluated yet';
export const ALARM_REASON_MANUAL = 'Manually set via API';

/** Schemes of the actions Tally's notifier delivers (Aodh's need Keystone trusts or Zaqar for the others). */
export const DEFAULT_ACTION_SCHEMES: readonly string[] = ['http', 'https', 'log', 'test'];

export interface AlarmApiOptions {
  store: AlarmStore;
  /** How requests say who they are (@tally/rest's modes; Aodh's noauth is `noauth`). */
  authMode: AuthMode;
  /** Required in auth mode `token`. */
  tokens?: TokenVerifier;
  policy?: AlarmPolicy;
  corsAllowedOrigins?: string[];
  /** Aggregation methods the metric store offers; Tally's own by default. */
  aggregationMethods?: readonly string[];
  actionSchemes?: readonly string[];
  /** Aodh's [api] alarm_max_actions, user_alarm_quota and project_alarm_quota (-1: none). */
  maxActions?: number;
  userAlarmQuota?: number;
  projectAlarmQuota?: number;
  /** Evaluates events posted to Tally's own POST /v2/events (events.ts); absent: no such route. */
  events?: EventHandler;
  log?: FastifyBaseLogger;
  /**
   * The handle on the index database that holds the notifier's tables: given, Tally's own
   * routes for delivery history and silences are served too (notifications.ts).
   */
  notifierDb?: Kysely<unknown>;
}

type Query = Record<string, string | string[] | undefined>;

const ALARM_KEYS = ['alarm_id', 'name', 'description', 'enabled', 'ok_actions', 'alarm_actions', 'insufficient_data_actions',
  'repeat_actions', 'type', 'time_constraints', 'project_id', 'user_id', 'timestamp', 'state', 'state_timestamp',
  'state_reason', 'severity', 'evaluate_timestamp'] as const;

/** Aodh answers a threshold rule with the type's own fields first, then the common ones. */
const RULE_WIRE_ORDER = ['metric', 'metrics', 'resource_id', 'query', 'resource_type', 'comparison_operator', 'threshold',
  'aggregation_method', 'evaluation_periods', 'granularity'];

function wireRule(type: string, rule: Alarm['rule']): unknown {
  if (type === 'composite' || type === 'event') return rule;
  const r = rule as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of RULE_WIRE_ORDER) if (k in r) out[k] = r[k];
  for (const [k, v] of Object.entries(r)) if (!(k in out)) out[k] = v;
  return out;
}

/** An alarm as Aodh answers it: its fields in Aodh's order, the rule under `<type>_rule`. */
export function alarmView(a: StoredAlarm): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ALARM_KEYS) out[k] = a[k];
  out[`${a.type}_rule`] = wireRule(a.type, a.rule);
  return out;
}

const changeView = (c: AlarmChange): Record<string, unknown> => ({
  event_id: c.event_id, alarm_id: c.alarm_id, type: c.type, detail: c.detail, project_id: c.project_id,
  user_id: c.user_id, on_behalf_of: c.on_behalf_of, timestamp: c.timestamp,
});

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  // As bytes: Fastify would append a charset to a string's media type, which Aodh does not send.
  return reply.code(status).header('content-type', 'application/json').send(Buffer.from(pyJson(body, { floatKeys: ALARM_FLOAT_FIELDS })));
}

/** Aodh parses bodies as JSON whatever their media type. */
function jsonBody(req: FastifyRequest): unknown {
  const raw = req.body;
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : '';
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw clientError('Request is not in valid JSON format');
  }
}

function toAodhError(err: unknown): AodhError | null {
  if (err instanceof AodhError) return err;
  const notifier = notifierErrorToAodh(err);
  if (notifier) return notifier;
  if (err instanceof InvalidMarkerError) return clientError(err.message);
  if (err instanceof UnknownFieldError) return clientError(`Unknown field: ${err.field}`);
  if (err instanceof HttpError) return new AodhError(err.status, err.message, err.headers);
  const fe = err as { statusCode?: number; code?: string; message?: string };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new AodhError(413, 'Request body is larger than the server accepts.');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new AodhError(fe.statusCode, fe.message ?? 'Bad Request');
  // The index database full, read-only, unreachable or locked too long: not the request's
  // fault, and worth retrying (as the metric API answers it).
  if (isDatabaseUnavailable(err)) return new AodhError(503, `The alarm database is unavailable right now: ${fe.message ?? 'unavailable'}`);
  return null;
}

/** Adds the project scope Aodh puts around a by-resources query for a confined (or on-behalf) caller. */
function scopeResourceQuery(query: string, project: string): string {
  return JSON.stringify({ and: [{ '=': { created_by_project_id: project } }, JSON.parse(query) as unknown] });
}

export async function alarmApi(app: FastifyInstance, opts: AlarmApiOptions): Promise<void> {
  const { store } = opts;
  if (opts.authMode === 'token' && !opts.tokens) throw new Error('auth mode token needs a token verifier');
  const policy = new Policy(opts.policy ?? 'default');
  const methods = new Set(opts.aggregationMethods ?? VALID_AGGREGATION_METHODS);
  const schemes = new Set(opts.actionSchemes ?? DEFAULT_ACTION_SCHEMES);
  const maxActions = opts.maxActions ?? -1;
  const userQuota = opts.userAlarmQuota ?? -1;
  const projectQuota = opts.projectAlarmQuota ?? -1;

  installSiblingApiBasics(app, opts);
  app.setNotFoundHandler(async (_req, reply) => send(reply, 404, new AodhError(404, 'The resource could not be found.').body()));
  app.setErrorHandler(async (err, req, reply) => {
    const e = toAodhError(err) ?? new AodhError(500, 'Internal error');
    if (e.status >= 500) opts.log?.error({ err, url: req.url, method: req.method }, 'alarm API request failed');
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    return send(reply, e.status, e.body());
  });

  /** Who calls: under the open policy, a request without identity is an anonymous caller. */
  const caller = (req: FastifyRequest): Caller => {
    try {
      const id = authenticate(opts.authMode, req.headers);
      return { userId: id.userId || null, projectId: id.projectId || null, roles: id.roles };
    } catch (e) {
      if (policy.mode === 'open' && e instanceof HttpError && e.status === 401) return { userId: null, projectId: null, roles: [] };
      throw e;
    }
  };
  const actor = (c: Caller) => ({ userId: c.userId, projectId: c.projectId });
  const validation = (c: Caller): ValidationContext => ({
    aggregationMethods: methods, actionSchemes: schemes, maxActions, limitedProject: policy.limitedProject(c),
  });

  /** The alarm the caller may act on with `rule`: another project's is not found (404). */
  const visibleAlarm = async (c: Caller, id: string, rule: Parameters<Policy['enforce']>[0]): Promise<StoredAlarm> => {
    const a = await store.get(id);
    if (!a || (!isAdmin(c) && a.project_id !== c.projectId)) throw alarmNotFound(id);
    policy.enforce(rule, c, { project_id: a.project_id });
    return a;
  };

  /** The rule as stored: a by-resources query scoped to the owner when Aodh would scope it. */
  const storedRule = (c: Caller, body: AlarmBody, owner: string | null): Alarm['rule'] => {
    if (body.type !== 'gnocchi_aggregation_by_resources_threshold') return body.rule as unknown as Alarm['rule'];
    const limited = policy.limitedProject(c);
    const scope = limited ?? (owner !== c.projectId ? owner : null);
    if (!scope) return body.rule as unknown as Alarm['rule'];
    return { ...body.rule, query: scopeResourceQuery(body.rule.query as string, scope) } as unknown as Alarm['rule'];
  };

  const overQuota = async (projectId: string | null, userId: string | null): Promise<boolean> => {
    // A limit of -1 means none, stored or default alike.
    const stored = (await store.getQuotas(projectId)).find((q) => q.resource === 'alarms');
    const projectLimit = stored ? stored.limit : projectQuota;
    if (projectLimit >= 0 && (await store.count({ projectId })) >= projectLimit) return true;
    return userQuota >= 0 && (await store.count({ userId })) >= userQuota;
  };

  const toInput = (body: AlarmBody, rule: Alarm['rule'], owner: { user_id: string | null; project_id: string | null }, stateReason: string): AlarmInput => ({
    name: body.name, description: body.description || defaultDescription(body.type, body.rule), type: body.type,
    enabled: body.enabled, state: body.state, state_reason: stateReason, severity: body.severity,
    ok_actions: body.ok_actions, alarm_actions: body.alarm_actions, insufficient_data_actions: body.insufficient_data_actions,
    repeat_actions: body.repeat_actions, user_id: owner.user_id, project_id: owner.project_id,
    time_constraints: body.time_constraints, rule,
  });

  // ---- root ----
  app.get('/', async (req, reply) => {
    const base = `${req.protocol}://${req.headers.host ?? 'localhost'}`;
    return send(reply, 200, {
      versions: {
        values: [{
          id: 'v2',
          links: [{ href: `${base}/v2`, rel: 'self' }, { href: 'https://docs.openstack.org/', rel: 'describedby', type: 'text/html' }],
          'media-types': [
            { base: 'application/json', type: 'application/vnd.openstack.telemetry-v2+json' },
            { base: 'application/xml', type: 'application/vnd.openstack.telemetry-v2+xml' },
          ],
          status: 'stable',
          updated: '2013-02-13T00:00:00Z',
        }],
      },
    });
  });
  app.get('/healthcheck', async (_req, reply) => reply.code(200).header('content-type', 'text/plain; charset=UTF-8').send(''));

  const only = (allow: string) => async () => {
    throw new AodhError(405, 'The method is not allowed for this resource.', { allow });
  };
  const others = (path: string, allowed: string[]) => {
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      if (!allowed.includes(m)) app.route({ method: m, url: path, handler: only(allowed.join(', ')) });
    }
  };

  // ---- /v2/alarms ----
  app.get('/v2/alarms', async (req, reply) => {
    const c = caller(req);
    const q = parseQ(req.query as Query);
    const keys = new Set(q.map((x) => x.field));
    const bad = [...keys].filter((k) => !ALARM_QUERY_FIELDS.includes(k));
    if (bad.length) throw invalidInput('field', pySet(keys), `only fields ${pySet(ALARM_QUERY_FIELDS)} are allowed`);
    const ops = new Set(q.map((x) => x.op));
    if ([...ops].some((o) => o !== 'eq')) throw invalidInput('op', pySet(ops), "only operations {'eq'} are allowed");
    // One query per field: with two, a check could read one value and the filter the other.
    if (keys.size !== q.length) throw invalidInput('field', pySet(keys), 'duplicate query fields are not allowed');
    const limited = policy.limitedProject(c);
    policy.enforce('get_alarms', c, limited !== null ? { project_id: limited } : { project_id: c.projectId });
    const byField = new Map(q.map((x) => [x.field, x] as [string, SimpleQuery]));
    const allProjects = byField.get('all_projects');
    const filters: AlarmFilters = {};
    if (allProjects && boolValue(allProjects)) {
      policy.enforce('get_alarms:all_projects', c);
    } else {
      const requested = byField.get('project_id');
      if (!requested) {
        filters.project_id = c.projectId;
      } else if (!isAdmin(c) && requested.value !== c.projectId) {
        throw notAuthorized(requested.value);
      }
    }
    for (const x of q) {
      if (x.field === 'all_projects') continue;
      if (x.field === 'enabled' || x.field === 'repeat_actions') {
        filters[x.field] = x.type === '' || x.type === 'boolean' ? boolValue(x) : Boolean(typedValue(x));
      } else if (x.field === 'timestamp') {
        const t = storedFromIso(x.value);
        if (t === null) throw invalidInput('timestamp', x.value, 'invalid timestamp format');
        filters.timestamp = t;
      } else {
        const v = typedValue(x);
        (filters as Record<string, string | null>)[x.field] = v === null ? null : typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
      }
    }
    const page = parsePage(req.query as Query, ALARM_SORT_KEYS);
    return send(reply, 200, (await store.list(filters, page)).map(alarmView));
  });

  app.post('/v2/alarms', async (req, reply) => {
    const c = caller(req);
    const body = parseAlarm(jsonBody(req), validation(c));
    policy.enforce('create_alarm', c);
    const { user: userLimit, project: projectLimit } = policy.limitedTo(c);
    const owner = (aspect: 'user' | 'project', limit: string | null, requested: string | undefined, callerId: string | null): string | null => {
      if (limit && requested !== undefined && requested !== callerId) throw notAuthorized(requested, aspect);
      return limit || (requested !== undefined ? requested : callerId);
    };
    const userId = owner('user', userLimit, body.user_id, c.userId);
    const projectId = owner('project', projectLimit, body.project_id, c.projectId);
    if (await overQuota(projectId, userId)) throw clientError(`Alarm quota exceeded for user ${userId} on project ${projectId}`, 403);
    const alarm = await store.create(
      toInput(body, storedRule(c, body, projectId), { user_id: userId, project_id: projectId }, ALARM_REASON_DEFAULT), actor(c));
    reply.header('location', `${req.protocol}://${req.headers.host ?? 'localhost'}/v2/alarms/${alarm.alarm_id}`);
    return send(reply, 201, alarmView(alarm));
  });
  others('/v2/alarms', ['GET', 'POST']);

  // ---- /v2/alarms/{id} ----
  app.get<{ Params: { id: string } }>('/v2/alarms/:id', async (req, reply) => {
    const c = caller(req);
    return send(reply, 200, alarmView(await visibleAlarm(c, req.params.id, 'get_alarm')));
  });

  app.put<{ Params: { id: string } }>('/v2/alarms/:id', async (req, reply) => {
    const c = caller(req);
    const old = await visibleAlarm(c, req.params.id, 'change_alarm');
    const body = parseAlarm(jsonBody(req), validation(c));
    const { user, project } = policy.limitedTo(c);
    const userId = user ?? (body.user_id !== undefined ? body.user_id : old.user_id);
    const projectId = project ?? (body.project_id !== undefined ? body.project_id : old.project_id);
    const reason = old.state !== body.state ? ALARM_REASON_MANUAL : old.state_reason;
    const updated = await store.update(old.alarm_id,
      toInput(body, storedRule(c, body, projectId), { user_id: userId, project_id: projectId }, reason), actor(c));
    if (!updated) throw alarmNotFound(req.params.id);
    return send(reply, 200, alarmView(updated));
  });

  app.delete<{ Params: { id: string } }>('/v2/alarms/:id', async (req, reply) => {
    const c = caller(req);
    const a = await visibleAlarm(c, req.params.id, 'delete_alarm');
    await store.delete(a.alarm_id, actor(c));
    return reply.code(204).send();
  });
  others('/v2/alarms/:id', ['GET', 'PUT', 'DELETE']);

  // ---- state ----
  app.get<{ Params: { id: string } }>('/v2/alarms/:id/state', async (req, reply) => {
    const c = caller(req);
    return send(reply, 200, (await visibleAlarm(c, req.params.id, 'get_alarm_state')).state);
  });

  app.put<{ Params: { id: string } }>('/v2/alarms/:id/state', async (req, reply) => {
    const c = caller(req);
    const a = await visibleAlarm(c, req.params.id, 'change_alarm_state');
    const state = jsonBody(req);
    if (typeof state !== 'string') throw invalidInput('state', state, "Value should be one of: ok, alarm, insufficient data");
    if (state !== 'ok' && state !== 'alarm' && state !== 'insufficient data') throw clientError('state invalid');
    const t = await store.transitionState(a.alarm_id, { state, reason: ALARM_REASON_MANUAL, alwaysRecord: true, actor: actor(c), recordAs: 'manual' });
    if (!t) throw alarmNotFound(req.params.id);
    return send(reply, 200, t.alarm.state);
  });
  others('/v2/alarms/:id/state', ['GET', 'PUT']);

  // ---- history ----
  app.get<{ Params: { id: string } }>('/v2/alarms/:id/history', async (req, reply) => {
    const c = caller(req);
    await visibleAlarm(c, req.params.id, 'alarm_history');
    const limited = policy.limitedProject(c);
    const filters: HistoryFilters = {};
    if (limited !== null) filters.onBehalfOf = limited;
    const q = parseQ(req.query as Query);
    const valid = ['user', 'project', 'type', 'severity'];
    let offset: number | undefined;
    let hasTimestamp = false;
    for (const x of q) {
      if (x.field === 'timestamp') {
        if (!['lt', 'le', 'gt', 'ge'].includes(x.op)) throw invalidInput('op', x.op, `unimplemented operator for ${x.field}`);
        hasTimestamp = true;
        continue;
      }
      if (x.field === 'search_offset') {
        if (x.op !== 'eq') throw invalidInput('op', x.op, `unimplemented operator for ${x.field}`);
        if (!/^\s*[+-]?\d+\s*$/.test(x.value)) throw invalidInput('search_offset', x.value, 'it should be an integer');
        offset = Number(x.value);
        continue;
      }
      const key = ({ user_id: 'user', project_id: 'project' } as Record<string, string>)[x.field] ?? x.field;
      if (!valid.includes(key)) {
        throw clientError(`Unknown argument: "${key}": unrecognized field in query, valid keys: ${pyList([...valid, 'search_offset', 'timestamp'].sort())}`);
      }
      if (x.op !== 'eq') throw invalidInput('op', x.op, `unimplemented operator for ${x.field}`);
      if (key === 'project' && limited !== null && x.value !== limited) throw notAuthorized(x.value);
      if (key === 'user') filters.userId = x.value;
      else if (key === 'project') filters.projectId = x.value;
      else if (key === 'type') filters.type = x.value;
      else filters.severity = x.value;
    }
    if (offset !== undefined && !hasTimestamp) throw invalidInput('field', 'search_offset', 'search_offset cannot be used without timestamp');
    const shift = BigInt(offset ?? 0) * 60_000_000n;
    for (const x of q.filter((y) => y.field === 'timestamp')) {
      const t = storedFromIso(x.value);
      if (t === null) throw invalidInput('timestamp', x.value, 'invalid timestamp format');
      const micros = microsFromStored(t);
      if (x.op === 'gt' || x.op === 'ge') filters.start = { timestamp: storedTimestamp(micros - shift), inclusive: x.op !== 'gt' };
      else filters.end = { timestamp: storedTimestamp(micros + shift), inclusive: x.op === 'le' };
    }
    const page = parsePage(req.query as Query, HISTORY_SORT_KEYS);
    return send(reply, 200, (await store.history(req.params.id, filters, page)).map(changeView));
  });
  others('/v2/alarms/:id/history', ['GET']);

  // ---- complex queries ----
  app.post('/v2/query/alarms', async (req, reply) => {
    const c = caller(req);
    const limited = policy.limitedProject(c);
    policy.enforce('query_alarm', c, { project_id: limited ?? c.projectId });
    const cq = parseComplexQuery(jsonBody(req), ALARM_FIELDS, 'project_id', limited);
    return send(reply, 200, (await store.query(cq.filter, cq.orderby, cq.limit)).map(alarmView));
  });
  others('/v2/query/alarms', ['POST']);
  app.post('/v2/query/alarms/history', async (req, reply) => {
    const c = caller(req);
    const limited = policy.limitedProject(c);
    policy.enforce('query_alarm_history', c, { project_id: limited ?? c.projectId });
    const cq = parseComplexQuery(jsonBody(req), HISTORY_FIELDS, 'on_behalf_of', limited);
    return send(reply, 200, (await store.queryHistory(cq.filter, cq.orderby, cq.limit)).map(changeView));
  });
  others('/v2/query/alarms/history', ['POST']);

  // ---- capabilities ----
  app.get('/v2/capabilities', async (req, reply) => {
    caller(req);
    return send(reply, 200, {
      api: {
        'alarms:history:query:complex': true, 'alarms:history:query:simple': true,
        'alarms:query:complex': true, 'alarms:query:simple': true,
      },
      alarm_storage: { 'storage:production_ready': true },
    });
  });
  others('/v2/capabilities', ['GET']);

  // ---- quotas ----
  app.get('/v2/quotas', async (req, reply) => {
    const c = caller(req);
    const asked = (req.query as Query).project_id;
    const project = (Array.isArray(asked) ? asked[0] : asked) || c.projectId;
    if (project !== c.projectId && !isAdmin(c)) throw notAuthorized(project);
    const stored = await store.getQuotas(project);
    const quotas = stored.length ? stored : [{ resource: 'alarms', limit: projectQuota }];
    return send(reply, 200, { project_id: project, quotas });
  });
  app.post('/v2/quotas', async (req, reply) => {
    const c = caller(req);
    policy.enforce('update_quotas', c);
    const body = jsonBody(req);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidInput('body', body, 'Expected a JSON object');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) if (k !== 'project_id' && k !== 'quotas') throw clientError(`Unknown attribute for argument body: ${k}`);
    if (typeof b.project_id !== 'string' || b.project_id === '') throw invalidInput('project_id', b.project_id ?? null, 'Mandatory field missing.');
    const raw = b.quotas ?? [];
    if (!Array.isArray(raw)) throw invalidInput('quotas', raw, "Wrong type. Expected '<class 'list'>'");
    const quotas = raw.map((q: unknown) => {
      if (typeof q !== 'object' || q === null || Array.isArray(q)) throw invalidInput('quotas', q, "Wrong type. Expected '<class 'dict'>'");
      const { resource, limit } = q as Record<string, unknown>;
      if (resource !== 'alarms') throw invalidInput('resource', resource ?? null, resource === undefined ? 'Mandatory field missing.' : 'Value should be one of: alarms');
      if (typeof limit !== 'number' || !Number.isSafeInteger(limit)) throw invalidInput('limit', limit ?? null, limit === undefined ? 'Mandatory field missing.' : "Wrong type. Expected '<class 'int'>'");
      if (limit < -1) throw invalidInput('limit', limit, 'Value should be greater or equal to -1');
      return { resource, limit };
    });
    return send(reply, 201, { project_id: b.project_id, quotas: await store.setQuotas(b.project_id, quotas) });
  });
  others('/v2/quotas', ['GET', 'POST']);
  app.delete<{ Params: { project: string } }>('/v2/quotas/:project', async (req, reply) => {
    const c = caller(req);
    policy.enforce('delete_quotas', c);
    await store.deleteQuotas(req.params.project);
    return reply.code(204).send();
  });
  others('/v2/quotas/:project', ['DELETE']);

  if (opts.events) eventRoutes(app, { handler: opts.events, policy, caller, jsonBody, send, others });
  if (opts.notifierDb) {
    notificationRoutes(app, {
      db: opts.notifierDb, policy, caller, send, jsonBody, others,
      alarmProject: async (c, id) => {
        const a = await store.get(id);
        return a && (isAdmin(c) || policy.mode === 'open' || a.project_id === c.projectId) ? { project_id: a.project_id } : null;
      },
    });
  }
}

export interface AlarmServerOptions extends AlarmApiOptions {
  bodyLimit: number;
  https?: TlsFiles;
}

/** A server of its own for the alarm API (Aodh's port, 8042 by default). */
export function buildAlarmServer(opts: AlarmServerOptions): FastifyInstance {
  if (opts.authMode === 'token' && !opts.tokens) throw new Error('auth mode token needs a token verifier');
  const app = createHttpServer({ bodyLimit: opts.bodyLimit, https: opts.https });
  void app.register(alarmApi, opts);
  return app;
}

