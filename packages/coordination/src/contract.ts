// The behaviour every Coordinator and Membership driver owes its callers, as tests a
// driver's own test file runs against it: `coordinatorContract('etcd', harness)`,
// `membershipContract('etcd', harness)`. Imported only by tests
// (`@tally/coordination/contract`), never by production code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinatorClosedError, LockTimeoutError } from './errors.js';
import type { Coordinator } from './types.js';
import { MemberExistsError, MembershipClosedError, type Membership, type MembershipChange } from './membership.js';

export interface CoordinatorHarness {
  /** A coordinator on a new, empty namespace; the harness disposes of it after the tests. */
  create(): Promise<Coordinator>;
  /** Another coordinator on the same namespace, as another process would open it. */
  reopen(coordinator: Coordinator): Promise<Coordinator>;
}

export function coordinatorContract(name: string, h: CoordinatorHarness): void {
  test(`${name}: holders exclude each other, the same coordinator included; names are independent`, async () => {
    const a = await h.create();
    const b = await h.reopen(a);
    const held = await a.tryLock('sack-1');
    assert.ok(held);
    assert.equal(await b.tryLock('sack-1'), null);
    assert.equal(await a.tryLock('sack-1'), null, 'not re-entrant');
    const other = await b.tryLock('sack-2');
    assert.ok(other, 'distinct names are independent');
    assert.ok(await a.tryLock('../odd/name with spaces'), 'any string names a lock');
    await held.release();
    await held.release(); // idempotent
    const again = await b.tryLock('sack-1');
    assert.ok(again);
    await a.close();
    await b.close();
  });

  test(`${name}: lock() waits for the holder and times out with LockTimeoutError`, async () => {
    const a = await h.create();
    const b = await h.reopen(a);
    const held = await a.lock('x');
    const started = Date.now();
    await assert.rejects(b.lock('x', { timeoutMs: 60 }), LockTimeoutError);
    assert.ok(Date.now() - started >= 55);
    setTimeout(() => void held.release(), 30);
    const got = await b.lock('x', { timeoutMs: 2000 });
    await got.release();
    await a.close();
    await b.close();
  });

  test(`${name}: close() releases everything held, then refuses to lock`, async () => {
    const a = await h.create();
    const b = await h.reopen(a);
    await a.tryLock('p');
    await a.tryLock('q');
    await a.close();
    assert.ok(await b.tryLock('p'));
    assert.ok(await b.tryLock('q'));
    await assert.rejects(a.tryLock('r'), CoordinatorClosedError);
    await assert.rejects(a.lock('r'), CoordinatorClosedError);
    await b.close();
  });
}

export interface MembershipHarness {
  /** A membership handle on a new, empty namespace; the harness disposes of it after the tests. */
  create(): Promise<Membership>;
  /** Another handle on the same namespace, as another process would open it. */
  reopen(membership: Membership): Promise<Membership>;
  /** Makes the handle stop heartbeating without leaving, as a process that crashed. */
  crash(membership: Membership): Promise<void>;
}

const FAST = { heartbeatMs: 20, timeoutMs: 150 };

async function eventually(what: string, check: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function membershipContract(name: string, h: MembershipHarness): void {
  test(`${name}: members of a group are listed by every handle; ids are unique while alive; leave is immediate`, async () => {
    const a = await h.create();
    const b = await h.reopen(a);
    const ma = await a.join('evaluators', 'm-a', FAST);
    await b.join('evaluators', 'm-b', FAST);
    await b.join('other', 'm-a', FAST);
    assert.deepEqual(await a.members('evaluators'), ['m-a', 'm-b']);
    assert.deepEqual(await b.members('evaluators'), ['m-a', 'm-b']);
    assert.deepEqual(await a.members('other'), ['m-a'], 'groups are independent');
    assert.deepEqual(await a.members('nobody'), []);
    await assert.rejects(b.join('evaluators', 'm-a', FAST), MemberExistsError);
    await ma.leave();
    await ma.leave(); // idempotent
    assert.deepEqual(await b.members('evaluators'), ['m-b'], 'gone at once, not after the timeout');
    await (await b.join('evaluators', 'm-a', FAST)).leave();
    await assert.rejects(a.join('g', 'x', { heartbeatMs: 100, timeoutMs: 100 }), RangeError);
    await a.close();
    await b.close();
  });

  test(`${name}: a member that stops heartbeating drops out after its timeout; a beating one stays`, async () => {
    const a = await h.create();
    const b = await h.reopen(a);
    await a.join('g', 'alive', FAST);
    await b.join('g', 'crashed', FAST);
    await h.crash(b);
    const crashedAt = Date.now();
    assert.deepEqual(await a.members('g'), ['alive', 'crashed'], 'listed until the timeout');
    await eventually('the crashed member drops out', async () => (await a.members('g')).length === 1, 2000);
    assert.ok(Date.now() - crashedAt >= FAST.timeoutMs - FAST.heartbeatMs - 5, 'not before its timeout');
    assert.deepEqual(await a.members('g'), ['alive']);
    // Several timeouts later the heartbeating member is still there.
    await new Promise((r) => setTimeout(r, 3 * FAST.timeoutMs));
    assert.deepEqual(await a.members('g'), ['alive']);
    // The id of a member that timed out may be taken again.
    const c = await h.reopen(a);
    await c.join('g', 'crashed', FAST);
    assert.deepEqual(await a.members('g'), ['alive', 'crashed']);
    await a.close();
    await c.close();
  });

  test(`${name}: watch reports the members, then joins and departures`, async () => {
    const a = await h.create();
    const b = await h.reopen(a);
    await a.join('g', 'first', FAST);
    const seen: MembershipChange[] = [];
    const w = a.watch('g', (c) => seen.push(c), { pollMs: 10 });
    await eventually('the initial listing', async () => seen.length === 1, 1000);
    assert.deepEqual(seen[0], { group: 'g', members: ['first'], joined: ['first'], left: [] });
    const second = await b.join('g', 'second', FAST);
    await eventually('the join', async () => seen.length === 2, 1000);
    assert.deepEqual(seen[1], { group: 'g', members: ['first', 'second'], joined: ['second'], left: [] });
    await second.leave();
    await eventually('the departure', async () => seen.length === 3, 1000);
    assert.deepEqual(seen[2], { group: 'g', members: ['first'], joined: [], left: ['second'] });
    w.stop();
    await b.join('g', 'third', FAST);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, 3, 'nothing after stop()');
    await a.close();
    await b.close();
  });

  test(`${name}: close() leaves every group, then refuses`, async () => {
    const a = await h.create();
    const b = await h.reopen(a);
    await a.join('g1', 'x', FAST);
    await a.join('g2', 'x', FAST);
    await a.close();
    assert.deepEqual(await b.members('g1'), []);
    assert.deepEqual(await b.members('g2'), []);
    await assert.rejects(a.join('g1', 'y', FAST), MembershipClosedError);
    await assert.rejects(a.members('g1'), MembershipClosedError);
    await b.close();
  });
}
