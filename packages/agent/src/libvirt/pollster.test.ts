// The mapping from bulk-stats records to Ceilometer's samples, on records shaped as the
// QEMU driver returns them (field names and types as libvirt 9 reports them); the same
// mapping against the real daemon and virsh is in libvirtd.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PollsterConfigError } from '../pollster.js';
import type { Sample } from '../pollster.js';
import type { DomainDescription } from './domain-xml.js';
import { LIBVIRT_METERS, LIBVIRT_RESOURCE_TYPES, cpuTime, domainSamples, parseLibvirtOptions } from './pollster.js';
import type { TypedParam } from './rpc.js';

const uuid = '6695eb01-f6a4-8304-79aa-97f2502e193f';
const u = (field: string, value: bigint): TypedParam => ({ field, type: 4, value });
const i = (field: string, value: number): TypedParam => ({ field, type: 1, value });
const ui = (field: string, value: number): TypedParam => ({ field, type: 2, value });
const s = (field: string, value: string): TypedParam => ({ field, type: 7, value });

const nova: DomainDescription = {
  nova: {
    displayName: 'web', flavor: { name: 'm1.small', vcpus: 2, memoryMb: 2048, diskGb: 20, ephemeralGb: 0, swapMb: 0 },
    projectId: 'p-1', userId: 'u-1', imageId: null,
  },
  interfaces: new Map([['tap1', { dev: 'tap1', mac: 'fa:16:3e:00:00:01', filter: 'nova-instance-instance-00000003-fa163e000001' }]]),
  disks: [{ dev: 'vda', source: '/d/disk' }, { dev: 'sda', source: null }, { dev: 'sdb', source: '/d/iso' }],
};

function samples(params: TypedParam[], description = nova, wants: (m: string) => boolean = () => true): Map<string, Sample> {
  const out: Sample[] = [];
  domainSamples({ domain: { name: 'instance-00000003', uuid, id: 3 }, description }, params, { host: 'cmp', timestamp: 5n, wants }, out);
  return new Map(out.map((x) => [`${x.resource.id} ${x.meter}`, x]));
}

const running: TypedParam[] = [
  i('state.state', 1), i('state.reason', 1),
  u('cpu.time', 9_000_000_000n),
  u('balloon.current', 2097152n), u('balloon.available', 2000000n), u('balloon.usable', 1500000n), u('balloon.unused', 1400000n),
  u('balloon.rss', 524288n),
  ui('vcpu.current', 2), ui('vcpu.maximum', 2),
  u('vcpu.0.time', 1_000n), u('vcpu.0.wait', 10n), u('vcpu.1.time', 2_000n), u('vcpu.1.wait', 20n),
  ui('net.count', 2),
  s('net.0.name', 'tap1'), u('net.0.rx.bytes', 100n), u('net.0.rx.pkts', 2n), u('net.0.rx.errs', 0n), u('net.0.rx.drop', 1n),
  u('net.0.tx.bytes', 200n), u('net.0.tx.pkts', 3n), u('net.0.tx.errs', 4n), u('net.0.tx.drop', 0n),
  s('net.1.name', 'tap2'), u('net.1.rx.bytes', 7n),
  ui('block.count', 3),
  s('block.0.name', 'vda'), s('block.0.path', '/d/disk'), u('block.0.rd.reqs', 11n), u('block.0.rd.bytes', 4096n),
  u('block.0.wr.reqs', 12n), u('block.0.wr.bytes', 8192n), u('block.0.allocation', 1000n), u('block.0.capacity', 10737418240n),
  u('block.0.physical', 2000n),
  s('block.1.name', 'sda'), // an empty CD-ROM drive: no path
  s('block.2.name', 'sdb'), s('block.2.path', '/d/iso'), u('block.2.capacity', 4096n), u('block.2.physical', 5000n),
];

