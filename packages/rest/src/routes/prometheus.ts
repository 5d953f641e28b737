// /v1/prometheus/write: Prometheus remote write (snappy-compressed protobuf WriteRequest),
// mapped as Gnocchi maps it: one resource of type `prometheus` (created with its `job` and
// `instance` attributes when missing) per job/instance pair, id "job@instance"; one metric
// per __name__ (other labels do not take part: the last series of a name in a request
// wins, as in Gnocchi), archive policy from the rules.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Measures } from '@tally/timeseries';
import * as ix from '@tally/indexer';
import type { ResourceAttributeSchema } from '@tally/indexer';
import { route } from '../http.js';
import { HttpError, badRequest } from '../errors.js';
import { snappyUncompress, SnappyError } from '../ingest/snappy.js';
import { decodeWriteRequest, RemoteWriteError, type RemoteSeries } from '../ingest/remote-write.js';
import { addToBatch } from '../ingest/columns.js';
import { resourceMetrics } from '../ingest/resources.js';
import type { Ctx } from '../context.js';

const RESOURCE_TYPE = 'prometheus';
const label = (): ResourceAttributeSchema => ({ type: 'string', required: true, minLength: 1, maxLength: 512 });
const RESOURCE_TYPE_ATTRIBUTES: Record<string, ResourceAttributeSchema> = { instance: label(), job: label() };

function invalid(reason: string): HttpError {
  return badRequest({ cause: 'Invalid input', reason: `Invalid Prometheus remote write request: ${reason}`, detail: [] });
}

function decode(req: FastifyRequest, maxLength: number): RemoteSeries[] {
  const raw = req.body;
  const body = Buffer.isBuffer(raw) ? raw : Buffer.alloc(0);
  const encoding = String(req.headers['content-encoding'] ?? 'snappy').trim().toLowerCase();
  if (encoding !== 'snappy') {
    throw new HttpError(415, `Unsupported Media Type: content encoding ${encoding} is not supported (snappy only).`);
  }
  try {
    return decodeWriteRequest(snappyUncompress(body, maxLength));
  } catch (e) {
    if (e instanceof SnappyError) throw invalid(`snappy: ${e.message}`);
    if (e instanceof RemoteWriteError) throw invalid(`protobuf: ${e.message}`);
    throw e;
  }
}

export function prometheusRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/prometheus/write', {
    POST: async (req, reply) => {
      const identity = ctx.identity(req);
      // A WriteRequest is far larger uncompressed: allow 8 times the body limit.
      const series = decode(req, Math.min(ctx.cfg.bodyLimit * 8, 1024 * 1024 * 1024));
      // (job, instance) -> metric name -> measures; the last series of a name wins.
      const byResource = new Map<string, { job: string; instance: string; metrics: Map<string, Measures> }>();
      for (const s of series) {
        // As in Gnocchi, a series with samples makes its metric even when every value is NaN
        // (which Tally does not store: summaries without observations, staleness markers).
        if (s.measures.ts.length === 0 && s.skipped === 0) continue;
        if (s.name === null) throw invalid('a time series has no __name__ label');
        const job = s.job ?? 'none';
        const instance = s.instance ?? 'none';
        const key = `${job}@${instance}`;
        let entry = byResource.get(key);
        if (!entry) byResource.set(key, (entry = { job, instance, metrics: new Map() }));
        entry.metrics.set(s.name, s.measures);
      }
      const batch = new Map<string, Measures>();
      for (const [original, { job, instance, metrics }] of byResource) {
        let rid: string;
        try {
          rid = ix.resourceUuid(original, identity.creator);
        } catch (e) {
          throw invalid(`resource id ${original}: ${e instanceof Error ? e.message : String(e)}`);
        }
        const ids = await resourceMetrics(ctx, identity, {
          type: RESOURCE_TYPE, id: rid, originalId: original, names: [...metrics.keys()],
          attributes: { job, instance }, typeAttributes: RESOURCE_TYPE_ATTRIBUTES,
        });
        for (const [name, m] of metrics) {
          const id = ids.get(name);
          if (id !== undefined && m.ts.length > 0) addToBatch(batch, id, m);
        }
      }
      if (batch.size) await ctx.incoming.add(batch);
      return reply.code(202).header('content-length', '0').send();
    },
  });
}
