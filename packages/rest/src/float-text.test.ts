// Floats in measure reads are written as Gnocchi writes them. The expected bodies are the
// text Gnocchi 4.4.2 returned for the same requests (only metric ids substituted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from './test-util.js';

// The values as JSON text, as they were sent to Gnocchi.
const POINTS = ['0.00005', '1e16', '123456789012345678', '-0.0', '"1_000.5"', '0', '1e-7', '1e22'];
const OTHER = ['"-0.0"', '-1e-300'];

function measuresBody(values: string[], first: number): string {
  return '[' + values.map((v, i) => `{"timestamp": "2024-01-01T00:00:0${first + i}", "value": ${v}}`).join(', ') + ']';
}

/** A metric of policy 'fl' with `values` one second apart from 00:00:`first`. */
async function metricWith(api: TestApi, values: string[], first = 0): Promise<string> {
  const m = (await api.call('POST', '/v1/metric', { body: { archive_policy_name: 'fl' } })).json as { id: string };
  assert.equal((await api.call('POST', `/v1/metric/${m.id}/measures`, { raw: measuresBody(values, first) })).status, 202);
  return m.id;
}

const MEAN =
  '[["2024-01-01T00:00:00+00:00", 1.0, 5e-05], ["2024-01-01T00:00:01+00:00", 1.0, 1e+16], ' +
  '["2024-01-01T00:00:02+00:00", 1.0, 1.2345678901234568e+17], ["2024-01-01T00:00:03+00:00", 1.0, 0.0], ' +
  '["2024-01-01T00:00:04+00:00", 1.0, 1000.5], ["2024-01-01T00:00:05+00:00", 1.0, 0.0], ' +
  '["2024-01-01T00:00:06+00:00", 1.0, 1e-07], ["2024-01-01T00:00:07+00:00", 1.0, 1e+22]]';

