// /v1/resource: typed resources with revisions, their named metrics and measures.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { archivePolicyRuleMatcher, type ArchivePolicyRule } from '@tally/timeseries';
import * as ix from '@tally/indexer';
import type { Metric, MetricRef, Resource, ResourceType, ResourceFilter } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce, allowed, listsFilteredByProject, type Identity } from '../auth.js';
import { badRequest, HttpError } from '../errors.js';
import { validate } from '../schema.js';
import { listArgs, nextLink } from '../paging.js';
import { parseBool } from './root.js';
import { metricJson, showMetric, deleteMetric, postMeasures, getMeasures } from './metric.js';
import { resourceJson, resourceEtag, resourceLastModified } from '../resources/json.js';
import { resourceBodySchema, metricsSchema, type MetricDefs, type ResourceBody } from '../resources/schema.js';
import { checkPreconditions, setValidators } from '../resources/conditional.js';
import { searchFilterFromBody } from './search.js';
import type { Ctx } from '../context.js';

type Params = { type: string; id: string; name: string };
const params = (req: FastifyRequest): Params => req.params as Params;
type Query = Record<string, string | string[]>;

export async function getTypeOr404(ctx: Ctx, name: string): Promise<ResourceType> {
  const rt = await ctx.indexer.getResourceType(name);
  if (!rt) throw new HttpError(404, `Resource type ${name} does not exist`);
  return rt;
}

/** The UUID behind a resource id in a URL (non-UUIDs map as at creation); 404 if unmappable. */
export function resourceIdOf(id: string, creator: string): string {
  try {
    return ix.resourceUuid(id, creator);
  } catch {
    throw new HttpError(404, `Resource ${id} does not exist`);
  }
}

async function getResourceOr404(ctx: Ctx, type: string, id: string): Promise<Resource> {
  const r = await ctx.indexer.getResource(type, id);
  if (!r) throw new HttpError(404, `Resource ${id} does not exist`);
  return r;
}

export const resourceTarget = (r: Resource): Record<string, string | null> => ({
  creator: r.creator, createdByProjectId: r.createdByProjectId, projectId: r.projectId,
});

/** Errors that Gnocchi reports as 400 while writing a resource. */
function writeError(e: unknown): never {
  if (e instanceof ix.NoSuchMetric || e instanceof ix.NoSuchArchivePolicy || e instanceof ix.StartAfterEnd ||
      e instanceof ix.ResourceValueError || e instanceof ix.InvalidResourceId) {
    throw badRequest(e.message);
  }
  throw e;
}

/** Resolves metric definitions without an archive policy through the archive policy rules. */
export async function resolveMetricRefs(ctx: Ctx, defs: MetricDefs): Promise<Record<string, MetricRef>> {
  const out: Record<string, MetricRef> = {};
  let matchRule: ((name: string) => ArchivePolicyRule | null) | null = null;
  for (const [name, def] of Object.entries(defs)) {
    if ('id' in def || def.archivePolicyName !== undefined) {
      out[name] = 'id' in def ? def : { archivePolicyName: def.archivePolicyName as string, unit: def.unit };
      continue;
    }
    matchRule ??= archivePolicyRuleMatcher(await ctx.indexer.listArchivePolicyRules());
    const rule = matchRule(name);
    if (!rule) throw badRequest(`No archive policy name specified and no archive policy rule found matching the metric name ${name}`);
    out[name] = { archivePolicyName: rule.archivePolicyName, unit: def.unit };
  }
  return out;
}

/** Basic and remote-user modes carry no project: as in Gnocchi, nothing to filter on. */
export function resourcePolicyFilter(ctx: Ctx, id: Identity): ResourceFilter | null {
  if (allowed('list all resource', id) || !listsFilteredByProject(ctx.cfg.authMode) || !id.projectId) return null;
  return { or: [{ '=': { created_by_project_id: id.projectId } }, { '=': { project_id: id.projectId } }] };
}

function sendResource(reply: FastifyReply, status: number, r: Resource): FastifyReply {
  setValidators(reply, resourceEtag(r), resourceLastModified(r));
  return send(reply, status, resourceJson(r));
}

function attrsArg(q: Query): string[] | undefined {
  const a = q.attrs;
  if (a === undefined) return undefined;
  return (Array.isArray(a) ? a : [a]).flatMap((x) => x.split(',')).filter(Boolean);
}

