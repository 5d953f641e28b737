// Builds Tally's HTTP server: the server itself, then the APIs mounted on it (today the
// Gnocchi API at the root).
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { createHttpServer, type HttpConfig, type TlsFiles } from './http.js';
import type { TokenVerifier } from './auth.js';
import type { ApiServices } from './context.js';
import { gnocchiApi } from './gnocchi-api.js';

export { indexerErrorToHttp } from './gnocchi-errors.js';

export function buildApi(services: ApiServices, cfg: HttpConfig, opts: { logger?: FastifyBaseLogger; tokens?: TokenVerifier; https?: TlsFiles } = {}): FastifyInstance {
  // Checked here too so that a misconfiguration fails at build time, not at listen.
  if (cfg.authMode === 'token' && !opts.tokens) throw new Error('auth mode token needs a token verifier');
  const app = createHttpServer({ bodyLimit: cfg.bodyLimit, https: opts.https });
  void app.register(gnocchiApi, { services, cfg, tokens: opts.tokens, log: opts.logger });
  return app;
}
