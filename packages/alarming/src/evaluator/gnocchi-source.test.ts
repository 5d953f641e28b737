// The Gnocchi metric source against an in-process Tally, and against a running Gnocchi
// (4.4.2 reference: shared/reference/gnocchi-server.sh) when TALLY_TEST_GNOCCHI_URL names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { GnocchiApiError, GnocchiTransportError } from '@tally/client';
import { startTestApi } from '@tally/rest/test-util';
import { sourceError } from './gnocchi-source.js';
import { SourceNotFoundError, SourceRefusedError, SourceUnavailableError } from './source.js';
import { sourceSuite } from './source-suite.js';

sourceSuite('in-process Tally', async () => {
  const api = await startTestApi();
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`, close: () => api.close() };
});

const url = process.env.TALLY_TEST_GNOCCHI_URL;
if (url) sourceSuite(`Gnocchi at ${url}`, async () => ({ url, close: async () => {} }));
else test('the real Gnocchi (set TALLY_TEST_GNOCCHI_URL)', { skip: 'TALLY_TEST_GNOCCHI_URL is not set' }, () => {});

test('client errors: transient ones are retried later, 404s told apart as gnocchiclient does', () => {
  const api = (status: number, description: string | Record<string, string>): GnocchiApiError =>
    new GnocchiApiError('GET', '/x', status, 'T', description, '');
  assert.ok(sourceError(new GnocchiTransportError('GET', '/x', 'ECONNREFUSED', 'refused', 3)) instanceof SourceUnavailableError);
  for (const s of [500, 502, 503, 429, 408]) assert.ok(sourceError(api(s, 'busy')) instanceof SourceUnavailableError, String(s));
  const kind = (d: string | Record<string, string>): string => (sourceError(api(404, d)) as SourceNotFoundError).kind;
  assert.equal(kind('Metric cpu does not exist'), 'metric');
  assert.equal(kind('Resource abc does not exist'), 'resource');
  assert.equal(kind('Resource type foo does not exist'), 'other');
  assert.equal(kind({ cause: 'Unknown metrics' }), 'other');
  const refused = sourceError(api(403, 'Forbidden'));
  assert.ok(refused instanceof SourceRefusedError);
  assert.equal(refused.message, 'Forbidden (HTTP 403)');
});
