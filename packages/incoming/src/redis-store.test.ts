import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, disconnect, parseRedisUrl, whenReady, type Redis } from '@tally/redis';
import { RedisTestServer, skipWithoutRedis } from '@tally/redis/testing';
import { IncomingConfigError, IncomingUnavailableError, changeSackCount, openIncoming, type IncomingStore } from './index.js';
import { RedisIncomingStore } from './redis-store.js';
import { parseHeader } from './batch-format.js';
import { incomingContract, measures } from './contract.js';

const skip = skipWithoutRedis();

let shared: Promise<RedisTestServer> | null = null;
const servers: RedisTestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function server(opts: Parameters<typeof RedisTestServer.start>[0] = {}): Promise<RedisTestServer> {
  const s = await RedisTestServer.start(opts);
  servers.push(s);
  return s;
}

/** One server for the contract; each store is a fresh key prefix on it. */
function sharedServer(): Promise<RedisTestServer> {
  shared ??= server();
  return shared;
}

function freshUrl(base: string): string {
  return `${base}?prefix=${encodeURIComponent(`t-${randomUUID()}:`)}`;
}

/** A plain client on the store's server, to look at or damage what the driver wrote. */
async function rawClient(url: string): Promise<{ redis: Redis; prefix: string }> {
  const target = parseRedisUrl(url, { prefix: 'tally:incoming:' }, (m) => new Error(m));
  const redis = connect(target);
  assert.equal(await whenReady(redis, 5000), null, 'Redis answers');
  return { redis, prefix: target.prefix };
}

