// The metric source of an evaluator that shares the process (or the data folder) with the
// metric store: Gnocchi's API plugin called through Fastify's inject, without a socket.
//
// Why inject rather than the REST package's domain functions: the three queries would need
// their own copy of what the routes do around the domain (parsing the rule's search filter,
// the aggregates operations, Gnocchi's 404 and 400 texts that Aodh's reasons are built
// from). Through inject the in-process source is GnocchiMetricSource itself, with the same
// requests and the same answers as over HTTP, so both paths give identical results by
// construction; what it costs is the JSON written and read per query.
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { GnocchiClient, InjectTransport, type GnocchiAuth } from '@tally/client';
import { GnocchiMetricSource } from '../evaluator/index.js';

/**
 * A source over `api`, an instance of @tally/rest's Gnocchi API (need not listen). `auth`
 * must be an administrator in the API's auth mode (alarms read every project's metrics);
 * by default Gnocchi's basic mode's `admin`.
 */
export function inProcessMetricSource(api: FastifyInstance, auth: GnocchiAuth = { type: 'basic', user: 'admin' }): GnocchiMetricSource {
  const transport = new InjectTransport(async (req) => {
    const res = await api.inject({ method: req.method as HTTPMethods, url: req.url, headers: req.headers, payload: req.payload });
    return { statusCode: res.statusCode, headers: res.headers, rawPayload: res.rawPayload };
  }, { auth });
  return new GnocchiMetricSource(new GnocchiClient({ transport }));
}
