// The HTTP plumbing: the server APIs are mounted on, and Gnocchi's conventions for the
// routes of its API (body parsing and content negotiation with Gnocchi's status codes,
// CORS, proxy-aware public URLs, 405 for known paths, one error handler so that no input
// can produce a 500).
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type HTTPMethods } from 'fastify';
import { DEFAULT_ARCHIVE_POLICY_LIMITS, type ArchivePolicyLimits, pyJson, pyJsonBody } from '@tally/timeseries';
import { HttpError, badRequest, errorFormat, renderError } from './errors.js';
import { authenticate, type AuthMode } from './auth.js';

export interface HttpConfig {
  authMode: AuthMode;
  /** Largest page a list returns (Gnocchi's max_limit). */
  maxLimit: number;
  corsAllowedOrigins: string[];
  /** Honour Forwarded / X-Forwarded-* when building URLs (Gnocchi's enable_proxy_headers_parsing). */
  proxyHeaders: boolean;
  /** Path under which a reverse proxy publishes Tally when it sends no X-Forwarded-Prefix. */
  proxyPrefix: string;
  bodyLimit: number;
  remoteUserHeader: string;
  /** Bounds of archive policies an operator may change (`--max-archive-policy-items`). */
  archivePolicyLimits: ArchivePolicyLimits;
}

export const DEFAULT_HTTP_CONFIG: HttpConfig = {
  authMode: 'basic',
  maxLimit: 1000,
  corsAllowedOrigins: [],
  proxyHeaders: false,
  proxyPrefix: '',
  bodyLimit: 64 * 1024 * 1024,
  remoteUserHeader: 'x-remote-user',
  archivePolicyLimits: DEFAULT_ARCHIVE_POLICY_LIMITS,
};

export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
const ALL_METHODS: HTTPMethods[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/** Registers `handlers` on `path` and answers 405 for every other method, as Gnocchi does. */
export function route(app: FastifyInstance, path: string, handlers: Partial<Record<'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', Handler>>): void {
  const allowedMethods = Object.keys(handlers);
  for (const method of ALL_METHODS) {
    const h = handlers[method as keyof typeof handlers];
    if (method === 'HEAD') continue; // Fastify derives HEAD from the GET route (real or 405)
    if (method === 'OPTIONS') continue; // CORS preflight is answered in a hook
    app.route({
      method,
      url: path,
      handler: h ?? (async () => {
        throw new HttpError(405, `The method ${method} is not allowed for this resource.`, { allow: allowedMethods.join(', ') });
      }),
    });
  }
}

export function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  const json = pyJsonBody(body);
  return reply.code(status).header('content-type', 'application/json').send(typeof json === 'string' ? json : Buffer.concat(json));
}

/** 406 unless the client accepts JSON (Gnocchi only speaks JSON). */
export function checkAcceptJson(req: FastifyRequest): void {
  const accept = req.headers.accept;
  if (!accept) return;
  const ok = accept.split(',').some((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) return false;
    return type === '*/*' || type === 'application/*' || type === 'application/json' || type.endsWith('+json');
  });
  if (!ok) throw new HttpError(406, 'The server could not produce a response in the format the client accepts (application/json).');
}

/** The bytes of a JSON request body (415 for another media type), or null when it has none. */
export function jsonBytes(req: FastifyRequest): Buffer | null {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, `Unsupported Media Type: the request media type ${type || '(none)'} is not supported by this server.`);
  }
  return Buffer.isBuffer(req.body) ? req.body : null;
}

/** The request body as JSON: 415 for another media type, 400 when it does not parse. */
export function jsonBody(req: FastifyRequest): unknown {
  const bytes = jsonBytes(req);
  const text = bytes !== null ? bytes.toString('utf8') : typeof req.body === 'string' ? req.body : '';
  // Python's json names an empty body this way; clients match on it.
  if (text.trim() === '') throw badRequest({ cause: 'Unable to decode body', reason: 'Expected object or value', detail: [] });
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest({ cause: 'Unable to decode body', reason: e instanceof Error ? e.message : String(e), detail: [] });
  }
}

/** Scheme://host[/prefix] as the client sees this server (honouring a reverse proxy). */
export function publicBase(req: FastifyRequest, cfg: HttpConfig): string {
  let proto: string = req.protocol;
  let host = req.headers.host ?? 'localhost';
  let prefix = '';
  if (cfg.proxyHeaders) {
    const fwd = parseForwarded(req.headers.forwarded);
    const xProto = first(req.headers['x-forwarded-proto']);
    const xHost = first(req.headers['x-forwarded-host']);
    const xPrefix = first(req.headers['x-forwarded-prefix']);
    const proxied = !!(fwd.proto || fwd.host || xProto || xHost || xPrefix);
    proto = fwd.proto ?? xProto ?? proto;
    host = fwd.host ?? xHost ?? host;
    if (proxied) prefix = xPrefix ?? cfg.proxyPrefix;
  }
  return `${proto}://${host}${prefix.replace(/\/+$/, '')}`;
}

function first(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(',')[0].trim() || undefined;
}

/** RFC 7239: the first element's proto and host. */
export function parseForwarded(v: string | string[] | undefined): { proto?: string; host?: string } {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return {};
  const out: { proto?: string; host?: string } = {};
  for (const pair of s.split(',')[0].split(';')) {
    const i = pair.indexOf('=');
    if (i < 0) continue;
    const k = pair.slice(0, i).trim().toLowerCase();
    const val = pair.slice(i + 1).trim().replace(/^"(.*)"$/, '$1');
    if (k === 'proto') out.proto = val;
    if (k === 'host') out.host = val;
  }
  return out;
}

