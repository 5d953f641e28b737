// The transport against real sockets: a node:http server on 127.0.0.1 that fails as told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { GnocchiApiError, GnocchiTransportError } from './errors.js';
import { HttpTransport, retryAfterMs, type TransportOptions } from './transport.js';
import { parsePythonJson } from './json.js';
import { nextPageQuery } from './client.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Server {
  url: string;
  port: number;
  seen: Seen[];
  connections: number;
  close(): Promise<void>;
}

/** A server whose handler decides, per request (counted from 0), what to do. */
async function serve(handler: (n: number, req: http.IncomingMessage, res: http.ServerResponse, body: string) => void, port = 0): Promise<Server> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(seen.length - 1, req, res, body);
    });
  });
  const state = { connections: 0 };
  server.on('connection', (s: Socket) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`, port: p, seen,
    get connections() { return state.connections; },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

const ok = (res: http.ServerResponse, body: unknown = { ok: true }): void => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

const gnocchiError = (res: http.ServerResponse, status: number, title: string, description: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ code: status, title, description }));
};

/** Fast retries for tests: tiny backoff, bounded attempts. */
function transport(url: string, extra: Partial<TransportOptions> = {}): HttpTransport {
  return new HttpTransport({ url, retry: { attempts: 4, baseMs: 5, maxMs: 20, totalMs: 10_000 }, timeoutMs: 2_000, ...extra });
}

test('a GET failing with 5xx N times is retried until it succeeds', async () => {
  const s = await serve((n, _req, res) => (n < 3 ? gnocchiError(res, n === 1 ? 502 : 500, 'Internal Server Error', 'boom') : ok(res, { n })));
  const t = transport(s.url);
  try {
    const { value } = await t.json<{ n: number }>({ method: 'GET', path: '/v1/status' });
    assert.deepEqual(value, { n: 3 });
    assert.equal(s.seen.length, 4);
  } finally {
    t.close();
    await s.close();
  }
});

test('attempts are bounded: the last error is thrown with Gnocchi\'s title and description', async () => {
  const s = await serve((_n, _req, res) => gnocchiError(res, 500, 'Internal Server Error', 'always'));
  const t = transport(s.url);
  try {
    const err = await t.request({ method: 'GET', path: '/v1/metric' }).catch((e: unknown) => e);
    assert.ok(err instanceof GnocchiApiError);
    assert.equal(err.status, 500);
    assert.equal(err.title, 'Internal Server Error');
    assert.equal(err.description, 'always');
    assert.equal(err.method, 'GET');
    assert.equal(err.url, `${s.url}/v1/metric`);
    assert.equal(s.seen.length, 4);
  } finally {
    t.close();
    await s.close();
  }
});

test('a POST is not resent after a 5xx, nor after the connection dropped once the request was sent', async () => {
  const s = await serve((n, req, res) => {
    if (req.url === '/drop') req.socket.destroy();
    else gnocchiError(res, 500, 'Internal Server Error', { cause: 'x', detail: [n] });
  });
  const t = transport(s.url);
  try {
    const e1 = await t.request({ method: 'POST', path: '/v1/batch/metrics/measures', body: {} }).catch((e: unknown) => e);
    assert.ok(e1 instanceof GnocchiApiError);
    assert.deepEqual(e1.description, { cause: 'x', detail: [0] });
    assert.equal(s.seen.length, 1);
    const e2 = await t.request({ method: 'POST', path: '/drop', body: [] }).catch((e: unknown) => e);
    assert.ok(e2 instanceof GnocchiTransportError, String(e2));
    assert.equal(e2.attempts, 1);
    assert.equal(s.seen.length, 2);
    // A POST marked idempotent (a search) is resent.
    const e3 = await t.request({ method: 'POST', path: '/drop', body: [], idempotent: true }).catch((e: unknown) => e);
    assert.ok(e3 instanceof GnocchiTransportError);
    assert.equal(e3.attempts, 4);
    assert.equal(s.seen.length, 6);
  } finally {
    t.close();
    await s.close();
  }
});

test('a GET whose connection is dropped before the answer is resent', async () => {
  const s = await serve((n, req, res) => (n < 2 ? req.socket.destroy() : ok(res)));
  const t = transport(s.url);
  try {
    const { value } = await t.json<{ ok: boolean }>({ method: 'GET', path: '/x' });
    assert.deepEqual(value, { ok: true });
    assert.equal(s.seen.length, 3);
  } finally {
    t.close();
    await s.close();
  }
});

test('a connection cut in the middle of the answer fails the attempt (no truncated body is returned)', async () => {
  const s = await serve((n, req, res) => {
    if (n === 0) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('[1, 2, ');
      setTimeout(() => req.socket.destroy(), 20);
    } else ok(res, [1, 2, 3]);
  });
  const t = transport(s.url);
  try {
    const { value } = await t.json<number[]>({ method: 'GET', path: '/x' });
    assert.deepEqual(value, [1, 2, 3]);
    assert.equal(s.seen.length, 2);
  } finally {
    t.close();
    await s.close();
  }
});

test('503 with Retry-After is waited for, within the bound; beyond it, it is not', async () => {
  const s = await serve((n, req, res) => {
    if (req.url === '/long') return gnocchiError(res, 503, 'Service Unavailable', 'later', { 'retry-after': '3600' });
    if (n === 0) gnocchiError(res, 503, 'Service Unavailable', 'busy', { 'retry-after': '1' });
    else ok(res);
  });
  const t = transport(s.url);
  try {
    const t0 = Date.now();
    await t.request({ method: 'GET', path: '/v1/status' });
    const waited = Date.now() - t0;
    assert.ok(waited >= 950 && waited < 3_000, `waited ${waited} ms`);
    assert.equal(s.seen.length, 2);
    const t1 = Date.now();
    const err = await t.request({ method: 'GET', path: '/long' }).catch((e: unknown) => e);
    assert.ok(err instanceof GnocchiApiError && err.status === 503 && err.description === 'later');
    assert.ok(Date.now() - t1 < 1_000, 'a Retry-After past the total bound is not waited');
    assert.equal(s.seen.length, 3);
  } finally {
    t.close();
    await s.close();
  }
});

test('429 is retried for a POST too (the server refused it unread); 503 is not', async () => {
  const s = await serve((n, req, res) => {
    if (req.url === '/503') return gnocchiError(res, 503, 'Service Unavailable', 'no', { 'retry-after': '0' });
    if (n < 2) gnocchiError(res, 429, 'Too Many Requests', 'slow down', { 'retry-after': '0' });
    else res.writeHead(202).end();
  });
  const t = transport(s.url);
  try {
    const r = await t.request({ method: 'POST', path: '/v1/metric/x/measures', body: [] });
    assert.equal(r.status, 202);
    assert.equal(s.seen.length, 3);
    await assert.rejects(t.request({ method: 'POST', path: '/503', body: [] }), (e: unknown) => e instanceof GnocchiApiError && e.status === 503);
    assert.equal(s.seen.length, 4);
  } finally {
    t.close();
    await s.close();
  }
});

test('a refused connection is retried for any method, and succeeds once the server listens', async () => {
  // A port that was free a moment ago: nothing listens there until the server starts.
  const probe = await serve(() => {});
  const port = probe.port;
  await probe.close();
  const t = transport(`http://127.0.0.1:${port}`, { retry: { attempts: 30, baseMs: 20, maxMs: 50, totalMs: 10_000 } });
  let s: Server | null = null;
  const later = setTimeout(() => {
    void serve((_n, _req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end('{"id": "m"}'), port).then((x) => { s = x; });
  }, 150);
  try {
    const { value } = await t.json<{ id: string }>({ method: 'POST', path: '/v1/metric', body: { archive_policy_name: 'low' } });
    assert.deepEqual(value, { id: 'm' });
    assert.equal((s as Server | null)?.seen.length, 1, 'the POST reached the server once');
  } finally {
    clearTimeout(later);
    t.close();
    await (s as Server | null)?.close();
  }
  // With nobody ever listening: bounded attempts, then the socket error.
  const t2 = transport(`http://127.0.0.1:${port}`, { retry: { attempts: 3, baseMs: 1, maxMs: 2, totalMs: 5_000 } });
  const err = await t2.request({ method: 'POST', path: '/v1/metric', body: {} }).catch((e: unknown) => e);
  t2.close();
  assert.ok(err instanceof GnocchiTransportError);
  assert.equal(err.code, 'ECONNREFUSED');
  assert.equal(err.attempts, 3);
});

