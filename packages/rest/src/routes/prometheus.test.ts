import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from '../test-util.js';
import { snappyCompress, writeRequest, type TestSeries } from '../ingest/test-codecs.js';

let api: TestApi;
before(async () => {
  api = await startTestApi();
  await api.call('POST', '/v1/archive_policy', { body: { name: 'sec', definition: [{ granularity: '1 second' }] } });
  await api.call('POST', '/v1/archive_policy_rule', { body: { name: 'all', metric_pattern: '*', archive_policy_name: 'sec' } });
});
after(async () => api.close());

async function post(payload: Buffer, user = 'admin', encoding = 'snappy'): Promise<{ statusCode: number; body: string }> {
  return api.app.inject({
    method: 'POST', url: '/v1/prometheus/write', payload,
    headers: {
      'content-type': 'application/x-protobuf', 'content-encoding': encoding, accept: 'application/json',
      authorization: 'basic ' + Buffer.from(`${user}:`).toString('base64'),
    },
  });
}
const send = (series: TestSeries[], user?: string): Promise<{ statusCode: number; body: string }> => post(snappyCompress(writeRequest(series)), user);

test('prometheus: resources per job/instance, metrics per __name__', async () => {
  const t = 1_700_000_000_000;
  const r = await send([
    { labels: { __name__: 'up', job: 'node', instance: 'h1:9100' }, samples: [[t, 1], [t + 1000, 0]] },
    { labels: { __name__: 'temp', job: 'node', instance: 'h1:9100', sensor: 'a' }, samples: [[t, 20]] },
    { labels: { __name__: 'temp', job: 'node', instance: 'h1:9100', sensor: 'b' }, samples: [[t, 30]] },
    { labels: { __name__: 'nan_only', job: 'node', instance: 'h1:9100' }, samples: [[t, NaN]] },
    { labels: { __name__: 'no_samples', job: 'node', instance: 'h1:9100' }, samples: [] },
    { labels: { __name__: 'up', job: 'node', instance: 'h2:9100' }, samples: [[t, 1]] },
    { labels: { __name__: 'x' }, samples: [[t, 5]] },
  ]);
  assert.equal(r.statusCode, 202, r.body);
  const list = await api.call('GET', '/v1/resource/prometheus?sort=original_resource_id');
  const rs = list.json as { original_resource_id: string; job: string; instance: string; metrics: Record<string, string> }[];
  assert.deepEqual(rs.map((x) => [x.original_resource_id, x.job, x.instance]),
    [['node@h1:9100', 'node', 'h1:9100'], ['node@h2:9100', 'node', 'h2:9100'], ['none@none', 'none', 'none']]);
  assert.deepEqual(Object.keys(rs[0].metrics).sort(), ['nan_only', 'temp', 'up']);
  const up = await api.call('GET', '/v1/resource/prometheus/node@h1:9100/metric/up/measures?refresh=true');
  assert.deepEqual(up.json, [['2023-11-14T22:13:20+00:00', 1.0, 1.0], ['2023-11-14T22:13:21+00:00', 1.0, 0.0]]);
  // As in Gnocchi, the last series of a name wins.
  const temp = await api.call('GET', '/v1/resource/prometheus/node@h1:9100/metric/temp/measures?refresh=true');
  assert.deepEqual(temp.json, [['2023-11-14T22:13:20+00:00', 1.0, 30.0]]);
  const nan = await api.call('GET', '/v1/resource/prometheus/node@h1:9100/metric/nan_only/measures?refresh=true');
  assert.deepEqual(nan.json, []);
  // Later writes reuse the resource and add new metrics.
  assert.equal((await send([{ labels: { __name__: 'new', job: 'node', instance: 'h1:9100' }, samples: [[t, 1]] }])).statusCode, 202);
  const again = await api.call('GET', '/v1/resource/prometheus/node@h1:9100');
  assert.equal(Object.keys((again.json as { metrics: object }).metrics).length, 4);
});

test('prometheus: bad input is a 4xx', async () => {
  assert.equal((await post(Buffer.from('not snappy at all'))).statusCode, 400);
  assert.equal((await post(Buffer.alloc(0))).statusCode, 400);
  assert.equal((await post(snappyCompress(Buffer.from([0x0a, 0x05, 0x01])))).statusCode, 400);
  assert.equal((await post(snappyCompress(writeRequest([{ labels: { job: 'j' }, samples: [[1, 1]] }])))).statusCode, 400);
  assert.equal((await post(snappyCompress(writeRequest([{ labels: { __name__: 'a', job: '' }, samples: [[1, 1]] }])))).statusCode, 400);
  assert.equal((await post(snappyCompress(writeRequest([])), 'admin', 'gzip')).statusCode, 415);
  // Only admins may create the resource type; then anyone writes their own resources.
  assert.equal((await send([{ labels: { __name__: 'a', job: 'j', instance: 'i' }, samples: [[1, 1]] }], 'bob')).statusCode, 202);
  assert.equal((await send([{ labels: { __name__: 'b', job: 'node', instance: 'h1:9100' }, samples: [[1, 1]] }], 'bob')).statusCode, 202);
});

test('prometheus: concurrent shards creating one resource', async () => {
  const rs = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    send([{ labels: { __name__: `m${i % 4}`, job: 'race', instance: 'x' }, samples: [[1_700_000_000_000 + i, i]] }])));
  for (const r of rs) assert.equal(r.statusCode, 202, r.body);
  const res = await api.call('GET', '/v1/resource/prometheus/race@x');
  assert.deepEqual(Object.keys((res.json as { metrics: object }).metrics).sort(), ['m0', 'm1', 'm2', 'm3']);
});
