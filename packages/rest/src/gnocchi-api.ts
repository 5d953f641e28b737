// The Gnocchi API v1 as one encapsulated Fastify plugin: its body parsers, CORS, token
// check, 404 and error handler govern its routes only, so that other APIs (with their
// own error bodies) can be mounted beside it on the same server or another one.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { installGnocchiHttp, type HttpConfig } from './http.js';
import { installTokenAuth, type TokenVerifier } from './auth.js';
import { gnocchiErrorToHttp } from './gnocchi-errors.js';
import { makeCtx, type ApiServices } from './context.js';
import { indexerResourceSearch } from './domain/resource-search.js';
import { rootRoutes } from './routes/root.js';
import { archivePolicyRoutes } from './routes/archive-policy.js';
import { metricRoutes } from './routes/metric.js';
import { aggregatesRoutes } from './routes/aggregates.js';
import { resourceRoutes } from './routes/resource.js';
import { resourceTypeRoutes } from './routes/resource-type.js';
import { searchMetricRoutes } from './routes/search-metric.js';
import { batchResourcesRoutes } from './routes/batch-resources.js';
import { searchRoutes } from './routes/search.js';
import { aggregationRoutes } from './routes/aggregation.js';
import { influxdbRoutes } from './routes/influxdb.js';
import { prometheusRoutes } from './routes/prometheus.js';

export interface GnocchiApiOptions {
  services: ApiServices;
  cfg: HttpConfig;
  /** Required in auth mode `token`. */
  tokens?: TokenVerifier;
  log?: FastifyBaseLogger;
}

/** Register with `app.register(gnocchiApi, options)` (no fastify-plugin wrapper: it stays encapsulated). */
export async function gnocchiApi(app: FastifyInstance, opts: GnocchiApiOptions): Promise<void> {
  const { services, cfg } = opts;
  installGnocchiHttp(app, cfg, { log: opts.log, mapError: gnocchiErrorToHttp });
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
  const resources = indexerResourceSearch(ctx, cfg.authMode);
  aggregatesRoutes(app, ctx, { resources });
  aggregationRoutes(app, ctx, { resources });
  influxdbRoutes(app, ctx);
  prometheusRoutes(app, ctx);
}