const CORS_ALLOW_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'];
const CORS_ALLOW_HEADERS = ['x-auth-token', 'x-subject-token', 'x-user-id', 'x-domain-id', 'x-project-id', 'x-roles', 'content-type', 'authorization'];

export function installCors(app: FastifyInstance, cfg: Pick<HttpConfig, 'corsAllowedOrigins'>): void {
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (!origin || !cfg.corsAllowedOrigins.includes(origin)) {
      if (req.method === 'OPTIONS') return reply.code(200).send();
      return;
    }
    const wanted = req.headers['access-control-request-method'];
    if (req.method === 'OPTIONS' && typeof wanted === 'string') {
      reply.header('vary', 'Origin');
      if (!CORS_ALLOW_METHODS.includes(wanted.toUpperCase())) return reply.code(200).send();
      const reqHeaders = (first(req.headers['access-control-request-headers']) ? String(req.headers['access-control-request-headers']) : '')
        .split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
      if (reqHeaders.some((h) => !CORS_ALLOW_HEADERS.includes(h))) return reply.code(200).send();
      reply.header('access-control-allow-origin', origin).header('access-control-allow-methods', wanted.toUpperCase());
      if (reqHeaders.length) reply.header('access-control-allow-headers', reqHeaders.join(','));
      return reply.code(200).send();
    }
    reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    return;
  });
}

/** Maps domain errors (e.g. the indexer's) to HTTP ones; null when it does not know the error. */
export type ErrorMapper = (err: unknown) => HttpError | null;

/** PEM certificate (chain) and private key: the server speaks HTTPS. */
export interface TlsFiles { cert: Buffer; key: Buffer }

/**
 * The server every API is mounted on: body limit, TLS, routing options. Errors Fastify
 * raises before routing (an undecodable path) belong to no API yet; they get Gnocchi's
 * shape, the API at the root.
 */
export function createHttpServer(opts: { bodyLimit: number; https?: TlsFiles }): FastifyInstance {
  // Fastify's own per-request logging stays off (it costs on every request); errors are
  // logged by each API's error handler.
  const options = {
    logger: false,
    bodyLimit: opts.bodyLimit,
    frameworkErrors: (err: Error, req: FastifyRequest, reply: FastifyReply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      sendError(req, reply, new HttpError(status >= 400 && status < 500 ? status : 400, err.message));
    }, routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 }, https: opts.https ?? null };
  // Typed as an HTTP server either way: routes do not care, and req.protocol tells URLs apart.
  return Fastify(options as Omit<typeof options, 'https'>);
}

/**
 * Gnocchi's HTTP conventions on `app` (the root or an encapsulated plugin, whose routes
 * alone they then govern): raw bodies (each route answers 415/400 with Gnocchi's
 * messages), CORS, Gnocchi's 404 body, and one error handler so that no input can
 * produce a 500.
 */
export function installGnocchiHttp(app: FastifyInstance, cfg: HttpConfig, opts: { log?: FastifyBaseLogger; mapError?: ErrorMapper } = {}): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  installCors(app, cfg);
  app.setNotFoundHandler(async (req, reply) => sendError(req, reply, new HttpError(404, null)));
  app.setErrorHandler(async (err, req, reply) => {
    const e = opts.mapError?.(err) ?? toHttpError(err);
    if (e.status >= 500) opts.log?.error({ err, url: req.url, method: req.method }, 'request failed');
    return sendError(req, reply, e);
  });
}

export function sendError(req: FastifyRequest, reply: FastifyReply, e: HttpError): FastifyReply {
  for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
  if (e.status === 304) return reply.code(304).send();
  const r = renderError(e, errorFormat(req.headers.accept), pyJson);
  return reply.code(e.status).header('content-type', r.type).send(r.text);
}

/**
 * Database errors that mean "not now" rather than "bad request": a full disk, a read-only
 * or unreachable database, a lock held too long. SQLite (better-sqlite3) and PostgreSQL
 * (pg) codes; the client may retry.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = String((err as { code?: unknown }).code ?? '');
  if (/^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|BUSY|LOCKED|PROTOCOL)/.test(code)) return true;
  // PostgreSQL: 53xxx insufficient resources, 57P0x shutdown, 08xxx connection; Node socket errors.
  return /^(53|57P0|08)/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'ENOSPC', 'EROFS', 'EACCES'].includes(code);
}

/** Maps any thrown value to an HttpError; Fastify's own client errors keep their 4xx. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const fe = err as { statusCode?: number; code?: string; message?: string };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new HttpError(413, 'Request body is larger than the server accepts.');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new HttpError(fe.statusCode, fe.message ?? 'Bad Request');
  }
  const unavailable = (err as { name?: string }).name;
  if (unavailable === 'IncomingUnavailableError' || unavailable === 'StorageUnavailableError'
    || unavailable === 'CoordinationUnavailableError' || isDatabaseUnavailable(err)) {
    return new HttpError(503, 'Tally cannot store data right now: ' + (fe.message ?? 'storage unavailable'));
  }
  return new HttpError(500, 'Internal error: ' + (fe.message ?? String(err)));
}

export { authenticate };
