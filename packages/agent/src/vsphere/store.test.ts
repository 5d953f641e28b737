// End to end: what the vsphere pollster reads from the simulator (its values are checked
// against the server's own answers in pollster.test.ts) is what Tally stores once the
// agent's publisher has sent it, sample by sample, with Ceilometer's units and resources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PollContext } from '../pollster.js';
import { storeCheck } from '../store-check.js';
import { createVSpherePollster } from './pollster.js';
import { credentials, SKIP, VSPHERE_URL } from './simulator-env.js';

const ctx: PollContext = { signal: new AbortController().signal, log: () => undefined, wants: () => true };

test("the simulator's VMs, polled and published, read back from Tally meter by meter", { skip: SKIP }, async () => {
  const { username, password } = credentials();
  const p = await createVSpherePollster({ url: VSPHERE_URL ?? '', username, password, insecure: true }, { stateDir: '/tmp', log: () => undefined });
  const check = await storeCheck(p.resourceTypes);
  try {
    const samples = await p.poll(ctx, await p.discover(ctx));
    assert.ok(samples.length > 0);
    assert.ok(new Set(samples.map((s) => s.resource.type)).has('instance'));
    await check.publish(samples);
    const { mismatches, checked } = await check.verify(samples);
    assert.deepEqual(mismatches, []);
    assert.equal(checked, samples.length);
  } finally {
    await p.close();
    await check.close();
  }
});
