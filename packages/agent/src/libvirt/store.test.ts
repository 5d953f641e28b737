// End to end: what the libvirt pollster reads through the daemon (its values are checked
// against virsh in libvirtd.test.ts) is what Tally stores once the agent's publisher has
// sent it: resources of Ceilometer's types with the domain's attributes, one metric per
// meter with Ceilometer's unit and archive policy, the polled value stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { PollContext } from '../pollster.js';
import { storeCheck } from '../store-check.js';
import { libvirtPollster } from './index.js';
import type { LibvirtPollster } from './pollster.js';
import { FIXTURES, LIBVIRT_SOCKET, SKIP_WITHOUT_DAEMON } from './testing.js';

const ctx: PollContext = { signal: new AbortController().signal, log: () => undefined, wants: () => true };

test('a cycle of 200 test domains through the daemon, published, reads back from Tally meter by meter', { skip: SKIP_WITHOUT_DAEMON }, async () => {
  const p = await libvirtPollster.create({ uri: `test://${path.join(FIXTURES, 'node-200.xml')}`, socket: LIBVIRT_SOCKET, host: 'compute-e2e' },
    { stateDir: '/nonexistent', log: () => undefined }) as LibvirtPollster;
  const check = await storeCheck(p.resourceTypes);
  try {
    const samples = await p.poll(ctx, await p.discover(ctx));
    const meters = new Set(samples.map((s) => s.meter));
    assert.ok(meters.size >= 18, `meters polled: ${[...meters].join(' ')}`);
    await check.publish(samples);
    // Every meter and resource type, read back for a tenth of the domains (about 400 samples).
    const instances = [...new Set(samples.filter((s) => s.resource.type === 'instance').map((s) => s.resource.id))].sort();
    const chosen = new Set(instances.filter((_, i) => i % 10 === 0));
    const owner = (id: string, attributes: Readonly<Record<string, unknown>>): string => (typeof attributes.instance_id === 'string' ? attributes.instance_id : id);
    const subset = samples.filter((s) => chosen.has(owner(s.resource.id, s.resource.attributes)));
    assert.deepEqual(new Set(subset.map((s) => s.meter)), meters);
    assert.deepEqual(new Set(subset.map((s) => s.resource.type)), new Set(['instance', 'instance_disk', 'instance_network_interface']));
    const { mismatches, checked } = await check.verify(subset);
    assert.deepEqual(mismatches, []);
    assert.equal(checked, subset.length);
  } finally {
    await p.close();
    await check.close();
  }
});
