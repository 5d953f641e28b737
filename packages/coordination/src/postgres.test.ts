import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { coordinatorContract, membershipContract } from './contract.js';
import { advisoryKey, parsePostgresUrl, PostgresCoordinator, PostgresMembership } from './postgres.js';
import { CoordinationConfigError, CoordinationUnavailableError, LockLostError } from './errors.js';
import { openCoordinator } from './drivers.js';
import { openMembership } from './membership-drivers.js';
import { killed, postgresBinDir, spawnHolder, startPostgres, type TestServer } from './servers.fixture.js';
import type { Coordinator } from './types.js';

test('postgresql URLs: the namespace parameter is taken out, the rest goes to the client as given', () => {
  assert.deepEqual(parsePostgresUrl('postgresql://u@db:5432/tally?namespace=prod&sslmode=require'),
    { connectionString: 'postgresql://u@db:5432/tally?sslmode=require', namespace: 'prod' });
  assert.equal(parsePostgresUrl('postgres://u@db/tally').namespace, 'tally');
  assert.throws(() => parsePostgresUrl('postgresql://u@db/t?namespace='), CoordinationConfigError);
  // Keys are signed 64-bit, distinct per namespace.
  const k = BigInt(advisoryKey('tally', 'sack-1'));
  assert.ok(k >= -(2n ** 63n) && k < 2n ** 63n);
  assert.notEqual(advisoryKey('tally', 'sack-1'), advisoryKey('other', 'sack-1'));
  assert.notEqual(advisoryKey('ta', 'lly\0sack'), advisoryKey('tally', 'sack'));
});

const bin = postgresBinDir();
describe('postgresql driver against a real PostgreSQL', { skip: bin === null ? 'PostgreSQL is not installed (Debian package postgresql; scripts/install-debian-deps)' : false }, () => {
  let server: TestServer;
  const open: (Coordinator | PostgresMembership)[] = [];
  before(async () => {
    server = (await startPostgres()) as TestServer;
  });
  after(async () => {
    for (const o of open) await o.close().catch(() => undefined);
    await server?.dispose();
  });
  const url = (namespace: string): string => `${server.url}&namespace=${namespace}`;
  const track = <T extends Coordinator | PostgresMembership>(o: T): T => {
    open.push(o);
    return o;
  };

  coordinatorContract('postgresql', {
    create: async () => track(await openCoordinator(url(`t-${randomUUID()}`))),
    reopen: async (c) => track(await PostgresCoordinator.open((c as PostgresCoordinator).options)),
  });

  membershipContract('postgresql', {
    create: async () => track((await openMembership(url(`t-${randomUUID()}`))) as PostgresMembership),
    reopen: async (m) => track(await PostgresMembership.open((m as PostgresMembership).options)),
    crash: async (m) => (m as PostgresMembership).abandon(),
  });

  test('postgresql: a holder killed with SIGKILL loses its lock as soon as its connection dies', async () => {
    const u = url(`t-${randomUUID()}`);
    const { child, reply } = await spawnHolder(u, 'sack-7');
    assert.equal(reply, 'held');
    const other = track(await openCoordinator(u));
    assert.equal(await other.tryLock('sack-7'), null);
    await killed(child);
    const killedAt = Date.now();
    let lock = null;
    while (lock === null && Date.now() - killedAt < 5_000) {
      lock = await other.tryLock('sack-7');
      if (lock === null) await new Promise((r) => setTimeout(r, 5));
    }
    const freedAfter = Date.now() - killedAt;
    console.log(`postgresql: lock of a SIGKILLed holder freed after ${freedAfter} ms`);
    assert.ok(lock, 'freed');
    assert.ok(freedAfter < 500, `freed after ${freedAfter} ms`);
  });

  test('postgresql: a restart fails calls with CoordinationUnavailableError and reports held locks lost; then all recovers', async () => {
    const u = url(`t-${randomUUID()}`);
    const a = track(await openCoordinator(u));
    const members = track(await PostgresMembership.open(parsePostgresUrl(u)));
    const member = await members.join('g', 'm1', { heartbeatMs: 50, timeoutMs: 5_000 });
    const held = await a.lock('sack-1');
    await server.stop();
    try {
      // The session's locks went with it: the holder is told at once, not at its next call.
      const deadline = Date.now() + 2_000;
      while (!held.signal.aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(held.signal.aborted, 'the lock is reported lost');
      assert.ok(held.signal.reason instanceof LockLostError);
      await assert.rejects(a.tryLock('sack-2'), CoordinationUnavailableError);
      await assert.rejects(members.members('g'), CoordinationUnavailableError);
    } finally {
      await server.start();
    }
    const b = track(await openCoordinator(u));
    const taken = await b.tryLock('sack-1');
    assert.ok(taken, 'nobody holds it after the restart');
    await held.release(); // a lost lock's release is a no-op, not an error
    assert.equal(await a.tryLock('sack-1'), null, 'b holds it now');
    assert.ok(await a.tryLock('sack-2'), 'a works again on a new connection');
    // The member row outlived the restart (its timeout is longer than the outage) and beats on.
    assert.deepEqual(await members.members('g'), ['m1']);
    await member.leave();
    assert.deepEqual(await members.members('g'), []);
  });
});
