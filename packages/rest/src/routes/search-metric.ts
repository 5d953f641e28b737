// /v1/search/metric: measures of some metrics whose value satisfies a predicate
// (domain/value-query.ts), given in the body; metrics and bounds in the query string.
import type { FastifyInstance } from 'fastify';
import { parseTimestamp, parseTimespan, type Nanos, Raw, pyFloatJson as pyFloat, formatTimestamp } from '@tally/timeseries';
import { parseUuid } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { badRequest } from '../errors.js';
import { granularitySeconds } from '../read.js';
import { metricTarget } from './metric.js';
import { compileValueQuery, searchByValue } from '../domain/value-query.js';
import type { Ctx } from '../context.js';

function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export function searchMetricRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/search/metric', {
    POST: async (req, reply) => {
      checkAcceptJson(req);
      const identity = ctx.identity(req);
      const q = req.query as Record<string, string | string[] | undefined>;
      const ids = list(q.metric_id).map((id) => parseUuid(id)).filter((x): x is string => x !== null);
      const metrics = await ctx.indexer.getMetrics(ids);
      for (const m of metrics) enforce('get metric', identity, metricTarget(m));
      const hasBody = Buffer.isBuffer(req.body) && req.body.length > 0;
      if (!hasBody) throw badRequest('No query specified in body');
      const predicate = compileValueQuery(jsonBody(req));
      const when = (name: 'start' | 'stop'): Nanos | undefined => {
        const v = list(q[name])[0];
        if (v === undefined) return undefined;
        try {
          return parseTimestamp(v);
        } catch {
          throw badRequest(`Invalid value for ${name}`);
        }
      };
      const start = when('start');
      const stop = when('stop');
      const aggregation = list(q.aggregation)[0] ?? 'mean';
      let grans: Nanos[] | undefined;
      try {
        grans = q.granularity === undefined ? undefined : list(q.granularity).map((g) => parseTimespan(g)).sort((a, b) => (a > b ? -1 : 1));
      } catch (e) {
        throw badRequest(e instanceof Error ? e.message : String(e));
      }
      const parts: string[] = [];
      for (const { metric, points } of await searchByValue(ctx, metrics, predicate, { aggregation, granularities: grans, start, stop })) {
        const items: string[] = [];
        for (const p of points) {
          const gText = pyFloat(granularitySeconds(p.granularity));
          for (let i = 0; i < p.ts.length; i++) items.push(`["${formatTimestamp(p.ts[i])}", ${gText}, ${pyFloat(p.values[i])}]`);
        }
        parts.push(`${JSON.stringify(metric.id)}: [${items.join(', ')}]`);
      }
      return send(reply, 200, new Raw(`{${parts.join(', ')}}`));
    },
  });
}
