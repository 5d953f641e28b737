// A minimal HTTP/1.1 JSON client over node:http with a keep-alive pool. node:http costs less
// CPU per request than fetch, which matters because the bench shares the cores with the
// target it measures.
import http from 'node:http';

export interface HttpResponse {
  status: number;
  body: Buffer;
}

export class HttpError extends Error {
  constructor(readonly method: string, readonly path: string, readonly status: number, readonly text: string) {
    super(`${method} ${path} -> ${status}: ${text.slice(0, 300)}`);
  }
}

export class HttpClient {
  private readonly agent: http.Agent;
  /** False once the server was seen closing connections after each answer (see request). */
  keepAlive = true;
  private readonly base: URL;
  private readonly authorization: string;

  constructor(baseUrl: string, user: string, password: string, maxSockets: number) {
    this.base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** Sends one request; `body` is sent as is when a string, JSON-encoded otherwise. */
  async request(method: string, path: string, body?: unknown, timeoutMs = 120_000): Promise<HttpResponse> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    try {
      return await this.once(method, path, payload, timeoutMs);
    } catch (e) {
      // uwsgi's --http-socket (the reference Gnocchi) closes every connection after its
      // answer without saying so: reusing it fails at once with ECONNRESET before the
      // server saw the request. Then stop pooling sockets for this server and resend.
      if (!(e as { retryable?: boolean }).retryable) throw e;
      // (The pool is not destroyed here: other requests may still be in flight on it.)
      this.keepAlive = false;
      return await this.once(method, path, payload, timeoutMs);
    }
  }

  /** Sends a request and parses the JSON answer; throws HttpError unless 2xx. */
  async json<T>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const r = await this.request(method, path, body, timeoutMs);
    const text = r.body.toString('utf8');
    if (r.status < 200 || r.status >= 300) throw new HttpError(method, path, r.status, text);
    return (text.length ? JSON.parse(text) : null) as T;
  }

  close(): void {
    this.agent.destroy();
  }

  private once(method: string, path: string, payload: string | undefined, timeoutMs: number): Promise<HttpResponse> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    return new Promise<HttpResponse>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { authorization: this.authorization, accept: 'application/json' };
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        // An explicit length: some WSGI servers do not read chunked request bodies.
        headers['content-length'] = Buffer.byteLength(payload);
      }
      // Without keep-alive, a connection of its own per request (agent false): even a
      // non-keep-alive Agent hands a finished socket to the next queued request. The
      // callers bound concurrency themselves.
      const req = http.request(url, { method, headers, agent: this.keepAlive ? this.agent : false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url.pathname}: no answer in ${timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (req.reusedSocket && err.code === 'ECONNRESET') Object.assign(err, { retryable: true });
        reject(err);
      });
      req.end(payload);
    });
  }
}
