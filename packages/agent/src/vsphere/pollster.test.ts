// The `vsphere` pollster against govmomi's simulator: what it discovers is every VM the
// inventory holds, the values it yields are the ones the server returned, converted to
// Ceilometer's units, and changes made through tasks show in the next poll.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { PollsterConfigError, type PollContext, type Sample } from '../pollster.js';
import { VSphereClient } from './client.js';
import { VimFault } from './errors.js';
import { createVSpherePollster, novaMetadata, VSPHERE_COUNTERS, VSPHERE_METERS, type VmTarget, type VSpherePollster } from './pollster.js';
import { SoapTransport, type MoRef, type SoapExchange } from './soap.js';
import { credentials, settle, simulatorPort, SKIP, socketsTo, VSPHERE_URL } from './simulator-env.js';

const url = VSPHERE_URL ?? '';
const ctx: PollContext = { signal: new AbortController().signal, log: () => {}, wants: () => true };
const env = { stateDir: '/tmp', log: () => {} };

function options(): Record<string, string | boolean> {
  const { username, password } = credentials();
  return { url, username, password, insecure: true };
}

/** The VMs of the inventory as a traversal from the root folder finds them (no container view). */
async function vmsByTraversal(c: VSphereClient): Promise<Map<string, string>> {
  const objects = await c.retrieveProperties([
    {
      propSet: [{ type: 'VirtualMachine', pathSet: ['name', 'config.instanceUuid'] }],
      objectSet: [
        {
          obj: c.serviceContent.rootFolder,
          selectSet: [
            { name: 'folder', type: 'Folder', path: 'childEntity', selectSet: [{ name: 'folder' }, { name: 'dcVm' }, { name: 'pool' }] },
            { name: 'dcVm', type: 'Datacenter', path: 'vmFolder', selectSet: [{ name: 'folder' }] },
            { name: 'pool', type: 'VirtualApp', path: 'vm' },
          ],
        },
      ],
    },
  ]);
  const out = new Map<string, string>();
  for (const o of objects) {
    if (o.obj.type !== 'VirtualMachine') continue;
    out.set(o.props.get('config.instanceUuid')?.text ?? '', o.props.get('name')?.text ?? '');
  }
  return out;
}

async function runTask(c: VSphereClient, method: string, vm: MoRef, args = ''): Promise<void> {
  await c.waitForTask(await c.startTask(method, vm, args), { timeoutMs: 30_000 });
}

function cycle(p: VSpherePollster): Promise<{ targets: readonly VmTarget[]; samples: Sample[] }> {
  return p.discover(ctx).then(async (d) => ({ targets: d.targets, samples: await p.poll(ctx, d) }));
}

const one = (samples: readonly Sample[], meter: string, resourceId: string): Sample => {
  const found = samples.filter((s) => s.meter === meter && s.resource.id === resourceId);
  assert.equal(found.length, 1, `one ${meter} sample of ${resourceId}`);
  return found[0] as Sample;
};