test('a running domain yields every meter with Ceilometer\'s names, units, types and resources', () => {
  const m = samples(running);
  const vol = (k: string): number | undefined => m.get(k)?.volume;
  assert.equal(vol(`${uuid} power.state`), 1);
  assert.equal(vol(`${uuid} cpu`), 3030, 'vCPU time + wait of every vCPU, not cpu.time');
  assert.equal(vol(`${uuid} vcpus`), 2);
  assert.equal(vol(`${uuid} memory.usage`), (2000000 - 1500000) / 1024, 'available - usable, in MB');
  assert.equal(vol(`${uuid} memory.resident`), 512);
  assert.equal(vol(`${uuid}-vda disk.device.read.bytes`), 4096);
  assert.equal(vol(`${uuid}-vda disk.device.read.requests`), 11);
  assert.equal(vol(`${uuid}-vda disk.device.write.bytes`), 8192);
  assert.equal(vol(`${uuid}-vda disk.device.write.requests`), 12);
  assert.equal(vol(`${uuid}-vda disk.device.capacity`), 10737418240);
  assert.equal(vol(`${uuid}-vda disk.device.allocation`), 1000);
  assert.equal(vol(`${uuid}-vda disk.device.usage`), 2000);
  assert.equal(vol(`${uuid}-sdb disk.device.capacity`), 5000, 'the larger of capacity and physical size');
  assert.ok(![...m.keys()].some((k) => k.includes('-sda ')), 'a drive without media has no resource');
  const fref = 'nova-instance-instance-00000003-fa163e000001';
  assert.equal(vol(`${fref} network.incoming.bytes`), 100);
  assert.equal(vol(`${fref} network.incoming.packets`), 2);
  assert.equal(vol(`${fref} network.incoming.packets.drop`), 1);
  assert.equal(vol(`${fref} network.incoming.packets.error`), 0);
  assert.equal(vol(`${fref} network.outgoing.bytes`), 200);
  assert.equal(vol(`${fref} network.outgoing.packets`), 3);
  assert.equal(vol(`${fref} network.outgoing.packets.error`), 4);
  assert.equal(vol(`${fref} network.outgoing.packets.drop`), 0);
  assert.equal(vol(`instance-00000003-${uuid}-tap2 network.incoming.bytes`), 7, 'no filter: name-uuid-device');
  // instance 5, vda 7, sdb capacity and usage, tap1 8, tap2 1
  assert.equal(m.size, 5 + 7 + 2 + 8 + 1);

  const meters = new Map(LIBVIRT_METERS.map((d) => [d.name, d]));
  for (const x of m.values()) {
    const d = meters.get(x.meter);
    assert.ok(d);
    assert.equal(x.unit, d.unit);
    assert.equal(x.type, d.type);
    assert.equal(x.resource.type, d.resourceType);
    assert.equal(x.timestamp, 5n);
    assert.ok(LIBVIRT_RESOURCE_TYPES.some((t) => t.name === x.resource.type));
  }
  assert.deepEqual(m.get(`${uuid} cpu`)?.resource.attributes,
    { project_id: 'p-1', user_id: 'u-1', display_name: 'web', host: 'cmp', flavor_id: 'm1.small', flavor_name: 'm1.small' });
  assert.deepEqual(m.get(`${fref} network.incoming.bytes`)?.resource.attributes,
    { project_id: 'p-1', user_id: 'u-1', name: fref, instance_id: uuid });
  assert.deepEqual(m.get(`${uuid}-vda disk.device.usage`)?.resource.attributes,
    { project_id: 'p-1', user_id: 'u-1', name: 'vda', instance_id: uuid });
});

test('cpu falls back to cpu.time when a current vCPU has no time; memory.usage to unused without usable', () => {
  const holes = running.filter((p) => p.field !== 'vcpu.1.wait' && p.field !== 'balloon.usable');
  const m = samples(holes);
  assert.equal(m.get(`${uuid} cpu`)?.volume, 9_000_000_000);
  assert.equal(m.get(`${uuid} memory.usage`)?.volume, (2000000 - 1400000) / 1024);
  const noBalloonDriver = samples(running.filter((p) => !/^balloon\.(available|usable|unused)$/.test(p.field)));
  assert.equal(noBalloonDriver.has(`${uuid} memory.usage`), false, 'no guest balloon driver: no memory.usage');
  assert.equal(cpuTime(new Map()), undefined);
  assert.equal(cpuTime(new Map<string, number | bigint>([['vcpu.current', 0], ['vcpu.maximum', 0]])), 0n);
});

test('a shut-off domain yields power.state alone', () => {
  const off = running.map((p) => (p.field === 'state.state' ? i('state.state', 5) : p));
  assert.deepEqual([...samples(off).keys()], [`${uuid} power.state`]);
});

test('a plain domain is an instance named after the domain, without owner', () => {
  const m = samples(running, { nova: null, interfaces: new Map(), disks: [] });
  assert.deepEqual(m.get(`${uuid} cpu`)?.resource.attributes,
    { display_name: 'instance-00000003', host: 'cmp', flavor_id: '', flavor_name: '' });
  assert.deepEqual(m.get(`instance-00000003-${uuid}-tap1 network.incoming.bytes`)?.resource.attributes,
    { name: 'tap1', instance_id: uuid });
});

test('meters not wanted are not yielded', () => {
  const m = samples(running, nova, (x) => x.startsWith('disk.device.read'));
  assert.deepEqual([...m.keys()].sort(), [`${uuid}-vda disk.device.read.bytes`, `${uuid}-vda disk.device.read.requests`]);
});

test('options: defaults, and bad or unknown ones refused', () => {
  const o = parseLibvirtOptions({});
  assert.equal(o.uri, 'qemu:///system');
  assert.equal(o.socket, '/run/libvirt/libvirt-sock');
  assert.equal(o.timeoutMs, 30_000);
  assert.throws(() => parseLibvirtOptions({ url: 'x' }), PollsterConfigError);
  assert.throws(() => parseLibvirtOptions({ uri: 3 }), PollsterConfigError);
  assert.throws(() => parseLibvirtOptions({ timeout_ms: -1 }), PollsterConfigError);
});
