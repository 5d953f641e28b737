import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { coordinatorContract, membershipContract } from './contract.js';
import { EtcdCoordinator, EtcdMembership, parseEtcdUrl } from './etcd.js';
import { CoordinationConfigError, CoordinationUnavailableError, LockLostError } from './errors.js';
import { openCoordinator } from './drivers.js';
import { openMembership } from './membership-drivers.js';
import { etcdBinary, killed, spawnHolder, startEtcd, type TestServer } from './servers.fixture.js';
import type { Coordinator } from './types.js';

test('etcd URLs: host lists, prefix, lease TTL; malformed ones are refused', () => {
  assert.deepEqual(parseEtcdUrl('etcd://10.0.0.1:2379,10.0.0.2:2379/prod/tally?lease_ttl=4'),
    { hosts: ['10.0.0.1:2379', '10.0.0.2:2379'], prefix: 'prod/tally', leaseTtl: 4 });
  assert.deepEqual(parseEtcdUrl('etcd://localhost:2379'), { hosts: ['localhost:2379'], prefix: 'tally', leaseTtl: 10 });
  assert.throws(() => parseEtcdUrl('etcd://localhost/x'), CoordinationConfigError);
  assert.throws(() => parseEtcdUrl('etcd://h:1/x?lease_ttl=0.5'), CoordinationConfigError);
  assert.throws(() => parseEtcdUrl('etcd://h:1/x?ttl=3'), CoordinationConfigError);
});