describe('vsphere pollster against the simulator', { skip: SKIP }, () => {
  const exchanges: SoapExchange[] = [];
  let p: VSpherePollster;
  let admin: VSphereClient;

  before(async () => {
    if (SKIP) return;
    p = await createVSpherePollster(options(), env, { trace: (e) => exchanges.push(e) });
    const { username, password } = credentials();
    admin = await VSphereClient.connect({ url, username, password, insecure: true });
  });
  after(async () => {
    if (SKIP) return;
    await p.close();
    await admin.close();
  });

  test('discovery finds exactly the VMs of the inventory', async () => {
    const { targets } = await p.discover(ctx);
    const expected = await vmsByTraversal(admin);
    assert.ok(expected.size >= 1);
    assert.deepEqual(new Map(targets.map((t) => [t.id, t.name])), expected);
    for (const t of targets) {
      assert.ok(t.disks.length >= 1 && t.nics.length >= 1, `${t.name} has disks and NICs`);
      assert.ok(t.host !== '' && !t.host.startsWith('host-'), 'the host is named');
    }
  });

  test('the values yielded are the ones QueryPerf returned, in Ceilometer units', async () => {
    await cycle(p);
    exchanges.length = 0;
    const { targets, samples } = await cycle(p);
    // Steady state: one property read and one QueryPerf per cycle.
    assert.deepEqual(exchanges.map((e) => e.method), ['RetrievePropertiesEx', 'QueryPerf']);
    const perf = exchanges[1] as SoapExchange;

    // Read the answer independently of the client's own parser.
    const doc = new XMLParser({ removeNSPrefix: true, ignoreAttributes: false, parseTagValue: false, isArray: (name) => ['returnval', 'value', 'sampleInfo'].includes(name) }).parse(perf.response) as {
      Envelope: { Body: { QueryPerfResponse: { returnval: { entity: { '#text': string }; value: { id: { counterId: string; instance?: string }; value?: string[] }[] }[] } } };
    };
    const counters = await admin.perfCounters();
    const byId = new Map<number, (typeof VSPHERE_COUNTERS)[number]>();
    for (const c of VSPHERE_COUNTERS) {
      const info = counters.get(c.counter);
      if (info) byId.set(info.key, c);
    }
    const vmById = new Map(targets.map((t) => [t.ref.value, t]));
    const units = new Map(VSPHERE_METERS.map((m) => [m.name, m.unit]));
    let checked = 0;
    const meters = new Set<string>();
    for (const rv of doc.Envelope.Body.QueryPerfResponse.returnval) {
      const vm = vmById.get(rv.entity['#text']);
      assert.ok(vm);
      for (const series of rv.value) {
        const conv = byId.get(Number(series.id.counterId));
        assert.ok(conv, `counter ${series.id.counterId} was asked for`);
        const device = series.id.instance ?? '';
        const resourceId: string = device === '' ? vm.id : `${vm.id}-${device}`;
        const values = (series.value ?? []).map(Number).filter((v) => v !== -1);
        if (values.length === 0) {
          // No sample in the answer (the simulator leaves zeros out): no value made up.
          assert.equal(samples.filter((x) => x.meter === conv.meter && x.resource.id === resourceId).length, 0);
          continue;
        }
        const expected = (values.reduce((a, b) => a + b, 0) / values.length) * conv.factor;
        const s = one(samples, conv.meter, resourceId);
        assert.equal(s.volume, expected, `${conv.meter} of ${vm.name} ${device}`);
        assert.equal(s.unit, units.get(conv.meter));
        meters.add(conv.meter);
        checked++;
      }
    }
    assert.ok(checked >= targets.length * 2);
    // The units as Ceilometer converts them: cpu.usage in 1/100 %, memory in KB, rates in KB/s.
    assert.deepEqual(
      VSPHERE_COUNTERS.filter((c) => ['cpu_util', 'memory.usage', 'network.incoming.bytes.rate', 'disk.device.read.bytes.rate'].includes(c.meter)).map((c) => [c.meter, c.counter, c.factor]),
      [
        ['cpu_util', 'cpu.usage.average', 0.01],
        ['memory.usage', 'mem.consumed.average', 1 / 1024],
        ['network.incoming.bytes.rate', 'net.received.average', 1024],
        ['disk.device.read.bytes.rate', 'virtualDisk.read.average', 1024],
      ],
    );
    // The simulator's canned data has zeros (which it leaves out) for the other disk counters.
    for (const m of ['cpu_util', 'memory.usage', 'network.incoming.bytes.rate', 'network.outgoing.bytes.rate', 'disk.device.write.bytes.rate']) {
      assert.ok(meters.has(m), `${m} was read`);
    }
    // Configuration meters come from the VM's properties.
    for (const vm of targets) {
      assert.equal(one(samples, 'vcpus', vm.id).volume, vm.numCpu);
      assert.equal(one(samples, 'memory', vm.id).volume, vm.memoryMB);
      for (const d of vm.disks) assert.equal(one(samples, 'disk.device.capacity', `${vm.id}-${d.name}`).volume, d.capacityBytes);
    }
  });

  test('a VM powered off by a task shows in power.state and has no rates', async () => {
    const { targets } = await p.discover(ctx);
    const vm = targets[0] as VmTarget;
    assert.equal(one((await cycle(p)).samples, 'power.state', vm.id).volume, 1);
    await runTask(admin, 'PowerOffVM_Task', vm.ref);
    try {
      const { samples } = await cycle(p);
      assert.equal(one(samples, 'power.state', vm.id).volume, 5);
      assert.equal(samples.filter((s) => s.meter === 'cpu_util' && s.resource.id === vm.id).length, 0);
      // A task that fails is its fault, typed.
      const err = await runTask(admin, 'PowerOffVM_Task', vm.ref).then(() => assert.fail('powered off twice'), (e: unknown) => e);
      assert.ok(err instanceof VimFault);
      assert.equal(err.type, 'InvalidPowerState');
    } finally {
      await runTask(admin, 'PowerOnVM_Task', vm.ref);
    }
    assert.equal(one((await cycle(p)).samples, 'power.state', vm.id).volume, 1);
  });

  test('a VM renamed or resized by a task updates its resource', async () => {
    const { targets } = await p.discover(ctx);
    const vm = targets[1] ?? (targets[0] as VmTarget);
    await runTask(admin, 'Rename_Task', vm.ref, '<newName>renamed &amp; moved</newName>');
    try {
      const s = one((await cycle(p)).samples, 'cpu_util', vm.id);
      assert.equal(s.resource.attributes.display_name, 'renamed & moved');
    } finally {
      await runTask(admin, 'Rename_Task', vm.ref, `<newName>${vm.name}</newName>`);
    }
    const cpus = (vm.numCpu ?? 1) + 1;
    const mb = (vm.memoryMB ?? 32) * 2;
    await runTask(admin, 'ReconfigVM_Task', vm.ref, `<spec><numCPUs>${cpus}</numCPUs><memoryMB>${mb}</memoryMB></spec>`);
    try {
      const { samples } = await cycle(p);
      assert.equal(one(samples, 'vcpus', vm.id).volume, cpus);
      assert.equal(one(samples, 'memory', vm.id).volume, mb);
      assert.equal(one(samples, 'vcpus', vm.id).resource.attributes.flavor_name, `${cpus}vcpu-${mb}MB`);
      assert.equal(one(samples, 'vcpus', vm.id).resource.attributes.display_name, vm.name);
    } finally {
      await runTask(admin, 'ReconfigVM_Task', vm.ref, `<spec><numCPUs>${vm.numCpu}</numCPUs><memoryMB>${vm.memoryMB}</memoryMB></spec>`);
    }
  });

  test("a Nova VM's owner and flavor come from the annotation Nova writes", async () => {
    const { targets } = await p.discover(ctx);
    const vm = targets[0] as VmTarget;
    const annotation = 'name:web-1\nuserid:u-42\nusername:alice\nprojectid:p-7\nprojectname:demo\nflavor:name:m1.small\nflavor:memory_mb:2048\nflavor:vcpus:1\nimageid:img-9\n';
    await runTask(admin, 'ReconfigVM_Task', vm.ref, `<spec><annotation>${annotation}</annotation></spec>`);
    try {
      const { samples } = await cycle(p);
      assert.deepEqual(one(samples, 'vcpus', vm.id).resource.attributes, {
        display_name: 'web-1', host: vm.host, flavor_id: 'm1.small', flavor_name: 'm1.small', image_ref: 'img-9', project_id: 'p-7', user_id: 'u-42',
      });
      const disk = vm.disks[0];
      assert.ok(disk);
      assert.deepEqual(one(samples, 'disk.device.capacity', `${vm.id}-${disk.name}`).resource.attributes, { project_id: 'p-7', user_id: 'u-42', name: disk.name, instance_id: vm.id });
    } finally {
      await runTask(admin, 'ReconfigVM_Task', vm.ref, '<spec><annotation></annotation></spec>');
    }
    assert.equal(novaMetadata('a VM of someone else'), undefined);
  });

  test('a session ended on the server is renewed, with a new view', async () => {
    const key = await p.client.currentSessionKey();
    assert.ok(key);
    await admin.terminateSessions([key]);
    exchanges.length = 0;
    const { targets } = await p.discover(ctx);
    assert.equal(targets.length, (await vmsByTraversal(admin)).size);
    // The simulator answers a read of the dead session's view with ManagedObjectNotFound
    // (a vCenter, with NotAuthenticated): either way one login, a new view, a read through it.
    const methods = exchanges.map((e) => e.method);
    assert.equal(methods.filter((m) => m === 'Login').length, 1);
    assert.deepEqual(methods.slice(methods.indexOf('Login')), ['Login', 'CreateContainerView', 'RetrievePropertiesEx']);
  });

  test('close() destroys the view, logs out and closes every socket', async () => {
    const q = await createVSpherePollster(options(), env, { trace: (e) => exchanges.push(e) });
    const port = simulatorPort();
    await settle();
    const beforeSockets = socketsTo(port);
    await cycle(q);
    const cookie = q.client.sessionCookie;
    assert.ok(cookie && socketsTo(port) > beforeSockets);
    exchanges.length = 0;
    await q.close();
    assert.deepEqual(exchanges.map((e) => e.method), ['DestroyView', 'Logout']);
    await settle();
    assert.equal(socketsTo(port), beforeSockets);
    // The old session is gone on the server.
    const t = new SoapTransport({ url, insecure: true, cookie });
    try {
      await assert.rejects(
        t.call('CreateContainerView', admin.serviceContent.viewManager, '<container type="Folder">group-d1</container><type>VirtualMachine</type><recursive>true</recursive>'),
        (e: unknown) => e instanceof VimFault && e.type === 'NotAuthenticated',
      );
    } finally {
      t.close();
    }
  });
});

describe('vsphere pollster options', () => {
  test('bad options are configuration errors', async () => {
    await assert.rejects(createVSpherePollster({ username: 'a', password: 'b' }, env), PollsterConfigError);
    await assert.rejects(createVSpherePollster({ url: 'ftp://x/sdk', username: 'a', password: 'b' }, env), PollsterConfigError);
    await assert.rejects(createVSpherePollster({ url: 'https://x/sdk', password: 'b' }, env), PollsterConfigError);
    await assert.rejects(createVSpherePollster({ url: 'https://x/sdk', username: 'a' }, env), PollsterConfigError);
    await assert.rejects(createVSpherePollster({ url: 'https://x/sdk', username: 'a', password_file: '/nonexistent/file' }, env), PollsterConfigError);
    await assert.rejects(createVSpherePollster({ url: 'https://x/sdk', username: 'a', password: 'b', insecure: 'yes' }, env), PollsterConfigError);
  });
});
