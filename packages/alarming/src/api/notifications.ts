// Tally's own routes beside Aodh's, on the same plugin (identity, policy, error bodies):
// the notifier's delivery history and silences.
//
//   GET    /v2/deliveries                    every delivery the caller may see (an administrator: all)
//   GET    /v2/alarms/{id}/deliveries        one alarm's deliveries
//          ?status=pending|delivered|failed|held  &since=ISO  &until=ISO  &limit=N  &marker=ID
//          (newest first; marker: the id of the last delivery of the previous page)
//   POST   /v2/silences                      {alarm_id?, project_id?, name_pattern?, severity?, starts_at?, ends_at, comment?}
//   GET    /v2/silences                      ?active=true for those in force now
//   GET    /v2/silences/{id}
//   DELETE /v2/silences/{id}                 one that has begun ends now (its summary follows)
//
// An administrator acts on any alarm; a project's member on its project's alarms only (a
// silence it makes is bound to its project). Times are ISO 8601 (naive means UTC) and
// answered as Aodh writes them (naive UTC, microseconds).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { parseTimestamp } from '@tally/timeseries';
import { SEVERITIES, type Severity } from '../model.js';
import {
  createSilence, deleteSilence, getSilence, listDeliveries, listSilences, InvalidSilenceError, SilenceNotFoundError,
  SilenceScopeError, MAX_HISTORY_LIMIT, type DeliveryQuery, type OutboxEntry, type OutboxStatus, type Silence, type SilenceScope,
} from '../notifier/index.js';
import { isoFromStored, storedTimestamp } from '../store/index.js';
import { AodhError, clientError, invalidInput, notAuthorized } from './errors.js';
import { isAdmin, type Caller, type Policy } from './policy.js';

type Query = Record<string, string | string[] | undefined>;

export interface NotificationRoutesContext {
  /** The index database handle the notifier's tables are in. */
  db: Kysely<unknown>;
  policy: Policy;
  caller(req: FastifyRequest): Caller;
  send(reply: FastifyReply, status: number, body: unknown): FastifyReply;
  jsonBody(req: FastifyRequest): unknown;
  /** The alarm's owner, or null when the caller may not see it (or it does not exist). */
  alarmProject(c: Caller, alarmId: string): Promise<{ project_id: string | null } | null>;
  others(path: string, allowed: string[]): void;
}

/** Domain errors of the notifier as Aodh's error answers (null for any other error). */
export function notifierErrorToAodh(err: unknown): AodhError | null {
  if (err instanceof InvalidSilenceError) return invalidInput(err.field, null, err.message);
  if (err instanceof SilenceScopeError) return notAuthorized(err.requested);
  if (err instanceof SilenceNotFoundError) return clientError(`Silence ${err.silenceId} not found`, 404);
  return null;
}

const STATUSES: readonly OutboxStatus[] = ['pending', 'delivered', 'failed', 'held'];

// Times in the outbox may carry fractions of a millisecond (backoff delays).
const iso = (ms: number): string => isoFromStored(storedTimestamp(BigInt(Math.round(ms * 1000))));
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

