// HTTP for the Gnocchi client: a bounded keep-alive pool, a time limit on every attempt and
// on the whole call, and retries that never resend a request the server may have acted on
// unless repeating it is harmless.
//
// node:http rather than the global fetch: fetch's connection pool (undici's) can only be
// bounded or given timeouts through a dispatcher from the `undici` package, which is not a
// dependency here, while http.Agent bounds sockets per server and drops idle ones itself;
// node:http also costs less CPU per request, which matters to the bench that shares the
// cores with the server it measures.
import http from 'node:http';
import https from 'node:https';
import { Backoff, sleep } from '@tally/retry';
import { apiError, GnocchiTransportError } from './errors.js';
import { parsePythonJson, type JsonValue } from './json.js';

/** How requests prove who they come from. */
export type GnocchiAuth =
  /** Gnocchi's `basic` mode: the user name is the identity, the password is ignored (Tally's token mode accepts a token there). */
  | { type: 'basic'; user: string; password?: string }
  /** `Authorization: Bearer TOKEN`: Tally's token mode. */
  | { type: 'bearer'; token: string }
  /** Gnocchi's `noauth` mode: the identity in headers. */
  | { type: 'noauth'; userId?: string; projectId?: string; roles?: string[] }
  /** `X-Auth-Token: TOKEN`, as keystoneauth sends a Keystone (or Tally) token. */
  | { type: 'keystone'; token: string }
  | { type: 'none' };

export interface RetryPolicy {
  /** Tries in all, the first included (1: never retry). */
  attempts?: number;
  /** Ceiling of the first backoff delay (ms). */
  baseMs?: number;
  /** Largest backoff delay (ms). A server's Retry-After is waited instead, when it fits in totalMs. */
  maxMs?: number;
  /** Bound on the whole call, waits included (ms): no retry starts after it, no attempt runs past it. */
  totalMs?: number;
  /** Random source of the jitter (tests). */
  random?: () => number;
}

export interface TransportOptions {
  /** The endpoint, e.g. http://127.0.0.1:8041 (a path prefix is kept: https://host/metric). */
  url: string;
  auth?: GnocchiAuth;
  /** Sent with every request. */
  headers?: Record<string, string>;
  /** Connections kept open to the server at most (default 8). */
  maxSockets?: number;
  /** Limit on one attempt, from sending to the last byte of the answer (ms, default 30 000). */
  timeoutMs?: number;
  /**
   * Idle pooled connections are closed after this (ms, default 4 000): below the 5 s
   * keep-alive timeout of Node servers, so the client rarely picks a connection the server
   * is closing (when it does, see #failureWait).
   */
  idleTimeoutMs?: number;
  retry?: RetryPolicy | false;
  /** For https endpoints: a CA to trust (e.g. a self-signed certificate) and whether to verify. */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
}

export type QueryValue = string | number | boolean | readonly string[] | undefined | null;
export type Query = Record<string, QueryValue>;

export interface RequestSpec {
  method: string;
  path: string;
  query?: Query;
  /** JSON-encoded unless a string or Buffer. */
  body?: unknown;
  contentType?: string;
  /**
   * Whether sending the request twice has the effect of sending it once. Defaults to true
   * for GET, HEAD, PUT, DELETE and OPTIONS; reads made with POST (search, aggregates) say so.
   */
  idempotent?: boolean;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The URL requested (without credentials), for messages. */
  url: string;
}

/** What the client sends its requests through: HTTP (HttpTransport) or a server in this process (InjectTransport). */
export interface Transport {
  /** Resolves with a 2xx answer; GnocchiApiError for other statuses, GnocchiTransportError when no answer came. */
  request(spec: RequestSpec): Promise<RawResponse>;
  /** Fetches and decodes a JSON answer (null for an empty body). */
  json<T>(spec: RequestSpec): Promise<{ value: T; res: RawResponse }>;
  close(): void;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** The outcome of one attempt: an answer, or why none came. */
type Attempt =
  | { ok: true; res: RawResponse; reused: boolean }
  | { ok: false; code: string; message: string; reused: boolean; answered: boolean };

/** Retry-After in ms (delta-seconds or an HTTP date); null when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return null;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export class HttpTransport implements Transport {
  readonly base: URL;
  readonly #agent: http.Agent;
  readonly #lib: typeof http | typeof https;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #retry: Required<Omit<RetryPolicy, 'random'>> & { random?: () => number };
  readonly #tls: TransportOptions['tls'];
  /** The endpoint's path, without its final slash ('' at the root). */
  readonly #prefix: string;
  /** Stale pooled connections met in a row (see request). */
  #staleInARow = 0;
  /** False once the server was seen closing every connection after one answer. */
  #pooling = true;
  /** Whether the server keeps connections open: it answered on a reused one, or said keep-alive. */
  #keepsAlive = false;