if (skip) {
  test('redis incoming driver', { skip }, () => undefined);
} else {
  incomingContract('redis', {
    create: async (sacks) => openIncoming(freshUrl((await sharedServer()).url), { sacks }),
    reopen: async (store) => RedisIncomingStore.open((store as RedisIncomingStore).url),
    corrupt: async (store, sack, id) => {
      // Flips a byte in the data of the sack's first entry, as bit rot would.
      const { redis, prefix } = await rawClient((store as RedisIncomingStore).url);
      try {
        const key = `${prefix}sack-${sack}:data`;
        const blob = await redis.hgetBuffer(key, id);
        assert.ok(blob);
        const entry = parseHeader(blob, blob.length, id).find((e) => e.sack === sack);
        assert.ok(entry);
        blob[entry.offset + 3] ^= 0x10;
        await redis.hset(key, id, blob);
      } finally {
        await disconnect(redis);
      }
    },
  });

  test('redis: the sack count is fixed at creation; changeSackCount needs an empty backlog', async () => {
    const url = freshUrl((await sharedServer()).url);
    const store = await openIncoming(url);
    assert.equal(store.sacks, 8);
    await assert.rejects(openIncoming(url, { sacks: 16 }), IncomingConfigError);
    const metric = randomUUID();
    await store.add(new Map([[metric, measures(3)]]));
    await assert.rejects(changeSackCount(url, 3), /still holds 1 batch/);
    const sack = store.sackOf(metric);
    await store.deleteBatches(sack, await store.listBatches(sack));
    await store.close();
    assert.deepEqual(await changeSackCount(url, 3), { from: 8, to: 3 });
    const reopened = await openIncoming(url);
    assert.equal(reopened.sacks, 3);
    await reopened.add(new Map([[metric, measures(2)]]));
    assert.equal((await reopened.backlog()).measures, 2);
    assert.equal((await reopened.listBatches(reopened.sackOf(metric))).length, 1);
    await reopened.close();
  });

  test('redis: URLs with unknown parameters or without a socket path are refused', async () => {
    await assert.rejects(openIncoming('redis://127.0.0.1:1/0?sacks=3'), /unknown parameter sacks/);
    await assert.rejects(openIncoming('redis+unix://host/x.sock'), IncomingConfigError);
    await assert.rejects(openIncoming('redis://127.0.0.1:1/zero'), /db must be a database number/);
    await assert.rejects(openIncoming('redis://:secret@127.0.0.1:1/0?bogus=1'), (err: Error) => !err.message.includes('secret'));
  });

  test('redis: an add by another handle wakes a watcher at once', async () => {
    const url = freshUrl((await sharedServer()).url);
    const a = await openIncoming(url, { sacks: 2 });
    const b = await openIncoming(url, { sacks: 2 });
    let woken = 0;
    const stop = a.watch?.(() => woken++);
    assert.ok(stop);
    // The subscription is made on a connection of its own: wait until it is in place.
    const { redis, prefix } = await rawClient(url);
    while ((await redis.pubsub('NUMSUB', `${prefix}new`) as [string, number])[1] === 0) await new Promise((r) => setTimeout(r, 5));
    await b.add(new Map([[randomUUID(), measures(1)]]));
    const t0 = Date.now();
    while (woken === 0) {
      assert.ok(Date.now() - t0 < 2000, 'no wake-up within 2 s');
      await new Promise((r) => setTimeout(r, 5));
    }
    stop();
    await disconnect(redis);
    await a.close();
    await b.close();
  });

  test('redis: a Redis SIGKILLed and restarted on its AOF has every acknowledged batch', async () => {
    const s = await server();
    const url = freshUrl(s.url);
    const store = await openIncoming(url, { sacks: 4 });
    const metrics = Array.from({ length: 50 }, () => randomUUID());
    // Many concurrent adds, each acknowledged before the kill.
    await Promise.all(Array.from({ length: 40 }, (_, i) =>
      store.add(new Map(metrics.map((m) => [m, measures(3, i * 3)] as const)))));
    const before = await store.backlog({ perMetric: true });
    assert.equal(before.measures, 40 * 50 * 3);
    await s.kill('SIGKILL');
    await s.restart();
    const reopened = await openIncoming(url, { sacks: 4 });
    const afterRestart = await reopened.backlog({ perMetric: true });
    assert.deepEqual(afterRestart, before);
    let batches = 0;
    for (let sack = 0; sack < 4; sack++) {
      for (const id of await reopened.listBatches(sack)) {
        batches++;
        for (const [m, got] of await reopened.readBatch(sack, id)) assert.equal(got.ts.length, 3, m);
      }
    }
    assert.ok(batches >= 40, `${batches} batches listed`);
    await reopened.close();
    await store.close();
  });

  test('redis: while Redis is down operations fail with IncomingUnavailableError, and work again once it is back', async () => {
    const s = await server({ tcp: true });
    const url = freshUrl(s.url);
    const store = await openIncoming(url, { sacks: 2 });
    const metric = randomUUID();
    await store.add(new Map([[metric, measures(2)]]));
    await s.kill('SIGKILL');
    const t0 = Date.now();
    await assert.rejects(store.add(new Map([[metric, measures(1)]])), IncomingUnavailableError);
    await assert.rejects(store.backlog(), IncomingUnavailableError);
    assert.ok(Date.now() - t0 < 10_000, `failed after ${Date.now() - t0} ms, bounded`);
    await s.restart();
    // The same handle reconnects by itself; the first calls may still see the reconnection.
    const t1 = Date.now();
    for (;;) {
      try {
        await store.add(new Map([[metric, measures(1, 10)]]));
        break;
      } catch (err) {
        assert.ok(err instanceof IncomingUnavailableError);
        assert.ok(Date.now() - t1 < 10_000, 'not back 10 s after Redis restarted');
      }
    }
    const backlog = await store.backlog({ perMetric: true });
    assert.equal(backlog.perMetric?.get(metric), 3, 'the acknowledged adds, not the failed one');
    await store.close();
  });

  test('redis: a Redis without AOF is reported by a warning at open', async () => {
    const s = await server({ appendonly: false });
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    let store: IncomingStore | null = null;
    try {
      store = await openIncoming(freshUrl(s.url));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
      await store?.close();
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].message, /appendonly no/);
    assert.equal((warnings[0] as Error & { code?: string }).code, 'TALLY_REDIS_NO_AOF');
  });
}