async function listResources(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, type: string, extra: ResourceFilter | null, url: string, forceHistory = false): Promise<FastifyReply> {
  checkAcceptJson(req);
  const id = ctx.identity(req);
  enforce('list resource', id);
  await getTypeOr404(ctx, type);
  const q = req.query as Query;
  const history = forceHistory || parseBool(q, 'history', false);
  const details = parseBool(q, 'details', false);
  const args = listArgs(q, ctx.cfg.maxLimit, ['revision_start:asc', 'started_at:asc']);
  const policy = resourcePolicyFilter(ctx, id);
  const filter = policy && extra ? { and: [policy, extra] } : (policy ?? extra);
  const rs = await ctx.indexer.listResources({ type, filter, details, history, sort: args.sort, limit: args.limit, marker: args.marker });
  if (rs.length >= args.limit) {
    const last = rs[rs.length - 1];
    reply.header('link', nextLink(url, q, args, history ? `${last.id}@${last.revision}` : last.id));
  }
  const attrs = attrsArg(q);
  return send(reply, 200, rs.map((r) => resourceJson(r, attrs)));
}

async function createResource(ctx: Ctx, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const identity = ctx.identity(req);
  const { type } = params(req);
  const rt = await getTypeOr404(ctx, type);
  enforce('create resource', identity);
  checkAcceptJson(req);
  const body = validate(resourceBodySchema(rt, 'create'), jsonBody(req));
  const original = body.id as string;
  let rid: string;
  try {
    rid = ix.resourceUuid(original, identity.creator);
  } catch (e) {
    throw badRequest({ cause: 'Invalid input', reason: `${e instanceof Error ? e.message : String(e)} for dictionary value @ data['id']`, detail: ['id'] });
  }
  const metrics = body.metrics ? await resolveMetricRefs(ctx, body.metrics) : undefined;
  let r: Resource;
  try {
    r = await ctx.indexer.createResource({
      type, id: rid, originalResourceId: original, creator: identity.creator, userId: body.user_id ?? null,
      projectId: body.project_id ?? null, startedAt: body.started_at, endedAt: body.ended_at ?? null,
      attributes: body.attributes as Record<string, ix.AttributeValue>, metrics,
    });
  } catch (e) {
    if (e instanceof ix.ResourceAlreadyExists) throw new HttpError(409, e.message);
    if (e instanceof ix.NamedMetricAlreadyExists) throw new HttpError(409, e.message);
    writeError(e);
  }
  reply.header('location', `${ctx.base(req)}/v1/resource/${type}/${r.id}`);
  return sendResource(reply, 201, r);
}

/** True when a PATCH body changes something other than metrics (Gnocchi then makes a revision). */
function changesRevision(r: Resource, body: ResourceBody): boolean {
  const same = (a: unknown, b: unknown): boolean => a === b || (typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase());
  if (body.started_at !== undefined && body.started_at !== r.startedAt) return true;
  if (body.ended_at !== undefined && body.ended_at !== r.endedAt) return true;
  if (body.user_id !== undefined && body.user_id !== r.userId) return true;
  if (body.project_id !== undefined && body.project_id !== r.projectId) return true;
  return Object.entries(body.attributes).some(([k, v]) => !same(v, r.attributes[k]));
}

async function patchResource(ctx: Ctx, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const identity = ctx.identity(req);
  const { type } = params(req);
  const rt = await getTypeOr404(ctx, type);
  const rid = resourceIdOf(params(req).id, identity.creator);
  const r = await getResourceOr404(ctx, type, rid);
  enforce('update resource', identity, resourceTarget(r));
  checkPreconditions(req, resourceEtag(r), resourceLastModified(r));
  checkAcceptJson(req);
  const body = validate(resourceBodySchema(rt, 'update'), jsonBody(req));
  const revision = changesRevision(r, body);
  if (!revision && body.metrics === undefined) return sendResource(reply, 200, r);
  const metrics = body.metrics ? await resolveMetricRefs(ctx, body.metrics) : undefined;
  try {
    const updated = await ctx.indexer.updateResource(type, rid, {
      startedAt: body.started_at, endedAt: body.ended_at, userId: body.user_id, projectId: body.project_id,
      attributes: body.attributes as Record<string, ix.AttributeValue>, metrics, createRevision: revision,
      ifRevisionStart: r.revisionStart,
    });
    return sendResource(reply, 200, updated);
  } catch (e) {
    if (e instanceof ix.ResourceRevisionMismatch) throw new HttpError(412, e.message);
    if (e instanceof ix.NamedMetricAlreadyExists) throw new HttpError(409, e.message);
    writeError(e);
  }
}

function collection(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/resource', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      enforce('list resource', ctx.identity(req));
      const base = `${ctx.base(req)}/v1/resource`;
      const types = await ctx.indexer.listResourceTypes();
      return send(reply, 200, Object.fromEntries(types.map((t) => [t.name, `${base}/${t.name}`])));
    },
  });
  route(app, '/v1/resource/:type', {
    GET: async (req, reply) => listResources(ctx, req, reply, params(req).type, null, `${ctx.base(req)}/v1/resource/${params(req).type}`),
    POST: async (req, reply) => createResource(ctx, req, reply),
    DELETE: async (req, reply) => {
      const identity = ctx.identity(req);
      const { type } = params(req);
      await getTypeOr404(ctx, type);
      const filter = searchFilterFromBody(req, identity.creator, { required: true });
      if (!filter) throw badRequest('caution: the query can not be empty, or it will delete entire database');
      const policy = resourcePolicyFilter(ctx, identity);
      const deleted = await ctx.indexer.deleteResources(type, policy ? { and: [policy, filter] } : filter);
      return send(reply, 200, { deleted });
    },
  });
}