const binary = etcdBinary();
describe('etcd driver against a real etcd', { skip: binary === null ? 'etcd is not installed (Debian package etcd-server; scripts/install-debian-deps)' : false }, () => {
  let server: TestServer;
  const open: (Coordinator | EtcdMembership)[] = [];
  before(async () => {
    server = (await startEtcd()) as TestServer;
  });
  after(async () => {
    for (const o of open) await o.close().catch(() => undefined);
    await server?.dispose();
  });
  const url = (prefix: string, query = ''): string => `${server.url}/${prefix}${query}`;
  const track = <T extends Coordinator | EtcdMembership>(o: T): T => {
    open.push(o);
    return o;
  };

  coordinatorContract('etcd', {
    create: async () => track(await openCoordinator(url(`t-${randomUUID()}`))),
    reopen: async (c) => track(await EtcdCoordinator.open((c as EtcdCoordinator).options)),
  });

  membershipContract('etcd', {
    create: async () => track((await openMembership(url(`t-${randomUUID()}`))) as EtcdMembership),
    reopen: async (m) => track(await EtcdMembership.open((m as EtcdMembership).options)),
    crash: async (m) => (m as EtcdMembership).abandon(),
  });

  test('etcd: a holder killed with SIGKILL loses its lock once its lease expires, not before', async () => {
    const ttl = 2;
    const u = url(`t-${randomUUID()}`, `?lease_ttl=${ttl}`);
    const { child, reply } = await spawnHolder(u, 'sack-7');
    assert.equal(reply, 'held');
    const other = track(await openCoordinator(u));
    assert.equal(await other.tryLock('sack-7'), null);
    await killed(child);
    const killedAt = Date.now();
    let lock = null;
    while (lock === null && Date.now() - killedAt < 10_000) {
      lock = await other.tryLock('sack-7');
      if (lock === null) await new Promise((r) => setTimeout(r, 20));
    }
    const freedAfter = Date.now() - killedAt;
    console.log(`etcd: lock of a SIGKILLed holder freed after ${freedAfter} ms (lease TTL ${ttl} s)`);
    assert.ok(lock, 'freed at last');
    // The last keepalive was at most TTL/3 before the kill; etcd checks expiries every 500 ms.
    assert.ok(freedAfter >= (ttl * 1000 * 2) / 3 - 50, `freed after ${freedAfter} ms, before the lease could expire`);
    assert.ok(freedAfter <= ttl * 1000 + 1500, `freed after ${freedAfter} ms, later than TTL + expiry check`);
  });

  test('etcd: a short outage fails calls with CoordinationUnavailableError; locks held across it are still held', async () => {
    const u = url(`t-${randomUUID()}`, '?lease_ttl=8');
    const a = track(await openCoordinator(u));
    const b = track(await openCoordinator(u));
    const members = track(await EtcdMembership.open(parseEtcdUrl(u)));
    const held = await a.lock('sack-1');
    await server.stop();
    try {
      await assert.rejects(a.tryLock('sack-2'), CoordinationUnavailableError);
      await assert.rejects(members.members('g'), CoordinationUnavailableError);
    } finally {
      await server.start();
    }
    assert.equal(held.signal.aborted, false, 'the lease outlived the outage');
    assert.equal(await b.tryLock('sack-1'), null, 'and so did the lock');
    const second = await a.tryLock('sack-2');
    assert.ok(second, 'calls work again');
    await held.release();
    assert.ok(await b.tryLock('sack-1'));
    assert.deepEqual(await members.members('g'), []);
  });

  test('etcd: an outage longer than the lease reports the lock lost before it can expire; afterwards others take it', async () => {
    const ttl = 2;
    const u = url(`t-${randomUUID()}`, `?lease_ttl=${ttl}`);
    const a = track(await openCoordinator(u));
    const b = track(await openCoordinator(u));
    const held = await a.lock('sack-1');
    const lostAt = new Promise<number>((resolve) => held.signal.addEventListener('abort', () => resolve(Date.now())));
    await server.stop();
    const downAt = Date.now();
    // The driver's timers do not keep a process alive; this test has nothing else pending.
    const alive = setInterval(() => undefined, 100);
    try {
      const at = await lostAt;
      assert.ok(held.signal.reason instanceof LockLostError);
      // Confirmed until at least downAt - TTL/3; given up a margin (TTL/4) before the TTL after that.
      assert.ok(at - downAt <= ttl * 1000, `lost ${at - downAt} ms into the outage, after the lease could have expired`);
      console.log(`etcd: lock reported lost ${at - downAt} ms into the outage (lease TTL ${ttl} s)`);
    } finally {
      clearInterval(alive);
      await server.start();
    }
    let taken = null;
    const deadline = Date.now() + (ttl * 1000 + 3000);
    while (taken === null && Date.now() < deadline) {
      taken = await b.tryLock('sack-1').catch(() => null);
      if (taken === null) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(taken, 'another coordinator takes the lock after the outage');
    await held.release(); // a lost lock's release is a no-op, not an error
    assert.ok(await a.tryLock('sack-9'), 'the coordinator works again on a new lease');
  });

  test('etcd: a lock lost in an outage keeps its lease on the server until its holder lets go, then the lease is revoked at once', async () => {
    // What the holder had under way past its last look at the signal (a commit being
    // written) may still land: nobody may take the lock before the holder has stopped.
    const ttl = 5;
    const u = url(`t-${randomUUID()}`, `?lease_ttl=${ttl}`);
    const key = `${u.slice(server.url.length + 1, u.indexOf('?'))}/locks/sack-1`;
    const a = track(await openCoordinator(u));
    const held = await a.lock('sack-1');
    const lost = new Promise((resolve) => held.signal.addEventListener('abort', resolve));
    await server.stop();
    const alive = setInterval(() => undefined, 100);
    try {
      await lost;
    } finally {
      clearInterval(alive);
      await server.start();
    }
    const restartedAt = Date.now();
    const admin = new Etcd3({ hosts: server.url.replace('etcd://', 'http://') });
    try {
      // Time for a revoke sent at the loss (retried through the outage) to land.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal((await admin.get(key).exec()).kvs.length, 1, 'the lease was revoked while its holder still held the lock');
      await held.release();
      let gone = false;
      while (!gone && Date.now() - restartedAt < ttl * 1000) {
        gone = (await admin.get(key).exec()).kvs.length === 0;
        if (!gone) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(gone, `revoked once let go, before the lease's own expiry (${Date.now() - restartedAt} ms after the restart)`);
    } finally {
      admin.close();
    }
  });

  test('etcd: a lease the server drops (revoked by an operator) aborts the signal of its locks; the next lock takes a new lease', async () => {
    const u = url(`t-${randomUUID()}`, '?lease_ttl=3');
    const a = track(await openCoordinator(u));
    const b = track(await openCoordinator(u));
    const held = await a.lock('sack-1');
    const admin = new Etcd3({ hosts: server.url.replace('etcd://', 'http://') });
    try {
      // Revoke every lease but b's, whose lock must keep working.
      const bLock = await b.lock('sack-2');
      const { leases } = await admin.leaseClient.leaseLeases();
      const keys = await admin.getAll().prefix(`${u.slice(server.url.length + 1, u.indexOf('?'))}/locks/`).exec();
      const ofA = keys.kvs.find((kv) => kv.key.toString().endsWith('/locks/sack-1'))?.lease;
      assert.ok(ofA !== undefined && leases.some((l) => l.ID === ofA));
      await admin.leaseClient.leaseRevoke({ ID: ofA });
      const alive = setInterval(() => undefined, 100);
      try {
        const deadline = Date.now() + 3_000;
        while (!held.signal.aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      } finally {
        clearInterval(alive);
      }
      assert.ok(held.signal.aborted, 'reported lost by the next keepalive (every TTL/3)');
      assert.ok(held.signal.reason instanceof LockLostError);
      assert.equal(bLock.signal.aborted, false);
      const again = await a.tryLock('sack-1');
      assert.ok(again, 'freed with the lease, and taken again on a new one');
      assert.equal(await b.tryLock('sack-1'), null);
    } finally {
      admin.close();
    }
  });
});
