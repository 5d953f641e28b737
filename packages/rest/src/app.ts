// Assembles the Gnocchi-compatible API: plumbing, routes, and the mapping from the
// indexer's errors (which carry Gnocchi's messages) to status codes.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import * as ix from '@tally/indexer';
import { createHttpApp, type HttpConfig } from './http.js';
import { HttpError } from './errors.js';
import { makeCtx, type ApiServices, type ResourceLookup } from './context.js';
import { rootRoutes } from './routes/root.js';
import { archivePolicyRoutes } from './routes/archive-policy.js';
import { metricRoutes } from './routes/metric.js';

/** Status codes for the indexer's errors, as Gnocchi answers them. */
export function indexerErrorToHttp(err: unknown): HttpError | null {
  if (!(err instanceof ix.IndexerError)) return null;
  if (err instanceof ix.NoSuchArchivePolicy) return new HttpError(400, { ...err.jsonify() });
  if (err instanceof ix.ArchivePolicyAlreadyExists) return new HttpError(409, err.message);
  if (err instanceof ix.ArchivePolicyRuleAlreadyExists) return new HttpError(409, err.message);
  if (err instanceof ix.NoSuchArchivePolicyRule || err instanceof ix.NoSuchMetric || err instanceof ix.NoSuchResource) {
    return new HttpError(404, err.message);
  }
  if (err instanceof ix.NamedMetricAlreadyExists) return new HttpError(409, err.message);
  return new HttpError(400, err.message);
}

const NO_RESOURCES: ResourceLookup = { get: async () => null };

export function buildApi(services: ApiServices, cfg: HttpConfig, opts: { logger?: FastifyBaseLogger; resources?: ResourceLookup } = {}): FastifyInstance {
  const app = createHttpApp(cfg, { log: opts.logger, mapError: indexerErrorToHttp });
  const ctx = makeCtx(services, cfg, opts.resources ?? NO_RESOURCES);
  rootRoutes(app, ctx);
  archivePolicyRoutes(app, ctx);
  metricRoutes(app, ctx);
  return app;
}