  constructor(opts: TransportOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`unsupported URL scheme ${u.protocol}`);
    this.#prefix = u.pathname.replace(/\/+$/, '');
    u.search = '';
    u.hash = '';
    this.base = u;
    this.#lib = u.protocol === 'https:' ? https : http;
    const maxSockets = opts.maxSockets ?? 8;
    const agentOpts = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const, timeout: opts.idleTimeoutMs ?? 4_000 };
    this.#agent = u.protocol === 'https:' ? new https.Agent({ ...agentOpts, ...opts.tls }) : new http.Agent(agentOpts);
    this.#tls = opts.tls;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    const r = opts.retry === false ? { attempts: 1 } : (opts.retry ?? {});
    this.#retry = { attempts: r.attempts ?? 4, baseMs: r.baseMs ?? 100, maxMs: r.maxMs ?? 5_000, totalMs: r.totalMs ?? 60_000, random: r.random };
    if (!Number.isInteger(this.#retry.attempts) || this.#retry.attempts < 1) throw new RangeError('retry.attempts must be an integer >= 1');
    // "*/*" too: Gnocchi answers 406 to a DELETE that accepts JSON alone (those routes
    // have no JSON rendering); JSON is still what it picks wherever it has it.
    this.#headers = { accept: 'application/json, */*', ...authHeaders(opts.auth ?? { type: 'none' }), ...(opts.headers ?? {}) };
  }

  /** Whether connections are reused (false once the server proved it closes them after each answer). */
  get pooling(): boolean {
    return this.#pooling;
  }

  url(path: string, query?: Query): URL {
    const u = new URL(this.base.href);
    u.pathname = `${this.#prefix}${path.startsWith('/') ? path : `/${path}`}`;
    u.search = queryString(query);
    return u;
  }

  /**
   * Sends a request, retrying as the policy allows; resolves with the answer when its
   * status is 2xx, throws GnocchiApiError for any other status and GnocchiTransportError
   * when no answer came.
   */
  async request(spec: RequestSpec): Promise<RawResponse> {
    const method = spec.method.toUpperCase();
    const url = this.url(spec.path, spec.query);
    const headers: Record<string, string> = { ...this.#headers, ...(spec.headers ?? {}) };
    let payload: Buffer | undefined;
    if (spec.body !== undefined) {
      payload = Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body));
      headers['content-type'] = spec.contentType ?? 'application/json';
    }
    // An explicit length, also for empty bodies: some WSGI servers do not read chunked ones.
    if (payload !== undefined || method === 'POST' || method === 'PUT' || method === 'PATCH') headers['content-length'] = String(payload?.length ?? 0);
    const idempotent = spec.idempotent ?? IDEMPOTENT.has(method);
    const shown = `${url.origin}${url.pathname}${url.search}`;
    const deadline = Date.now() + this.#retry.totalMs;
    const backoff = new Backoff({ baseMs: this.#retry.baseMs, maxMs: this.#retry.maxMs, random: this.#retry.random });

    // `attempt` counts tries against the policy; resending on a stale pooled connection is
    // the client's own doing, so it does not count (pooling stops after a few, see #noteStale).
    for (let attempt = 1; ; ) {
      const left = deadline - Date.now();
      const a = await this.#attempt(method, url, headers, payload, Math.max(1, Math.min(this.#timeoutMs, left)), spec.signal, idempotent);
      let wait: number | null;
      if (a.ok) {
        if (a.reused || /keep-alive/i.test(String(a.res.headers.connection ?? ''))) this.#keepsAlive = true;
        if (a.reused) this.#staleInARow = 0;
        // Redirects are not followed (Gnocchi's only one, /v1 -> /v1/, is avoided by the client).
        if (a.res.status >= 200 && a.res.status < 300) return a.res;
        wait = this.#statusWait(a.res, idempotent, backoff);
        if (wait === null || attempt >= this.#retry.attempts || Date.now() + wait >= deadline) throw answerError(method, shown, a.res);
      } else {
        if (spec.signal?.aborted) throw new GnocchiTransportError(method, shown, 'ABORT_ERR', 'aborted', attempt);
        const stale = a.reused && !a.answered && (a.code === 'ECONNRESET' || a.code === 'EPIPE');
        if (stale) {
          this.#noteStale();
          if (idempotent && Date.now() < deadline) continue;
        }
        wait = this.#failureWait(a, idempotent, backoff);
        if (wait === null || attempt >= this.#retry.attempts || Date.now() + wait >= deadline) {
          throw new GnocchiTransportError(method, shown, a.code, a.message, attempt);
        }
      }
      await sleep(wait, spec.signal).catch(() => {
        throw new GnocchiTransportError(method, shown, 'ABORT_ERR', 'aborted', attempt);
      });
      attempt++;
    }
  }

  async json<T>(spec: RequestSpec): Promise<{ value: T; res: RawResponse }> {
    return decodeJson<T>(await this.request(spec));
  }

  close(): void {
    this.#agent.destroy();
  }

  /**
   * The wait before another try after an error status, or null when it must not be
   * retried. 429 and 503 say the server did not handle the request and when to come back;
   * 429 is retried for every method (the request was refused unread), 503 and the other
   * transient 5xx only for requests safe to repeat (a gateway's 503 or 504 may come after
   * the server acted). A Retry-After longer than the backoff's largest delay is waited only
   * while it fits in the call's total bound (checked by the caller).
   */
  #statusWait(res: RawResponse, idempotent: boolean, backoff: Backoff): number | null {
    const s = res.status;
    const transient = s === 429 || (s >= 500 && s !== 501 && s !== 505);
    if (!transient || (s !== 429 && !idempotent)) return null;
    const after = s === 429 || s === 503 ? retryAfterMs(res.headers['retry-after']) : null;
    const jitter = backoff.next();
    return after === null ? jitter : after;
  }

  /**
   * The wait before another try when no answer came, or null. A refused connection never
   * delivered the request: any method is resent. Any other failure, including a reset of a
   * pooled connection before any byte of answer, may come after the server read the request
   * (a connection the server closed while idle and one it dropped after reading look the
   * same from here): only requests safe to repeat are resent. So requests that are not go
   * on pooled connections only to a server known to keep them open (which closes idle ones
   * later than this client does, see idleTimeoutMs), and on a connection of their own to
   * one that closes them after each answer without saying so (uwsgi's --http-socket, the
   * reference Gnocchi).
   */
  #failureWait(a: Extract<Attempt, { ok: false }>, idempotent: boolean, backoff: Backoff): number | null {
    if (a.code === 'ECONNREFUSED' || idempotent) return backoff.next();
    return null;
  }

  /**
   * A server that closes every connection after its answer makes every pooled connection
   * stale. Three stale ones in a row and the client stops pooling for this server, a
   * connection per request; a server that merely timed out an idle connection now and then
   * never gets there.
   */
  #noteStale(): void {
    if (++this.#staleInARow >= 3) this.#pooling = false;
  }

  #attempt(method: string, url: URL, headers: Record<string, string>, payload: Buffer | undefined, timeoutMs: number, signal: AbortSignal | undefined, idempotent: boolean): Promise<Attempt> {
    return new Promise<Attempt>((resolve) => {
      let answered = false;
      let settled = false;
      const fail = (code: string, message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ok: false, code, message, reused: req.reusedSocket, answered });
      };
      // Without pooling, a connection of its own per request (agent false): even a
      // non-keep-alive Agent hands a finished socket to the next queued request. A request
      // that cannot be resent waits for a pooled connection until the server has shown it
      // keeps connections open (see #failureWait).
      const agent = this.#pooling && (idempotent || this.#keepsAlive) ? this.#agent : false;
      // Such a connection of its own still asks for keep-alive while the server has not
      // shown whether it keeps connections, so that its answer can say so (the one-off
      // agent closes the connection after the answer all the same).
      const asked = agent === false && this.#pooling ? { ...headers, connection: 'keep-alive' } : headers;
      const req = this.#lib.request(url, { method, headers: asked, agent, signal, ...(agent === false ? this.#tls : {}) }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (settled) return;
          if (!res.complete) return fail('ECONNRESET', 'connection closed before the answer was complete');
          settled = true;
          clearTimeout(timer);
          resolve({ ok: true, reused: req.reusedSocket, res: { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), url: url.href } });
        });
        res.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ECONNRESET', err.message));
        res.on('aborted', () => fail('ECONNRESET', 'connection closed before the answer was complete'));
      });
      const timer = setTimeout(() => {
        fail('ETIMEDOUT', `no complete answer in ${timeoutMs} ms`);
        req.destroy();
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ECONNRESET', err.message));
      req.end(payload);
    });
  }
}

