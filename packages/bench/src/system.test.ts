import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { collectBenchGarbage } from './system.js';

test('collectBenchGarbage collects what nothing holds any more, without --expose-gc', async () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined'); // the test runner's node has no --expose-gc
  let ref = new WeakRef({ payload: new Array<number>(1000).fill(1) });
  const held = { payload: [2] };
  const kept = new WeakRef(held);
  // A WeakRef keeps its target alive until the end of the job that created or read it.
  await tick();
  collectBenchGarbage();
  assert.equal(ref.deref(), undefined);
  assert.equal(kept.deref(), held);
  ref = new WeakRef({ payload: [3] });
  await tick();
  collectBenchGarbage(); // a second call reuses the exposed function
  assert.equal(ref.deref(), undefined);
});
