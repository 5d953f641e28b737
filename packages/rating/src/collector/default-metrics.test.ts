// The default metrics configuration: valid, and readable from a Tally with Gnocchi's
// standard resource types (each of its resource types exists there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openIndexer } from '@tally/indexer';
import { startTestApi } from '@tally/rest/test-util';
import { DEFAULT_METRICS_YAML } from './default-metrics.js';
import { GnocchiUsageSource, inProcessGnocchiClient } from './gnocchi.js';
import { parseMetricsYaml } from './metrics-config.js';

test("the default metrics configuration rates Ceilometer's usual meters on the standard resource types", async () => {
  const metrics = parseMetricsYaml(DEFAULT_METRICS_YAML);
  assert.deepEqual(metrics.map((m) => [m.metric, m.type, m.unit, m.extra_args.resource_type]), [
    ['cpu', 'instance', 'instance', 'instance'],
    ['image.size', 'image.size', 'MiB', 'image'],
    ['ip.floating', 'ip.floating', 'ip', 'network'],
    ['network.incoming.bytes.rate', 'network.incoming.bytes.rate', 'MB', 'instance_network_interface'],
    ['network.outgoing.bytes.rate', 'network.outgoing.bytes.rate', 'MB', 'instance_network_interface'],
    ['volume.size', 'volume.size', 'GiB', 'volume'],
  ]);
  const api = await startTestApi();
  try {
    // As `tally upgrade` does on a new index.
    const ix = await openIndexer(`sqlite://${join(api.dir, 'index.sqlite')}`);
    await ix.createStandardResourceTypes();
    await ix.close();
    const types = (await api.call('GET', '/v1/resource_type')).json as { name: string }[];
    for (const m of metrics) assert.ok(types.some((t) => t.name === m.extra_args.resource_type), `${m.extra_args.resource_type} is a standard resource type`);
    // Ceilometer's upgrade (and Tally's agent) give instances their flavor's name.
    const patched = await api.call('PATCH', '/v1/resource_type/instance', { body: [{ op: 'add', path: '/attributes/flavor_name', value: { type: 'string', required: false } }], headers: { 'content-type': 'application/json-patch+json' } });
    assert.equal(patched.status, 200, patched.text);
    const created = await api.call('POST', '/v1/resource/instance', { body: { id: '11111111-1111-4111-8111-111111111111', project_id: 'p1', user_id: 'u', flavor_id: 'f', image_ref: 'i', host: 'h', display_name: 'vm', flavor_name: 'm1.small' } });
    assert.equal(created.status, 201, created.text);
    const source = new GnocchiUsageSource(inProcessGnocchiClient(api.app), metrics);
    const begin = BigInt(Date.now() - 3_600_000) * 1_000_000n;
    assert.deepEqual(await source.scopes(begin, begin + 7_200_000_000_000n), ['p1']);
    // No measures yet: nothing to rate, and no error from any of the six reads.
    assert.deepEqual(await source.usage('p1', begin, begin + 3_600_000_000_000n), []);
  } finally {
    await api.close();
  }
});