function item(app: FastifyInstance, ctx: Ctx): void {
  const current = async (req: FastifyRequest): Promise<Resource> => {
    const { type, id } = params(req);
    await getTypeOr404(ctx, type);
    return getResourceOr404(ctx, type, resourceIdOf(id, ctx.identity(req).creator));
  };
  route(app, '/v1/resource/:type/:id', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      const r = await current(req);
      enforce('get resource', ctx.identity(req), resourceTarget(r));
      checkPreconditions(req, resourceEtag(r), resourceLastModified(r));
      return sendResource(reply, 200, r);
    },
    PATCH: async (req, reply) => patchResource(ctx, req, reply),
    DELETE: async (req, reply) => {
      const r = await current(req);
      enforce('delete resource', ctx.identity(req), resourceTarget(r));
      checkPreconditions(req, resourceEtag(r), resourceLastModified(r));
      await ctx.indexer.deleteResource(r.id);
      return reply.code(204).send();
    },
  });
  route(app, '/v1/resource/:type/:id/history', {
    GET: async (req, reply) => {
      const r = await current(req);
      enforce('get resource', ctx.identity(req), resourceTarget(r));
      const { type, id } = params(req);
      return listResources(ctx, req, reply, type, { '=': { id: r.id } }, `${ctx.base(req)}/v1/resource/${type}/${id}/history`, true);
    },
  });
}

async function metricsOf(ctx: Ctx, resourceId: string): Promise<Metric[]> {
  return ctx.indexer.listMetrics({ filters: { resourceId }, sort: [{ key: 'name', dir: 'asc' }], limit: 10_000 });
}

function namedMetrics(app: FastifyInstance, ctx: Ctx): void {
  const resourceOf = async (req: FastifyRequest): Promise<Resource> => {
    const { type, id } = params(req);
    await getTypeOr404(ctx, type);
    return getResourceOr404(ctx, type, resourceIdOf(id, ctx.identity(req).creator));
  };
  const named = async (req: FastifyRequest): Promise<Metric> => {
    const { type, id, name } = params(req);
    const rid = resourceIdOf(id, ctx.identity(req).creator);
    const [m] = await ctx.indexer.listMetrics({ filters: { resourceId: rid, name }, limit: 1 });
    if (m) return m;
    if (await ctx.indexer.getResource(type, rid)) throw new HttpError(404, `Metric ${name} does not exist`);
    throw new HttpError(404, `Resource ${rid} does not exist`);
  };
  route(app, '/v1/resource/:type/:id/metric', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      const r = await resourceOf(req);
      enforce('get resource', ctx.identity(req), resourceTarget(r));
      const aps = new Map((await ctx.indexer.listArchivePolicies()).map((p) => [p.name, p]));
      return send(reply, 200, (await metricsOf(ctx, r.id)).map((m) => metricJson(m, aps.get(m.archivePolicyName))));
    },
    POST: async (req, reply) => {
      const r = await resourceOf(req);
      enforce('update resource', ctx.identity(req), resourceTarget(r));
      checkAcceptJson(req);
      const defs = validate(metricsSchema, jsonBody(req));
      const metrics = await resolveMetricRefs(ctx, defs);
      try {
        await ctx.indexer.updateResource(r.type === params(req).type ? r.type : params(req).type, r.id, { metrics, appendMetrics: true, createRevision: false });
      } catch (e) {
        if (e instanceof ix.NamedMetricAlreadyExists) throw new HttpError(409, e.message);
        writeError(e);
      }
      const aps = new Map((await ctx.indexer.listArchivePolicies()).map((p) => [p.name, p]));
      return send(reply, 200, (await metricsOf(ctx, r.id)).map((m) => metricJson(m, aps.get(m.archivePolicyName))));
    },
  });
  route(app, '/v1/resource/:type/:id/metric/:name', {
    GET: async (req, reply) => showMetric(ctx, req, reply, await named(req)),
    DELETE: async (req, reply) => deleteMetric(ctx, req, reply, await named(req)),
  });
  route(app, '/v1/resource/:type/:id/metric/:name/measures', {
    GET: async (req, reply) => getMeasures(ctx, req, reply, await named(req)),
    POST: async (req, reply) => postMeasures(ctx, req, reply, await named(req)),
  });
}

export function resourceRoutes(app: FastifyInstance, ctx: Ctx): void {
  collection(app, ctx);
  item(app, ctx);
  namedMetrics(app, ctx);
}