/** The query string of `query` (lists as repeated keys), without the "?". */
function queryString(query: Query | undefined): string {
  if (!query) return '';
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v) qs.append(k, item);
    else qs.append(k, String(v));
  }
  return qs.toString();
}

function decodeJson<T>(res: RawResponse): { value: T; res: RawResponse } {
  const text = res.body.toString('utf8');
  return { value: (text.length === 0 ? null : parsePythonJson(text)) as T, res };
}

/** The error of a non-2xx answer, with its description decoded when it is JSON. */
function answerError(method: string, url: string, res: RawResponse): Error {
  const text = res.body.toString('utf8');
  let parsed: JsonValue | undefined;
  if (/json/i.test(String(res.headers['content-type'] ?? ''))) {
    try {
      parsed = parsePythonJson(text);
    } catch {
      parsed = undefined;
    }
  }
  return apiError(method, url, res.status, http.STATUS_CODES[res.status] ?? 'Error', text, parsed);
}

/** A request handed to a server in this process (the shape of Fastify's and light-my-request's inject). */
export interface InjectRequest {
  method: string;
  /** Path and query string. */
  url: string;
  headers: Record<string, string>;
  payload?: Buffer;
}

export interface InjectAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  rawPayload: Buffer;
}

/**
 * The client's requests handed to an API in this process (Fastify's `inject`): the same
 * routes, authentication and error answers as over HTTP, without a socket. No retries:
 * nothing in between can fail transiently, and the server's own 503s are for the caller.
 */
