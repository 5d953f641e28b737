// The same calls against a running Gnocchi (4.4.2 reference: shared/reference/gnocchi-server.sh,
// basic auth, PROFILE=test for max_limit 7) when TALLY_TEST_GNOCCHI_URL names it; skipped otherwise.
import { test } from 'node:test';
import { apiSuite } from './api-suite.js';

const url = process.env.TALLY_TEST_GNOCCHI_URL;
if (url) apiSuite(`Gnocchi at ${url}`, async () => ({ url, close: async () => {} }));
else test('the real Gnocchi (set TALLY_TEST_GNOCCHI_URL)', { skip: 'TALLY_TEST_GNOCCHI_URL is not set' }, () => {});