test('each attempt is timed out, and the whole call is bounded', async () => {
  const s = await serve(() => { /* never answers */ });
  const t = transport(s.url, { timeoutMs: 150, retry: { attempts: 100, baseMs: 1, maxMs: 5, totalMs: 700 } });
  try {
    const t0 = Date.now();
    const err = await t.request({ method: 'GET', path: '/v1/status' }).catch((e: unknown) => e);
    const took = Date.now() - t0;
    assert.ok(err instanceof GnocchiTransportError);
    assert.equal(err.code, 'ETIMEDOUT');
    assert.ok(took >= 600 && took < 1_500, `took ${took} ms`);
    assert.ok(s.seen.length >= 4 && s.seen.length <= 6, `${s.seen.length} attempts`);
  } finally {
    t.close();
    await s.close();
  }
});

test('keep-alive: sequential requests reuse one connection (POSTs too, the server saying keep-alive)', async () => {
  const s = await serve((_n, _req, res) => ok(res));
  const t = transport(s.url);
  try {
    for (let i = 0; i < 20; i++) await t.request({ method: i % 2 ? 'GET' : 'POST', path: '/v1/metric', body: i % 2 ? undefined : {} });
    assert.equal(s.seen.length, 20);
    // The first POST, sent before the server said it keeps connections, had one of its own.
    assert.equal(s.connections, 2);
    // POSTs alone: the first one's answer says keep-alive, the others share one connection.
    const posts = transport(s.url);
    for (let i = 0; i < 10; i++) await posts.request({ method: 'POST', path: '/v1/metric', body: {} });
    posts.close();
    assert.equal(s.connections, 4);
  } finally {
    t.close();
    await s.close();
  }
});

