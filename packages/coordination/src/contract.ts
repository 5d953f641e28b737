// The behaviour every Coordinator driver owes its callers, as tests a driver's own test
// file runs against it: `coordinatorContract('etcd', harness)`. Imported only by tests
// (`@tally/coordination/contract`), never by production code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinatorClosedError, LockTimeoutError } from './errors.js';
import type { Coordinator } from './types.js';

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
