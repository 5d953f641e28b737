// The in-process source against the HTTP one, on the same Tally and the same data: the
// shared source suite holds both to the same decisions and Aodh's reasons.
import type { AddressInfo } from 'node:net';
import { startTestApi } from '@tally/rest/test-util';
import { sourceSuite } from '../evaluator/source-suite.js';
import { inProcessMetricSource } from './in-process-source.js';

sourceSuite('in-process Tally, over HTTP and through inject', async () => {
  const api = await startTestApi();
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`,
    sources: { inject: inProcessMetricSource(api.app) },
    close: () => api.close(),
  };
});
