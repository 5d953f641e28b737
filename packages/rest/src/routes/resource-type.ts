// /v1/resource_type: typed attributes for resources, created and patched by admins.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as ix from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { badRequest, HttpError, invalidInput } from '../errors.js';
import { resourceTypeJson } from '../resources/json.js';
import type { Ctx } from '../context.js';

const nameOf = (req: FastifyRequest): string => (req.params as { name: string }).name;

/** Validation errors of a definition, with Gnocchi's two shapes. */
function definitionError(e: unknown): never {
  if (e instanceof ix.InvalidResourceTypeDefinition) throw invalidInput(e.reason, [...e.path]);
  if (e instanceof ix.InvalidResourceAttribute) throw badRequest(`Invalid input: ${e.message}`);
  if (e instanceof ix.ResourceTypePatchConflict) throw badRequest(e.message);
  throw e;
}

async function typeOr404(ctx: Ctx, name: string): Promise<ix.ResourceType> {
  const rt = await ctx.indexer.getResourceType(name);
  if (!rt) throw new HttpError(404, `Resource type ${name} does not exist`);
  return rt;
}

/** JSON Patch bodies (RFC 6902) come as application/json-patch+json, as Gnocchi expects. */
function patchBody(req: FastifyRequest): unknown {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json-patch+json') {
    throw new HttpError(415, `Unsupported Media Type: the request media type ${type || '(none)'} is not supported by this server.`);
  }
  req.headers['content-type'] = 'application/json';
  return jsonBody(req);
}

export function resourceTypeRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/resource_type', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      ctx.identity(req);
      return send(reply, 200, (await ctx.indexer.listResourceTypes()).map(resourceTypeJson));
    },
    POST: async (req, reply) => {
      enforce('create resource type', ctx.identity(req));
      checkAcceptJson(req);
      let def: ReturnType<typeof ix.validateResourceTypeDefinition>;
      const body = jsonBody(req);
      const name = (body as { name?: unknown } | null)?.name;
      if (typeof name === 'string' && !name.isWellFormed()) throw invalidInput("expected str (not valid Unicode) for dictionary value @ data['name']", ['name']);
      try {
        def = ix.validateResourceTypeDefinition(body);
      } catch (e) {
        definitionError(e);
      }
      let rt: ix.ResourceType;
      try {
        rt = await ctx.indexer.createResourceType(def.name, def.attributes);
      } catch (e) {
        // Gnocchi answers a duplicate type with 400 (not 409), keep it.
        if (e instanceof ix.ResourceTypeAlreadyExists) throw badRequest(e.message);
        definitionError(e);
      }
      reply.header('location', `${ctx.base(req)}/v1/resource_type/${encodeURIComponent(rt.name)}`);
      return send(reply, 201, resourceTypeJson(rt));
    },
  });
  route(app, '/v1/resource_type/:name', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      ctx.identity(req);
      return send(reply, 200, resourceTypeJson(await typeOr404(ctx, nameOf(req))));
    },
    PATCH: async (req, reply) => {
      const current = await typeOr404(ctx, nameOf(req));
      enforce('update resource type', ctx.identity(req));
      checkAcceptJson(req);
      let change: ix.ResourceTypeChange;
      try {
        change = ix.resourceTypePatchToChange(current, patchBody(req));
      } catch (e) {
        definitionError(e);
      }
      if (!Object.keys(change.add ?? {}).length && !(change.remove ?? []).length) return send(reply, 200, resourceTypeJson(current));
      try {
        return send(reply, 200, resourceTypeJson(await ctx.indexer.updateResourceType(current.name, change)));
      } catch (e) {
        definitionError(e);
      }
    },
    DELETE: async (req, reply) => {
      const name = nameOf(req);
      await typeOr404(ctx, name);
      enforce('delete resource type', ctx.identity(req));
      try {
        await ctx.indexer.deleteResourceType(name);
      } catch (e) {
        if (e instanceof ix.ResourceTypeInUse || e instanceof ix.NoSuchResourceType) throw badRequest(e.message);
        throw e;
      }
      return reply.code(204).send();
    },
  });
}