/**
 * A server that answers like uwsgi's --http-socket: HTTP/1.1 without a Connection header,
 * then closes the connection a moment after the answer.
 */
async function closingServer(delayMs: number): Promise<{ url: string; bodies: string[]; connections: number; close(): Promise<void> }> {
  const bodies: string[] = [];
  const state = { connections: 0 };
  const server = net.createServer((sock) => {
    state.connections++;
    let buf = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString())?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      bodies.push(buf.subarray(end + 4, end + 4 + length).toString());
      buf = Buffer.alloc(0);
      sock.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nContent-Type: application/json\r\n\r\n');
      // Whatever else arrived on this connection is never answered.
      sock.removeAllListeners('data');
      setTimeout(() => sock.destroy(), delayMs);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies,
    get connections() { return state.connections; },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test('a server closing every connection after its answer without saying so (uwsgi): POSTs never land on a dead connection', async () => {
  const s = await closingServer(5);
  const t = transport(s.url, { retry: { attempts: 1 } });
  try {
    for (let i = 0; i < 10; i++) {
      const r = await t.request({ method: 'POST', path: '/v1/batch/metrics/measures', body: { i } });
      assert.equal(r.status, 202);
    }
    assert.deepEqual(s.bodies.map((b) => JSON.parse(b).i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(s.connections, 10);
  } finally {
    t.close();
    await s.close();
  }
});

test('... and GETs meeting its stale pooled connections are resent, then pooling stops', async () => {
  const s = await closingServer(5);
  const t = transport(s.url, { retry: { attempts: 1 } });
  try {
    for (let i = 0; i < 10; i++) assert.equal((await t.request({ method: 'GET', path: '/v1/status' })).status, 202);
    // With attempts: 1, a stale connection not resent on would have failed the request.
    assert.equal(s.bodies.length, 10, 'each request answered once');
    assert.equal(t.pooling, false);
  } finally {
    t.close();
    await s.close();
  }
});

test('auth headers of every mode, the path prefix and the query', async () => {
  const s = await serve((_n, _req, res) => ok(res));
  const modes: Array<[TransportOptions['auth'], Record<string, string | undefined>]> = [
    [{ type: 'basic', user: 'admin' }, { authorization: `Basic ${Buffer.from('admin:').toString('base64')}` }],
    [{ type: 'bearer', token: 'tally_0123_abc' }, { authorization: 'Bearer tally_0123_abc' }],
    [{ type: 'keystone', token: 'ks-token' }, { 'x-auth-token': 'ks-token', authorization: undefined }],
    [{ type: 'noauth', userId: 'u1', projectId: 'p1', roles: ['admin', 'member'] }, { 'x-user-id': 'u1', 'x-project-id': 'p1', 'x-roles': 'admin,member' }],
  ];
  try {
    for (const [auth, want] of modes) {
      const t = transport(`${s.url}/prefix/`, { auth });
      await t.request({ method: 'GET', path: '/v1/metric', query: { limit: 2, sort: ['name:asc', 'id:desc'], skip: undefined, refresh: true } });
      t.close();
      const got = s.seen[s.seen.length - 1];
      for (const [k, v] of Object.entries(want)) assert.equal(got.headers[k], v, k);
      assert.equal(got.headers.accept, 'application/json, */*');
      assert.equal(got.url, '/prefix/v1/metric?limit=2&sort=name%3Aasc&sort=id%3Adesc&refresh=true');
    }
  } finally {
    await s.close();
  }
});

test('errors in HTML and plain text (Gnocchi\'s DELETE routes) are decoded too; redirects are errors', async () => {
  const html = '<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  The resource could not be found.<br /><br />\nArchive policy &quot;x&quot; does not exist\n\n\n </body>\n</html>';
  const s = await serve((n, _req, res) => {
    if (n === 0) res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' }).end(html);
    else if (n === 1) res.writeHead(400, { 'content-type': 'text/plain; charset=UTF-8' }).end('400 Bad Request\n\nThe server could not comply.\n\n Archive policy x is still in use  ');
    else res.writeHead(302, { location: '/v1/', 'content-type': 'application/json' }).end('{"code": 302, "title": "Found", "description": null}');
  });
  const t = transport(s.url);
  try {
    const e1 = await t.request({ method: 'DELETE', path: '/v1/archive_policy/x' }).catch((e: unknown) => e);
    assert.ok(e1 instanceof GnocchiApiError);
    assert.deepEqual([e1.status, e1.title, e1.description], [404, 'Not Found', 'Archive policy "x" does not exist']);
    const e2 = await t.request({ method: 'DELETE', path: '/v1/archive_policy/x' }).catch((e: unknown) => e);
    assert.ok(e2 instanceof GnocchiApiError);
    assert.deepEqual([e2.status, e2.title, e2.description], [400, 'Bad Request', 'Archive policy x is still in use']);
    const e3 = await t.request({ method: 'GET', path: '/v1' }).catch((e: unknown) => e);
    assert.ok(e3 instanceof GnocchiApiError);
    assert.deepEqual([e3.status, e3.title, e3.description], [302, 'Found', '']);
  } finally {
    t.close();
    await s.close();
  }
});

test('Python JSON: NaN and infinities outside strings are numbers, inside strings untouched', () => {
  const v = parsePythonJson('[["2024-01-01T00:00:00+00:00", 1.0, NaN], [Infinity, -Infinity, "NaN Infinity \\"NaN\\""]]');
  assert.ok(Array.isArray(v));
  const [a, b] = v as [unknown[], unknown[]];
  assert.ok(Number.isNaN(a[2]));
  assert.deepEqual(b, [Infinity, -Infinity, 'NaN Infinity "NaN"']);
  assert.throws(() => parsePythonJson('{"a": nan}'), SyntaxError);
  assert.deepEqual(parsePythonJson('{"a": 1.5e-07}'), { a: 1.5e-7 });
});

test('Retry-After in seconds or as an HTTP date; the next page from a Link header', () => {
  assert.equal(retryAfterMs('7'), 7_000);
  assert.equal(retryAfterMs(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1)), 30_000);
  assert.equal(retryAfterMs('soon'), null);
  assert.equal(retryAfterMs(undefined), null);
  assert.deepEqual(nextPageQuery('<http://h/v1/metric?limit=2&marker=abc&sort=id%3Aasc&sort=name%3Adesc>; rel="next"'),
    { limit: '2', marker: 'abc', sort: ['id:asc', 'name:desc'] });
  assert.equal(nextPageQuery('<http://h/v1/metric?marker=a>; rel="prev"'), null);
  assert.equal(nextPageQuery(undefined), null);
});
