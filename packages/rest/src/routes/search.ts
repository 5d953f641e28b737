// /v1/search/resource/{type}: a search tree in the body or the `filter=` string form
// (validated by domain/resource-search.ts, compiled to SQL by the indexer).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as ix from '@tally/indexer';
import type { ResourceFilter } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { badRequest, HttpError } from '../errors.js';
import { listArgs, nextLink } from '../paging.js';
import { parseBool } from '../query.js';
import { resourceJson } from '../resources/json.js';
import { compileSearchFilter, resourceTypeOf, withPolicy } from '../domain/resource-search.js';
import type { Ctx } from '../context.js';

/**
 * The search filter of a request: a JSON body, else the `filter=` query string, else null.
 * An empty object means "everything" for a search (null), and is refused for a deletion.
 */
export function searchFilterFromBody(req: FastifyRequest, creator: string): ResourceFilter | null {
  const hasBody = Buffer.isBuffer(req.body) ? req.body.length > 0 : req.body != null && req.body !== '';
  const q = req.query as Record<string, string | undefined>;
  if (hasBody) return compileSearchFilter(jsonBody(req), creator);
  return q.filter ? compileSearchFilter(q.filter, creator) : null;
}

export function searchRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/search/resource/:type', {
    // Searching is a POST; a GET names the type first, so an unknown one is a 404.
    GET: async (req) => {
      await resourceTypeOf(ctx, (req.params as { type: string }).type);
      throw new HttpError(405, 'The method GET is not allowed for this resource.', { allow: 'POST' });
    },
    POST: async (req, reply) => {
      checkAcceptJson(req);
      const identity = ctx.identity(req);
      const { type } = req.params as { type: string };
      await resourceTypeOf(ctx, type);
      enforce('list resource', identity);
      const q = req.query as Record<string, string | string[]>;
      const all = withPolicy(ctx.cfg.authMode, identity, searchFilterFromBody(req, identity.creator));
      const history = parseBool(q, 'history', false);
      const args = listArgs(q, ctx.cfg.maxLimit, ['revision_start:asc', 'started_at:asc']);
      let rs;
      try {
        rs = await ctx.indexer.listResources({ type, filter: all, details: parseBool(q, 'details', false), history, sort: args.sort, limit: args.limit, marker: args.marker });
      } catch (e) {
        if (e instanceof ix.IndexerError) throw badRequest(e.message);
        throw e;
      }
      if (rs.length >= args.limit) {
        const last = rs[rs.length - 1];
        reply.header('link', nextLink(`${ctx.base(req)}/v1/search/resource/${type}`, q, args, history ? `${last.id}@${last.revision}` : last.id));
      }
      const attrs = q.attrs === undefined ? undefined : (Array.isArray(q.attrs) ? q.attrs : [q.attrs]);
      return send(reply, 200, rs.map((r) => resourceJson(r, attrs)));
    },
  });
}
