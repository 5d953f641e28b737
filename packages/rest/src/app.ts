// Builds Tally's HTTP server: the server itself, then the APIs mounted on it (today the
// Gnocchi API at the root, and the web console at /console/ when its bundle is given).
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { createHttpServer, type HttpConfig, type TlsFiles } from './http.js';
import type { TokenVerifier } from './auth.js';
import type { ApiServices } from './context.js';
import { gnocchiApi } from './gnocchi-api.js';
import { consoleRoutes, type ConsoleOptions } from './console.js';

export { indexerErrorToHttp } from './gnocchi-errors.js';

export function buildApi(services: ApiServices, cfg: HttpConfig, opts: { logger?: FastifyBaseLogger; tokens?: TokenVerifier; https?: TlsFiles; console?: ConsoleOptions } = {}): FastifyInstance {
  // Checked here too so that a misconfiguration fails at build time, not at listen.
  if (cfg.authMode === 'token' && !opts.tokens) throw new Error('auth mode token needs a token verifier');
  const app = createHttpServer({ bodyLimit: cfg.bodyLimit, https: opts.https });
  void app.register(gnocchiApi, { services, cfg, tokens: opts.tokens, log: opts.logger });
  if (opts.console) void app.register(consoleRoutes, { ...opts.console, authMode: cfg.authMode, version: services.version });
  return app;
}