function one(q: Query, key: string): string | undefined {
  const v = q[key];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** An instant given as ISO 8601 (naive: UTC), in ms since the epoch. */
function instant(field: string, v: unknown): number {
  if (typeof v !== 'string' || v.trim() === '') throw invalidInput(field, v ?? null, 'expected an ISO 8601 time');
  try {
    return Number(parseTimestamp(v) / 1_000_000n);
  } catch {
    throw invalidInput(field, v, 'invalid timestamp format');
  }
}

function integer(field: string, v: string, min: number): number {
  if (!/^\s*\d+\s*$/.test(v) || Number(v) < min) throw invalidInput(field, v, `it should be an integer of at least ${min}`);
  return Number(v);
}

const deliveryView = (e: OutboxEntry): Record<string, unknown> => ({
  id: e.id, kind: e.kind, request_id: e.request_id, alarm_id: e.alarm_id, alarm_name: e.alarm_name, project_id: e.project_id,
  severity: e.severity, previous: e.previous, current: e.current, reason: e.reason, reason_data: e.reason_data,
  action: e.action, status: e.status, attempts: e.attempts, last_status: e.last_status, last_error: e.last_error,
  silence_id: e.silence_id, created_at: iso(e.created_at), next_attempt_at: e.status === 'pending' ? iso(e.next_attempt_at) : null,
  completed_at: isoOrNull(e.completed_at),
});

const silenceView = (s: Silence): Record<string, unknown> => ({
  id: s.id, owner_project_id: s.owner_project_id, created_by: s.created_by, comment: s.comment, alarm_id: s.alarm_id,
  project_id: s.project_id, name_pattern: s.name_pattern, severity: s.severity, starts_at: iso(s.starts_at),
  ends_at: iso(s.ends_at), created_at: iso(s.created_at), summarized: s.summarized,
});

const SILENCE_FIELDS = new Set(['alarm_id', 'project_id', 'name_pattern', 'severity', 'starts_at', 'ends_at', 'comment']);

export function notificationRoutes(app: FastifyInstance, ctx: NotificationRoutesContext): void {
  const { db, send } = ctx;

  /** Who acts: an administrator (or anyone under the open policy), or a project's member. */
  const scopeOf = (c: Caller): SilenceScope => {
    if (ctx.policy.mode === 'open' || isAdmin(c)) return { admin: true };
    if (c.projectId === null) throw new AodhError(403, 'RBAC Authorization Failed');
    return { admin: false, projectId: c.projectId };
  };

  const deliveryQuery = (q: Query): DeliveryQuery => {
    const out: DeliveryQuery = {};
    const status = one(q, 'status');
    if (status !== undefined) {
      if (!STATUSES.includes(status as OutboxStatus)) throw invalidInput('status', status, `Value should be one of: ${STATUSES.join(', ')}`);
      out.status = status as OutboxStatus;
    }
    const since = one(q, 'since');
    if (since !== undefined) out.since = instant('since', since);
    const until = one(q, 'until');
    if (until !== undefined) out.until = instant('until', until);
    const limit = one(q, 'limit');
    if (limit !== undefined) out.limit = Math.min(MAX_HISTORY_LIMIT, integer('limit', limit, 1));
    const marker = one(q, 'marker');
    if (marker !== undefined) out.marker = integer('marker', marker, 0);
    return out;
  };

  app.get('/v2/deliveries', async (req, reply) => {
    const scope = scopeOf(ctx.caller(req));
    const q = deliveryQuery(req.query as Query);
    const alarmId = one(req.query as Query, 'alarm_id');
    if (alarmId !== undefined) q.alarm_id = alarmId;
    if (!scope.admin) q.project_id = scope.projectId;
    return send(reply, 200, (await listDeliveries(db, q)).map(deliveryView));
  });
  ctx.others('/v2/deliveries', ['GET']);

  app.get<{ Params: { id: string } }>('/v2/alarms/:id/deliveries', async (req, reply) => {
    // By the rows' owner rather than the alarm's: a deleted alarm's deliveries stay readable.
    const scope = scopeOf(ctx.caller(req));
    const q = { ...deliveryQuery(req.query as Query), alarm_id: req.params.id };
    if (!scope.admin) q.project_id = scope.projectId;
    return send(reply, 200, (await listDeliveries(db, q)).map(deliveryView));
  });
  ctx.others('/v2/alarms/:id/deliveries', ['GET']);

  app.post('/v2/silences', async (req, reply) => {
    const c = ctx.caller(req);
    const scope = scopeOf(c);
    const body = ctx.jsonBody(req);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidInput('body', body, 'Expected a JSON object');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) if (!SILENCE_FIELDS.has(k)) throw clientError(`Unknown attribute for argument silence: ${k}`);
    const text = (k: string): string | null => {
      const v = b[k];
      if (v === undefined || v === null) return null;
      if (typeof v !== 'string') throw invalidInput(k, v, "Wrong type. Expected '<class 'str'>'");
      return v;
    };
    const severity = text('severity');
    if (severity !== null && !SEVERITIES.includes(severity as Severity)) throw invalidInput('severity', severity, `Value should be one of: ${SEVERITIES.join(', ')}`);
    if (b.ends_at === undefined) throw invalidInput('ends_at', null, 'Mandatory field missing.');
    // A member silencing one alarm must be able to see it: another project's alarm is not found.
    const alarmId = text('alarm_id');
    if (alarmId !== null && !scope.admin && (await ctx.alarmProject(c, alarmId)) === null) throw clientError(`Alarm ${alarmId} not found`, 404);
    const silence = await createSilence(db, scope, {
      alarm_id: alarmId, project_id: text('project_id'), name_pattern: text('name_pattern'), severity: severity as Severity | null,
      starts_at: b.starts_at === undefined || b.starts_at === null ? undefined : instant('starts_at', b.starts_at),
      ends_at: instant('ends_at', b.ends_at), comment: text('comment') ?? '', created_by: c.userId,
    });
    return send(reply, 201, silenceView(silence));
  });
  app.get('/v2/silences', async (req, reply) => {
    const scope = scopeOf(ctx.caller(req));
    const active = one(req.query as Query, 'active');
    const opts = active !== undefined && ['1', 'true', 'yes', 'on'].includes(active.toLowerCase()) ? { activeAt: Date.now() } : {};
    return send(reply, 200, (await listSilences(db, scope, opts)).map(silenceView));
  });
  ctx.others('/v2/silences', ['GET', 'POST']);

  app.get<{ Params: { id: string } }>('/v2/silences/:id', async (req, reply) => {
    const scope = scopeOf(ctx.caller(req));
    return send(reply, 200, silenceView(await getSilence(db, scope, req.params.id)));
  });
  app.delete<{ Params: { id: string } }>('/v2/silences/:id', async (req, reply) => {
    const scope = scopeOf(ctx.caller(req));
    await deleteSilence(db, scope, req.params.id);
    return reply.code(204).send();
  });
  ctx.others('/v2/silences/:id', ['GET', 'DELETE']);
}
