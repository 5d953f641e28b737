// Versions, the v1 index, capabilities, status and the health check.
import type { FastifyInstance } from 'fastify';
import { VALID_AGGREGATION_METHODS } from '@tally/timeseries';
import { route, send, checkAcceptJson } from '../http.js';
import { enforce } from '../auth.js';
import { parseBool } from '../query.js';
import type { Ctx } from '../context.js';

/**
 * The Gnocchi release whose API Tally speaks. Clients read it from `build` (Ceilometer
 * refuses a Gnocchi older than 4.2.0), so it is Gnocchi's version, not Tally's.
 */
export const GNOCCHI_API_VERSION = '4.4.2';

const V1_LINKS = ['aggregates', 'aggregation', 'archive_policy', 'archive_policy_rule', 'batch', 'capabilities',
  'influxdb', 'metric', 'resource', 'resource_type', 'search', 'status'];

export function rootRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      // Tally's own version goes where Gnocchi clients do not look: a field of its own and a header.
      reply.header('x-tally-version', ctx.version);
      return send(reply, 200, {
        build: GNOCCHI_API_VERSION,
        versions: [{ status: 'CURRENT', links: [{ rel: 'self', href: `${ctx.base(req)}/v1/` }], id: 'v1.0', updated: '2015-03-19' }],
        tally_version: ctx.version,
      });
    },
  });
  route(app, '/v1', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      const base = `${ctx.base(req)}/v1`;
      return send(reply, 200, {
        version: '1.0',
        links: [{ rel: 'self', href: base }, ...V1_LINKS.map((rel) => ({ rel, href: `${base}/${rel}` }))],
      });
    },
  });
  route(app, '/healthcheck', {
    GET: async (_req, reply) => reply.code(200).header('content-type', 'text/plain; charset=UTF-8').send(''),
  });
  route(app, '/v1/capabilities', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      return send(reply, 200, { aggregation_methods: [...VALID_AGGREGATION_METHODS] });
    },
  });
  route(app, '/v1/status', {
    GET: async (req, reply) => {
      const id = ctx.identity(req);
      enforce('get status', id);
      checkAcceptJson(req);
      const details = parseBool(req.query, 'details', true);
      const backlog = await ctx.incoming.backlog({ perMetric: details });
      // Tally's own: quarantined_batches, batches that failed their checks, set aside;
      // parked_measures (of `measures`) and parked_metrics, those of metrics whose
      // aggregates fail their checks, kept until they can be folded.
      const summary = {
        metrics: backlog.metrics, measures: backlog.measures, quarantined_batches: backlog.quarantined,
        parked_measures: backlog.parkedMeasures, parked_metrics: backlog.parkedMetrics,
      };
      const storage: Record<string, unknown> = { summary };
      if (backlog.perMetric) storage.measures_to_process = Object.fromEntries(backlog.perMetric);
      const metricd = ctx.metricdStatus ? await ctx.metricdStatus() : { processors: null, statistics: {} };
      return send(reply, 200, { storage, metricd });
    },
  });
}
