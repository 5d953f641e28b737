import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApi } from './test-util.js';

type Status = { storage: { summary: { measures: number; quarantined_batches: number } } };

test('a corrupt incoming batch is quarantined by processing and counted in /v1/status', async () => {
  const api = await startTestApi();
  try {
    await api.call('POST', '/v1/archive_policy', { body: { name: 'q', aggregation_methods: ['count'], definition: [{ granularity: '1s', points: 100 }] } });
    const m = (await api.call('POST', '/v1/metric', { body: { archive_policy_name: 'q' } })).json as { id: string };
    const post = (ts: string): Promise<unknown> => api.call('POST', `/v1/metric/${m.id}/measures`, { body: [{ timestamp: ts, value: 1 }] });
    await post('2026-01-01T00:00:00');
    assert.equal(((await api.call('GET', '/v1/status')).json as Status).storage.summary.quarantined_batches, 0);
    const sack = readdirSync(join(api.dir, 'incoming')).find((d) => d.startsWith('sack-') && readdirSync(join(api.dir, 'incoming', d)).length > 0)!;
    const [batch] = readdirSync(join(api.dir, 'incoming', sack));
    const path = join(api.dir, 'incoming', sack, batch);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 0x01;
    writeFileSync(path, bytes);
    await post('2026-01-01T00:00:01');
    const r = await api.call('GET', `/v1/metric/${m.id}/measures?refresh=true&aggregation=count`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, [['2026-01-01T00:00:01+00:00', 1, 1]], 'the later batch is processed');
    const status = (await api.call('GET', '/v1/status?details=false')).json as Status;
    assert.deepEqual(status.storage.summary, { metrics: 0, measures: 0, quarantined_batches: 1, parked_measures: 0, parked_metrics: 0 });
  } finally {
    await api.close();
  }
});
