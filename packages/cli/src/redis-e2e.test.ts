// `tally serve` with its incoming store and its coordination in Redis, as a deployment
// spread over several hosts runs it: measures go through Redis to the processing workers
// and are read back aggregated; nothing of either role is left in the data folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GnocchiClient } from '@tally/client';
import { openIncoming } from '@tally/incoming';
import { RedisTestServer, skipWithoutRedis } from '@tally/redis/testing';
import { freePort, poller, startTally, type TallyProcess } from './tally-process.js';

const until = poller(30_000);

test('tally serve --incoming-url redis://... --coordination-url redis://...: measures are processed and read back', { skip: skipWithoutRedis(), timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-redis-e2e-'));
  const redis = await RedisTestServer.start({ tcp: true });
  let tally: TallyProcess | null = null;
  let g: GnocchiClient | null = null;
  t.after(async () => {
    g?.close();
    await tally?.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const incomingUrl = `${redis.url}/0?prefix=e2e:incoming:`;
  const port = await freePort();
  tally = await startTally(['serve', '--data-dir', join(dir, 'data'), '--port', String(port), '--alarm-port', '0', '--rating-port', '0',
    '--processing-interval', '100', '--incoming-url', incomingUrl, '--coordination-url', `${redis.url}/1?lock_timeout=5`]);
  g = new GnocchiClient({ url: `http://127.0.0.1:${port}`, auth: { type: 'basic', user: 'admin' }, retry: false });
  await g.archivePolicy.create({ name: 'e2e', aggregation_methods: ['mean', 'count'], definition: [{ granularity: 1, points: 3600 }] });
  const a = await g.metric.create({ archive_policy_name: 'e2e' });
  const b = await g.metric.create({ archive_policy_name: 'e2e' });
  const at = (s: number): string => `2024-01-01T00:00:0${s}+00:00`;
  await g.metric.addMeasures(a.id, [{ timestamp: at(0), value: 1 }, { timestamp: '2024-01-01T00:00:00.500000+00:00', value: 3 }, { timestamp: at(1), value: 5 }]);
  await g.metric.addMeasures(b.id, [{ timestamp: at(2), value: 7 }]);

  // Processed by the workers of `tally serve` (no refresh asked), from Redis.
  const gc = g;
  const measuresOfA = await until('the measures of a, processed', async () => {
    const got = await gc.metric.measures(a.id);
    return got.length === 2 ? got : null;
  });
  assert.deepEqual(measuresOfA, [[at(0), 1, 2], [at(1), 1, 5]]);
  // A read with refresh takes the sack's lock (in Redis) and folds what waits.
  await g.metric.addMeasures(b.id, [{ timestamp: at(3), value: 9 }]);
  assert.deepEqual(await g.metric.measures(b.id, { refresh: true }), [[at(2), 1, 7], [at(3), 1, 9]]);
  await until('an empty backlog', async () => (await gc.status()).storage.summary.measures === 0);

  // The measures went through Redis, not through folders of the data folder.
  const store = await openIncoming(incomingUrl);
  assert.equal(store.sacks, 8, 'the store tally serve created in Redis');
  assert.deepEqual(await store.backlog(), { metrics: 0, measures: 0, perMetric: null, quarantined: 0, parkedMeasures: 0, parkedMetrics: 0 });
  await store.close();
  assert.equal(existsSync(join(dir, 'data', 'incoming')), false, 'no incoming folder');
  assert.equal(existsSync(join(dir, 'data', 'locks')), false, 'no lock folder');
});
