// Assembles the Gnocchi-compatible API: plumbing, routes, and the mapping from the
// indexer's errors (which carry Gnocchi's messages) to status codes.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import * as ix from '@tally/indexer';
import { createHttpApp, type HttpConfig, type TlsFiles } from './http.js';
import { installTokenAuth, type TokenVerifier } from './auth.js';
import { HttpError } from './errors.js';
import { makeCtx, type ApiServices } from './context.js';
import { rootRoutes } from './routes/root.js';
import { archivePolicyRoutes } from './routes/archive-policy.js';
import { metricRoutes } from './routes/metric.js';
import { aggregatesRoutes } from './routes/aggregates.js';
import { resourceRoutes } from './routes/resource.js';
import { resourceTypeRoutes } from './routes/resource-type.js';
import { searchMetricRoutes } from './routes/search-metric.js';
import { batchResourcesRoutes } from './routes/batch-resources.js';
import { searchRoutes, indexerResourceSearch } from './routes/search.js';
import { aggregationRoutes } from './routes/aggregation.js';
import { influxdbRoutes } from './routes/influxdb.js';
import { prometheusRoutes } from './routes/prometheus.js';

/** Status codes for the indexer's errors, as Gnocchi answers them. */
export function indexerErrorToHttp(err: unknown): HttpError | null {
  if (!(err instanceof ix.IndexerError)) return null;
  if (err instanceof ix.NoSuchArchivePolicy) return new HttpError(400, err.message);
  if (err instanceof ix.ArchivePolicyAlreadyExists) return new HttpError(409, err.message);
  if (err instanceof ix.ArchivePolicyRuleAlreadyExists) return new HttpError(409, err.message);
  if (err instanceof ix.NoSuchArchivePolicyRule || err instanceof ix.NoSuchMetric || err instanceof ix.NoSuchResource ||
      err instanceof ix.NoSuchResourceType) {
    return new HttpError(404, err.message);
  }
  if (err instanceof ix.NamedMetricAlreadyExists || err instanceof ix.ResourceAlreadyExists ||
      err instanceof ix.ResourceTypeAlreadyExists) return new HttpError(409, err.message);
  return new HttpError(400, err.message);
}

export function buildApi(services: ApiServices, cfg: HttpConfig, opts: { logger?: FastifyBaseLogger; tokens?: TokenVerifier; https?: TlsFiles } = {}): FastifyInstance {
  const app = createHttpApp(cfg, { log: opts.logger, mapError: indexerErrorToHttp, https: opts.https });
  if (cfg.authMode === 'token') {
    if (!opts.tokens) throw new Error('auth mode token needs a token verifier');
    installTokenAuth(app, opts.tokens);
  }
  const ctx = makeCtx(services, cfg);
  rootRoutes(app, ctx);
  archivePolicyRoutes(app, ctx);
  metricRoutes(app, ctx);
  resourceTypeRoutes(app, ctx);
  resourceRoutes(app, ctx);
  searchRoutes(app, ctx);
  searchMetricRoutes(app, ctx);
  batchResourcesRoutes(app, ctx);
  const resources = indexerResourceSearch(ctx);
  aggregatesRoutes(app, ctx, { resources });
  aggregationRoutes(app, ctx, { resources });
  influxdbRoutes(app, ctx);
  prometheusRoutes(app, ctx);
  return app;
}
