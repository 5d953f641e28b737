// /v1/influxdb: what InfluxDB 1.x clients (Telegraf, collectd's write_http, ...) need to
// write into Tally, as Gnocchi offers it. A database is a resource type (created by
// `CREATE DATABASE x`); each line's resource is named by one of its tags (`host`, or the
// tag named by the X-Gnocchi-InfluxDB-Tag-Resource-ID header); metrics are named
// measurement.field@other=tags. Resources and metrics are created as needed.
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Measures } from '@tally/timeseries';
import * as ix from '@tally/indexer';
import { route } from '../http.js';
import { enforce } from '../auth.js';
import { HttpError, argumentError, badRequest } from '../errors.js';
import { parseLineProtocol, LineProtocolError, PRECISIONS, type ParsedLines } from '../ingest/line-protocol.js';
import { addToBatch } from '../ingest/columns.js';
import { resourceMetrics } from '../ingest/resources.js';
import type { Ctx } from '../context.js';

const DEFAULT_DATABASE = 'influxdb';
const DEFAULT_TAG_RESOURCE_ID = 'host';
const TAG_HEADER = 'x-gnocchi-influxdb-tag-resource-id';

const notImplemented = (): HttpError =>
  new HttpError(501, { cause: 'Not implemented error', detail: 'q', reason: 'Query not implemented' });

/**
 * The database name of `CREATE DATABASE name` (case-insensitive keywords; the name a
 * double-quoted string or an identifier), or null for any other query. As in Gnocchi, only
 * the beginning of the query has to match.
 */
export function createDatabaseName(q: string): string | null {
  const m = /^\s*create\s+database(\s+)/i.exec(q);
  if (!m) return null;
  const rest = q.slice(m[0].length);
  if (rest.startsWith('"')) {
    let out = '';
    for (let i = 1; i < rest.length; i++) {
      const c = rest[i];
      if (c === '\\' && i + 1 < rest.length) out += rest[++i];
      else if (c === '"') return out === '' ? null : out;
      else out += c;
    }
    return null;
  }
  const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
  return id ? id[0] : null;
}

function queryArg(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body, gunzipped when sent with Content-Encoding: gzip (Telegraf's default). */
function bodyBytes(req: FastifyRequest, maxLength: number): Buffer {
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.from(typeof req.body === 'string' ? req.body : '');
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return raw;
  if (encoding !== 'gzip') {
    throw new HttpError(415, `Unsupported Media Type: content encoding ${encoding} is not supported (gzip or identity only).`);
  }
  try {
    return gunzipSync(raw, { maxOutputLength: maxLength });
  } catch (e) {
    throw badRequest({ cause: 'Value error', detail: 'body', reason: `Unable to gunzip the body: ${e instanceof Error ? e.message : String(e)}` });
  }
}

/** The body as text; a line that is not UTF-8 is a parse error of that line, as in Gnocchi. */
function bodyText(ctx: Ctx, req: FastifyRequest): string {
  const raw = bodyBytes(req, Math.min(ctx.cfg.bodyLimit * 8, 1024 * 1024 * 1024));
  try {
    return utf8.decode(raw);
  } catch {
    let line = 1;
    let start = 0;
    for (let i = 0; i <= raw.length; i++) {
      if (i < raw.length && raw[i] !== 0x0a) continue;
      try {
        utf8.decode(raw.subarray(start, i));
      } catch {
        break;
      }
      line++;
      start = i + 1;
    }
    throw lineError(new LineProtocolError('parse', line));
  }
}

function lineError(e: LineProtocolError): HttpError {
  return badRequest({ cause: 'Value error', detail: e.kind === 'parse' ? 'line' : 'key', reason: e.message });
}

async function write(ctx: Ctx, req: FastifyRequest): Promise<void> {
  const identity = ctx.identity(req);
  const db = queryArg(req, 'db') ?? DEFAULT_DATABASE;
  const precisionArg = queryArg(req, 'precision');
  const precision = precisionArg === undefined || precisionArg === '' ? [] : Object.hasOwn(PRECISIONS, precisionArg) ? PRECISIONS[precisionArg] : undefined;
  if (!precision) throw argumentError(`Invalid precision \`${precisionArg}' (one of ${Object.keys(PRECISIONS).join(', ')})`, 'precision');
  const tagHeader = req.headers[TAG_HEADER];
  const tag = (Array.isArray(tagHeader) ? tagHeader[0] : tagHeader) ?? DEFAULT_TAG_RESOURCE_ID;
  const now = BigInt(Date.now()) * 1_000_000n;
  let parsed: ParsedLines;
  try {
    parsed = parseLineProtocol(bodyText(ctx, req), { tagResourceId: tag, precision, now });
  } catch (e) {
    if (e instanceof LineProtocolError) throw lineError(e);
    throw e;
  }
  const batch = new Map<string, Measures>();
  for (const [name, metrics] of parsed) {
    let rid: string;
    try {
      rid = ix.resourceUuid(name, identity.creator);
    } catch (e) {
      throw badRequest({ cause: 'Value error', detail: 'key', reason: `Invalid resource id \`${name}': ${e instanceof Error ? e.message : String(e)}` });
    }
    const ids = await resourceMetrics(ctx, identity, { type: db, id: rid, originalId: name, names: [...metrics.keys()], attributes: {} });
    for (const [metric, col] of metrics) {
      const id = ids.get(metric);
      if (id !== undefined) addToBatch(batch, id, col.measures());
    }
  }
  if (batch.size) await ctx.incoming.add(batch);
}

export function influxdbRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/influxdb/ping', {
    // No authentication, as in Gnocchi: clients ping before they send credentials.
    GET: async (_req, reply) => {
      return reply.code(204).header('x-influxdb-version', `Tally ${ctx.version}`).send();
    },
  });
  route(app, '/v1/influxdb/query', {
    POST: async (req, reply) => {
      const identity = ctx.identity(req);
      const q = queryArg(req, 'q');
      if (q !== undefined) {
        const name = createDatabaseName(q);
        if (name === null) throw notImplemented();
        enforce('create resource type', identity);
        try {
          await ctx.indexer.createResourceType(name, {});
        } catch (e) {
          if (!(e instanceof ix.ResourceTypeAlreadyExists)) {
            if (e instanceof ix.InvalidResourceAttribute) throw badRequest(e.message);
            throw e;
          }
        }
      }
      return reply.code(204).send();
    },
  });
  route(app, '/v1/influxdb/write', {
    POST: async (req, reply) => {
      await write(ctx, req);
      return reply.code(204).send();
    },
  });
}
