// The web console at /console/ on the API's port: the bundled single-page application
// (index.html never cached, hashed assets cached for a year), what it needs to know about
// this server (config.json), and /console/alarming/*, which forwards to the alarm API of
// the same process so that the console reaches alarms same-origin, with the caller's own
// credentials, whatever port, TLS or proxy prefix the alarm API has. Forwarding goes
// through Fastify's in-process injection: no second connection, no certificate to trust,
// and the alarm API authenticates and authorises the request exactly as it would on its port.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { AuthMode } from './auth.js';

export interface ConsoleOptions {
  /** The bundle's folder: index.html and assets/ (`@tally/console`'s CONSOLE_PUBLIC_DIR). */
  root: string;
  /** The alarm API of this process once it listens; null while there is none. */
  alarmApi?: () => FastifyInstance | null;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The page runs its own bundle only and talks to this origin only; uPlot positions its
 * elements with style attributes, hence the inline styles.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/** Headers a forwarded answer must not carry: they describe the injected connection. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade']);

function loadAssets(root: string): Map<string, { body: Buffer; type: string }> {
  const assets = new Map<string, { body: Buffer; type: string }>();
  const dir = join(root, 'assets');
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    const ext = name.slice(name.lastIndexOf('.'));
    assets.set(name, { body: readFileSync(join(dir, name)), type: TYPES[ext] ?? 'application/octet-stream' });
  }
  return assets;
}

/** Register with `app.register(consoleRoutes, { ...options, authMode })`. */
export async function consoleRoutes(app: FastifyInstance, opts: ConsoleOptions & { authMode: AuthMode; version: string }): Promise<void> {
  // The bundle is read once: it is a few hundred kilobytes and never changes under a process.
  const indexPath = join(opts.root, 'index.html');
  const index = existsSync(indexPath) ? readFileSync(indexPath) : null;
  const assets = loadAssets(opts.root);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // The server ignores trailing slashes; the page needs one, for its relative URLs. A
  // relative Location keeps a reverse proxy's path prefix.
  app.get('/console/', async (req, reply) => {
    if (!req.url.split('?')[0].endsWith('/')) return reply.code(308).header('location', 'console/').send();
    if (!index) {
      return reply.code(503).header('content-type', 'text/plain; charset=utf-8')
        .send('The console is not built: run `npm run build` (it bundles packages/console).\n');
    }
    return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff').header('content-security-policy', CSP).send(index);
  });
  app.get<{ Params: { name: string } }>('/console/assets/:name', async (req, reply) => {
    const a = assets.get(req.params.name);
    if (!a) return reply.code(404).header('content-type', 'text/plain; charset=utf-8').send('Not found\n');
    return reply.header('content-type', a.type).header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff').send(a.body);
  });
  app.get('/console/config.json', async (_req, reply) => reply.header('cache-control', 'no-cache').send({
    authMode: opts.authMode, alarming: opts.alarmApi?.() != null, version: opts.version,
  }));

  const forward = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const target = opts.alarmApi?.() ?? null;
    if (!target) {
      return reply.code(503).send({ error_message: { faultstring: 'This Tally process serves no alarm API (run `tally serve`, or `tally alarm-api` on its own port).' } });
    }
    const url = req.url.slice(req.url.indexOf('/console/alarming') + '/console/alarming'.length) || '/';
    const headers = { ...req.headers };
    delete headers['content-length'];
    const body = Buffer.isBuffer(req.body) ? req.body : undefined;
    const res = await target.inject({ method: req.method as HTTPMethods, url, headers, payload: body });
    for (const [k, v] of Object.entries(res.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) void reply.header(k, v);
    }
    return reply.code(res.statusCode).send(res.rawPayload);
  };
  app.all('/console/alarming', forward);
  app.all('/console/alarming/*', forward);
}