export class InjectTransport implements Transport {
  readonly #dispatch: (req: InjectRequest) => Promise<InjectAnswer>;
  readonly #headers: Record<string, string>;

  constructor(dispatch: (req: InjectRequest) => Promise<InjectAnswer>, opts: { auth?: GnocchiAuth; headers?: Record<string, string> } = {}) {
    this.#dispatch = dispatch;
    this.#headers = { accept: 'application/json, */*', ...authHeaders(opts.auth ?? { type: 'none' }), ...(opts.headers ?? {}) };
  }

  async request(spec: RequestSpec): Promise<RawResponse> {
    const method = spec.method.toUpperCase();
    const qs = queryString(spec.query);
    const url = `${spec.path.startsWith('/') ? spec.path : `/${spec.path}`}${qs ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { ...this.#headers, ...(spec.headers ?? {}) };
    let payload: Buffer | undefined;
    if (spec.body !== undefined) {
      payload = Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body));
      headers['content-type'] = spec.contentType ?? 'application/json';
    }
    if (spec.signal?.aborted) throw new GnocchiTransportError(method, url, 'ABORT_ERR', 'aborted', 1);
    let answer: InjectAnswer;
    try {
      answer = await this.#dispatch({ method, url, headers, payload });
    } catch (err) {
      // The server could not take the request (closing, not ready): as a refused connection.
      throw new GnocchiTransportError(method, url, 'ECONNREFUSED', (err as Error).message, 1);
    }
    const res: RawResponse = { status: answer.statusCode, headers: incomingHeaders(answer.headers), body: answer.rawPayload, url };
    if (res.status >= 200 && res.status < 300) return res;
    throw answerError(method, url, res);
  }

  async json<T>(spec: RequestSpec): Promise<{ value: T; res: RawResponse }> {
    return decodeJson<T>(await this.request(spec));
  }

  close(): void {}
}

function incomingHeaders(h: InjectAnswer['headers']): http.IncomingHttpHeaders {
  const out: http.IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    if (k === 'set-cookie') out[k] = Array.isArray(v) ? v : [String(v)];
    else out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function authHeaders(auth: GnocchiAuth): Record<string, string> {
  switch (auth.type) {
    case 'basic':
      return { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password ?? ''}`).toString('base64')}` };
    case 'bearer':
      return { authorization: `Bearer ${auth.token}` };
    case 'keystone':
      return { 'x-auth-token': auth.token };
    case 'noauth': {
      const h: Record<string, string> = {};
      if (auth.userId !== undefined) h['x-user-id'] = auth.userId;
      if (auth.projectId !== undefined) h['x-project-id'] = auth.projectId;
      if (auth.roles !== undefined) h['x-roles'] = auth.roles.join(',');
      return h;
    }
    case 'none':
      return {};
  }
}
