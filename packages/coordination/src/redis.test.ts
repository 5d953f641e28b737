import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect, disconnect, parseRedisUrl, whenReady } from '@tally/redis';
import { RedisTestServer, skipWithoutRedis } from '@tally/redis/testing';
import { CoordinationConfigError, CoordinationUnavailableError, LockLostError, openCoordinator, openMembership } from './index.js';
import { RedisCoordinator, RedisMembership } from './redis.js';
import { coordinatorContract, membershipContract } from './contract.js';

const fixture = fileURLToPath(new URL('./redis-lock-holder.fixture.js', import.meta.url));
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

/** One server (over TCP) for the contracts; each coordinator is a fresh key prefix on it. */
function sharedServer(): Promise<RedisTestServer> {
  shared ??= server({ tcp: true });
  return shared;
}

function freshUrl(base: string, params = ''): string {
  return `${base}?prefix=${encodeURIComponent(`t-${randomUUID()}:`)}${params}`;
}

async function eventually(what: string, check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > withinMs) assert.fail(`${what} within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

if (skip) {
  test('redis coordination drivers', { skip }, () => undefined);
} else {
  coordinatorContract('redis', {
    create: async () => openCoordinator(freshUrl((await sharedServer()).url)),
    reopen: async (c) => RedisCoordinator.open((c as RedisCoordinator).url),
  });

  membershipContract('redis', {
    create: async () => openMembership(freshUrl((await sharedServer()).url)),
    reopen: async (m) => RedisMembership.open((m as RedisMembership).url),
    crash: async (m) => (m as RedisMembership).abandon(),
  });

  test('redis: URL parameters are checked', async () => {
    await assert.rejects(openCoordinator('redis://127.0.0.1:1?lock_timeout=0'), CoordinationConfigError);
    await assert.rejects(openCoordinator('redis://127.0.0.1:1?lock_ttl=3'), /unknown parameter lock_ttl/);
    await assert.rejects(openMembership('redis+unix:relative.sock'), CoordinationConfigError);
    const c = await openCoordinator(freshUrl((await sharedServer()).url, '&lock_timeout=2.5'));
    assert.equal((c as RedisCoordinator).lockTimeoutMs, 2500);
    await c.close();
  });

  test('redis: a lock is refreshed while held, and a holder SIGKILLed loses it once its TTL runs out', async () => {
    const url = freshUrl((await sharedServer()).url, '&lock_timeout=0.4');
    const child = fork(fixture, [url, 'sack-3'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        child.once('message', (m) => resolve(String(m)));
        child.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
      });
      assert.equal(reply, 'held');
      const c = await RedisCoordinator.open(url);
      // Held well past its TTL while the holder lives and refreshes it.
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await c.tryLock('sack-3'), null, 'still held after 2.5 TTLs');
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
      assert.equal(await c.tryLock('sack-3'), null, 'not free at once');
      const waited = await eventually('the dead holder\'s lock is free', async () => {
        const l = await c.tryLock('sack-3');
        await l?.release();
        return l !== null;
      }, 2000);
      assert.ok(waited >= 200, `free after ${waited} ms, before most of the TTL`);
      await c.close();
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('redis: a holder whose lock expired cannot release the next holder\'s (fencing token), and its signal says it lost it', async () => {
    const url = freshUrl((await sharedServer()).url, '&lock_timeout=1');
    const a = await RedisCoordinator.open(url);
    const b = await RedisCoordinator.open(url);
    const stale = await a.tryLock('x');
    assert.ok(stale);
    // The lock expires as it would if a stalled past its TTL.
    const target = parseRedisUrl(url, { prefix: '', extra: ['lock_timeout'] }, (m) => new Error(m));
    const raw = connect(target);
    assert.equal(await whenReady(raw, 5000), null);
    assert.equal(await raw.del(`${target.prefix}lock:x`), 1);
    await disconnect(raw);
    const current = await b.tryLock('x');
    assert.ok(current, 'b takes the expired lock');
    // a's next refresh (a third of the TTL) finds b's token: a is told at once.
    await eventually('a\'s signal aborts', async () => stale.signal.aborted, 2000);
    assert.ok(stale.signal.reason instanceof LockLostError);
    assert.equal(current.signal.aborted, false);
    await stale.release();
    assert.equal(await a.tryLock('x'), null, 'b still holds it after a\'s late release');
    await current.release();
    await a.close();
    await b.close();
  });

  test('redis: while Redis is down locks and listings fail with CoordinationUnavailableError, and work again once it is back', async () => {
    const s = await server({ tcp: true });
    const url = freshUrl(s.url);
    const c = await RedisCoordinator.open(url);
    const m = await RedisMembership.open(url);
    const held = await c.tryLock('a');
    assert.ok(held);
    await m.join('g', 'me', { heartbeatMs: 100, timeoutMs: 5000 });
    await s.kill('SIGKILL');
    const t0 = Date.now();
    await assert.rejects(c.tryLock('b'), CoordinationUnavailableError);
    await assert.rejects(m.members('g'), CoordinationUnavailableError);
    assert.ok(Date.now() - t0 < 10_000, `failed after ${Date.now() - t0} ms, bounded`);
    await held.release(); // resolves: the lock frees itself by its TTL
    await s.restart();
    // A lock held through an outage longer than its TTL is reported lost before it can expire.
    const c2 = await RedisCoordinator.open(freshUrl(s.url, '&lock_timeout=2'));
    const through = await c2.tryLock('through');
    assert.ok(through);
    await s.kill('SIGKILL');
    const down = performance.now();
    await eventually('the lock held through the outage is reported lost', async () => through.signal.aborted, 5000);
    const lostAfter = performance.now() - down;
    assert.ok(lostAfter < 2000, `reported lost ${Math.round(lostAfter)} ms into the outage, before its TTL of 2 s ran out`);
    assert.ok(through.signal.reason instanceof LockLostError);
    await through.release();
    await s.restart();
    await eventually('locks work again', async () => {
      try {
        const l = await c.tryLock('b');
        await l?.release();
        return l !== null;
      } catch (err) {
        assert.ok(err instanceof CoordinationUnavailableError);
        return false;
      }
    }, 10_000);
    // Each handle reconnects on its own; the member is still in the group (the AOF kept it,
    // and its heartbeats renew it).
    await eventually('listings work again', async () => {
      try {
        return (await m.members('g')).join() === 'me';
      } catch (err) {
        assert.ok(err instanceof CoordinationUnavailableError);
        return false;
      }
    }, 10_000);
    await c.close();
    await c2.close();
    await m.close();
  });
}