test('measures and aggregates write floats as Gnocchi does', async () => {
  const api = await startTestApi();
  try {
    const policy = { name: 'fl', definition: [{ granularity: '1s', points: 100 }], aggregation_methods: ['mean', 'min'] };
    assert.equal((await api.call('POST', '/v1/archive_policy', { body: policy })).status, 201);
    const m = await metricWith(api, POINTS);
    const m2 = await metricWith(api, OTHER, 3);

    assert.equal((await api.call('GET', `/v1/metric/${m}/measures?refresh=true`)).text, MEAN);
    assert.equal((await api.call('GET', `/v1/metric/${m2}/measures?refresh=true`)).text,
      '[["2024-01-01T00:00:03+00:00", 1.0, 0.0], ["2024-01-01T00:00:04+00:00", 1.0, -1e-300]]');
    // min keeps the sign of -0.0 (the mean, 0.0 + -0.0, does not).
    assert.equal((await api.call('GET', `/v1/metric/${m}/measures?aggregation=min`)).text, MEAN.replace('00:03+00:00", 1.0, 0.0', '00:03+00:00", 1.0, -0.0'));

    const aggregates = async (query: string, operations: string): Promise<string> =>
      (await api.call('POST', `/v1/aggregates${query}`, { body: { operations } })).text;
    assert.equal(await aggregates('', `(metric ${m} mean)`), `{"measures": {"${m}": {"mean": ${MEAN}}}}`);
    assert.equal(await aggregates('', `(aggregate mean (metric ${m} mean))`), `{"measures": {"aggregated": ${MEAN}}}`);
    assert.equal(await aggregates('', `(* (metric ${m} mean) 1e300)`),
      `{"measures": {"${m}": {"mean": [["2024-01-01T00:00:00+00:00", 1.0, 5.000000000000001e+295], ` +
      '["2024-01-01T00:00:03+00:00", 1.0, 0.0], ["2024-01-01T00:00:04+00:00", 1.0, 1.0005e+303], ' +
      '["2024-01-01T00:00:05+00:00", 1.0, 0.0], ["2024-01-01T00:00:06+00:00", 1.0, 1e+293]]}}}');
    // Missing points filled with NaN, and divisions by zero: NaN, Infinity, -Infinity.
    const nan = (i: number): string => `["2024-01-01T00:00:0${i}+00:00", 1.0, NaN]`;
    assert.equal(await aggregates('?fill=null', `(metric (${m} mean) (${m2} mean))`),
      `{"measures": {"${m}": {"mean": ${MEAN}}, "${m2}": {"mean": [${nan(0)}, ${nan(1)}, ${nan(2)}, ` +
      `["2024-01-01T00:00:03+00:00", 1.0, 0.0], ["2024-01-01T00:00:04+00:00", 1.0, -1e-300], ${nan(5)}, ${nan(6)}, ${nan(7)}]}}}`);
    const inf = (i: number): string => `["2024-01-01T00:00:0${i}+00:00", 1.0, Infinity]`;
    assert.equal(await aggregates('?fill=null', `(/ (metric (${m} mean) (${m2} mean)) 0)`),
      `{"measures": {"${m}": {"mean": [${inf(0)}, ${inf(1)}, ${inf(2)}, ${nan(3)}, ${inf(4)}, ${nan(5)}, ${inf(6)}, ${inf(7)}]}, ` +
      `"${m2}": {"mean": [${nan(0)}, ${nan(1)}, ${nan(2)}, ${nan(3)}, ["2024-01-01T00:00:04+00:00", 1.0, -Infinity], ${nan(5)}, ${nan(6)}, ${nan(7)}]}}}`);

    // Values given as text are read by Python's float(): " 1_0 " is 10.0, "0x10" is refused.
    const post = async (value: string) => api.call('POST', `/v1/metric/${m2}/measures`, { raw: `[{"timestamp": "2024-01-01T00:00:09", "value": ${value}}]` });
    assert.equal((await post('" 1_0 "')).status, 202);
    assert.equal((await post('"0x10"')).text,
      '{"code": 400, "title": "Bad Request", "description": {"cause": "Invalid input", "reason": "unexpected measures value", "detail": []}}');

    const search = await api.call('POST', `/v1/search/metric?metric_id=${m}`, { body: { '<': 0.001 } });
    assert.equal(search.text, `{"${m}": [["2024-01-01T00:00:00+00:00", 1.0, 5e-05], ["2024-01-01T00:00:03+00:00", 1.0, 0.0], ` +
      '["2024-01-01T00:00:05+00:00", 1.0, 0.0], ["2024-01-01T00:00:06+00:00", 1.0, 1e-07]]}');
    // Gnocchi: {"cause": "Aggregation does not exist", "detail": {"granularity": 2.0, "aggregation_method": "mean"}}
    const missing = await api.call('POST', `/v1/search/metric?metric_id=${m}&granularity=2`, { body: { '=': 0 } });
    assert.equal(missing.status, 400);
    assert.match(missing.text, /"granularity": 2\.0, "aggregation_method": "mean"/);
  } finally {
    await api.close();
  }
});

test('float attributes of resources are written as Gnocchi writes them', async () => {
  const api = await startTestApi();
  try {
    const type = await api.call('POST', '/v1/resource_type', { raw: '{"name": "flt", "attributes": {"n": {"type": "number", "required": false, "min": 0, "max": 1e20}, "i": {"type": "number", "required": false}}}' });
    // Gnocchi: "n": {"type": "number", "required": false, "min": 0, "max": 1e+20}
    assert.match(type.text, /"min": 0, "max": 1e\+20\}/);
    const r = await api.call('POST', '/v1/resource/flt', { raw: '{"id": "2d1c5e7a-0000-4000-8000-000000000002", "n": 1e16, "i": 0.00005}' });
    assert.equal(r.status, 201);
    // Gnocchi: "n": 1e+16, "i": 5e-05
    assert.match(r.text, /"n": 1e\+16, "i": 5e-05/);
  } finally {
    await api.close();
  }
});
