// What every OpenStack-style API of Tally beside Gnocchi's (Aodh's, CloudKitty's) sets up
// alike on its Fastify instance: bodies kept raw (each route parses and validates its own),
// CORS as configured, Tally's API tokens when token mode is on, and a request id on every
// answer as OpenStack services send it.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { installTokenAuth, type TokenVerifier } from './auth.js';
import { installCors } from './http.js';

export function installSiblingApiBasics(app: FastifyInstance, opts: { corsAllowedOrigins?: string[]; tokens?: TokenVerifier }): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  installCors(app, { corsAllowedOrigins: opts.corsAllowedOrigins ?? [] });
  if (opts.tokens) installTokenAuth(app, opts.tokens);
  app.addHook('onRequest', async (_req, reply) => {
    reply.header('x-openstack-request-id', `req-${randomUUID()}`);
  });
}
