// RFC 7232 conditional requests on resources (If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since), checked in the order Gnocchi checks them.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';

function etagList(v: string | string[] | undefined): string[] | null {
  if (v === undefined) return null;
  return (Array.isArray(v) ? v.join(',') : v).split(',').map((t) => t.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1')).filter(Boolean);
}

function httpDate(v: string | string[] | undefined): number | null {
  if (v === undefined) return null;
  const t = Date.parse(Array.isArray(v) ? v[0] : v);
  return Number.isNaN(t) ? null : t;
}

const matches = (list: string[], etag: string): boolean => list.includes('*') || list.includes(etag);

/** Throws 412 (or 304 for reads) when the request's preconditions do not hold. */
export function checkPreconditions(req: FastifyRequest, etag: string, lastModified: Date): void {
  const read = req.method === 'GET' || req.method === 'HEAD';
  const ifMatch = etagList(req.headers['if-match']);
  const ifNoneMatch = etagList(req.headers['if-none-match']);
  const lm = lastModified.getTime();
  if (ifMatch !== null && !matches(ifMatch, etag)) throw new HttpError(412, 'Request precondition failed.');
  const ius = httpDate(req.headers['if-unmodified-since']);
  if (ifMatch === null && ius !== null && ius < lm) throw new HttpError(412, 'Request precondition failed.');
  if (ifNoneMatch !== null && matches(ifNoneMatch, etag)) {
    if (read) throw new HttpError(304, '');
    throw new HttpError(412, 'Request precondition failed.');
  }
  const ims = httpDate(req.headers['if-modified-since']);
  if (ifNoneMatch === null && ims !== null && ims >= lm && read) throw new HttpError(304, '');
}

export function setValidators(reply: FastifyReply, etag: string, lastModified: Date): void {
  reply.header('etag', `"${etag}"`).header('last-modified', lastModified.toUTCString());
}
