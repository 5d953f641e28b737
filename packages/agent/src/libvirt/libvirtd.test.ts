// Tests against a real libvirtd (scripts/agent-libvirt-test starts it and sets
// LIBVIRT_SOCKET): libvirt's test driver through the daemon, a node of many domains with
// Nova metadata, a real QEMU guest, and the client's behaviour when the connection is cut,
// stalled, refused, or the daemon restarts. Reference values come from the real `virsh`.
// The tests of this file run one after the other: some stop the daemon.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { AbortedError } from '@tally/retry';
import type { PollContext, Sample } from '../pollster.js';
import { ErrorCode, LibvirtClient, LibvirtConnectionError, LibvirtError, LibvirtTimeoutError } from './client.js';
import { libvirtPollster } from './index.js';
import { LIBVIRT_METERS, LibvirtPollster } from './pollster.js';
import { Procedure, StatsGroup } from './rpc.js';
import {
  FIXTURES, LIBVIRT_SOCKET, Relay, SKIP_WITHOUT_DAEMON, nodeGenerator, tempDir, virsh, virshDomstats, virshPerDomain, virshUuids,
} from './testing.js';

const run = promisify(execFile);
const skip = SKIP_WITHOUT_DAEMON;
const NODE_200 = path.join(FIXTURES, 'node-200.xml');
const env = { stateDir: '/nonexistent', log: () => undefined };

function ctx(wants: (m: string) => boolean = () => true): PollContext {
  return { signal: new AbortController().signal, log: () => undefined, wants };
}

async function cycle(p: LibvirtPollster, c = ctx()): Promise<Sample[]> {
  return p.poll(c, await p.discover(c));
}

/** resource id + meter -> volume. */
function byKey(samples: readonly Sample[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of samples) {
    const key = `${s.resource.id} ${s.meter}`;
    assert.ok(!m.has(key), `one sample per resource and meter (${key})`);
    m.set(key, s.volume);
  }
  return m;
}

/**
 * What Ceilometer's compute pollsters yield for one domain, computed from the fields the
 * real `virsh domstats --raw` printed, keyed as byKey keys them.
 */
function expectedFromVirsh(fields: Map<string, string>, name: string, uuid: string, filterOf: (dev: string) => string | null): Map<string, number> {
  const out = new Map<string, number>();
  const big = (k: string): bigint | undefined => (fields.has(k) ? BigInt(fields.get(k) as string) : undefined);
  const put = (id: string, meter: string, v: bigint | number | undefined): void => {
    if (v !== undefined) out.set(`${id} ${meter}`, Number(v));
  };
  const state = big('state.state');
  put(uuid, 'power.state', state);
  if (state === 5n) return out;
  const current = big('vcpu.current');
  let cpu: bigint | undefined;
  if (current !== undefined) {
    let left = current;
    let sum = 0n;
    for (let i = 0n; i < (big('vcpu.maximum') ?? 0n); i++) {
      const t = big(`vcpu.${i}.time`);
      const w = big(`vcpu.${i}.wait`);
      if (t !== undefined && w !== undefined) {
        sum += t + w;
        left--;
      }
    }
    if (left === 0n) cpu = sum;
  }
  put(uuid, 'cpu', cpu ?? big('cpu.time'));
  put(uuid, 'vcpus', current);
  const avail = big('balloon.available');
  const rest = big('balloon.usable') ?? big('balloon.unused');
  if (avail !== undefined && rest !== undefined) put(uuid, 'memory.usage', Number(avail - rest) / 1024);
  const rss = big('balloon.rss');
  if (rss !== undefined) put(uuid, 'memory.resident', Number(rss) / 1024);
  for (let i = 0n; i < (big('block.count') ?? 0n); i++) {
    const dev = fields.get(`block.${i}.name`);
    if (dev === undefined || !fields.has(`block.${i}.path`)) continue;
    const id = `${uuid}-${dev}`;
    put(id, 'disk.device.read.bytes', big(`block.${i}.rd.bytes`));
    put(id, 'disk.device.read.requests', big(`block.${i}.rd.reqs`));
    put(id, 'disk.device.write.bytes', big(`block.${i}.wr.bytes`));
    put(id, 'disk.device.write.requests', big(`block.${i}.wr.reqs`));
    const cap = big(`block.${i}.capacity`);
    const phys = big(`block.${i}.physical`);
    put(id, 'disk.device.capacity', cap !== undefined && phys !== undefined ? (cap > phys ? cap : phys) : cap ?? phys);
    put(id, 'disk.device.allocation', big(`block.${i}.allocation`));
    put(id, 'disk.device.usage', phys);
  }
  for (let i = 0n; i < (big('net.count') ?? 0n); i++) {
    const dev = fields.get(`net.${i}.name`);
    if (dev === undefined) continue;
    const id = filterOf(dev) ?? `${name}-${uuid}-${dev}`;
    for (const [dir, word] of [['rx', 'incoming'], ['tx', 'outgoing']] as const) {
      put(id, `network.${word}.bytes`, big(`net.${i}.${dir}.bytes`));
      put(id, `network.${word}.packets`, big(`net.${i}.${dir}.pkts`));
      put(id, `network.${word}.packets.drop`, big(`net.${i}.${dir}.drop`));
      put(id, `network.${word}.packets.error`, big(`net.${i}.${dir}.errs`));
    }
  }
  return out;
}

const GROUP_FLAGS = ['--state', '--cpu-total', '--balloon', '--vcpu', '--interface', '--block'];

test('the committed 200-domain node is what the generator makes', async () => {
  const gen = await nodeGenerator();
  assert.equal(readFileSync(NODE_200, 'utf8'), gen.makeNode(200));
});

describe('libvirt through a real libvirtd', { skip, concurrency: 1 }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let relay: Relay;

  before(async () => {
    tmp = tempDir('tally-libvirt-test-');
    relay = new Relay(tmp.dir, LIBVIRT_SOCKET);
    await relay.start();
  });

  after(async () => {
    await relay.stop();
    tmp.remove();
  });

  test('test:///default: handshake, list, XML and stats match virsh', async () => {
    const c = new LibvirtClient({ socketPath: LIBVIRT_SOCKET, uri: 'test:///default' });
    try {
      const doms = await c.listAllDomains();
      const uuids = await virshUuids('test:///default');
      assert.deepEqual(new Map(doms.map((d) => [d.name, d.uuid])), uuids);
      const xml = await c.domainXml(doms[0]);
      assert.equal(xml, await virsh('test:///default', 'dumpxml', doms[0].name));
      const stats = await c.getAllDomainStats(StatsGroup.STATE);
      const ref = await virshDomstats('test:///default', '--state');
      for (const rec of stats) {
        const fields = ref.get(rec.domain.name);
        assert.ok(fields);
        assert.deepEqual(new Map(rec.params.map((p) => [p.field, String(p.value)])), fields);
      }
      assert.equal(c.callCount(Procedure.AUTH_LIST), 1);
      assert.equal(c.callCount(Procedure.CONNECT_OPEN), 1);
    } finally {
      await c.close();
    }
    assert.equal(c.connected, false);
  });

  test('200 domains: one bulk call per cycle, the groups the test driver lacks read per domain, every value as virsh reports it', async () => {
    const uri = `test://${NODE_200}`;
    const p = await libvirtPollster.create({ uri, socket: relay.path, host: 'compute-7' }, env) as LibvirtPollster;
    const gen = await nodeGenerator();
    const specs = Array.from({ length: 200 }, (_, i) => gen.domainSpec(i));
    const running = specs.filter((s) => s.state !== 5);
    // Per running domain: DOMAIN_GET_INFO (cpu, vcpus), DOMAIN_MEMORY_STATS (memory.*), one
    // DOMAIN_INTERFACE_STATS, and DOMAIN_BLOCK_STATS + DOMAIN_GET_BLOCK_INFO per disk with a
    // source: 5 calls for a domain with one disk, 7 with two. Shut-off domains: none.
    const disks = running.reduce((n, s) => n + s.disks.length, 0);
    const perCycle = new Map<number, number>([
      [Procedure.CONNECT_GET_ALL_DOMAIN_STATS, 1],
      [Procedure.DOMAIN_GET_INFO, running.length],
      [Procedure.DOMAIN_MEMORY_STATS, running.length],
      [Procedure.DOMAIN_INTERFACE_STATS, running.length],
      [Procedure.DOMAIN_BLOCK_STATS, disks],
      [Procedure.DOMAIN_GET_BLOCK_INFO, disks],
    ]);
    assert.equal([...perCycle.values()].reduce((a, b) => a + b) - 1, running.length * 5 + specs.filter((s) => s.state !== 5 && s.disks.length === 2).length * 2);
    const counted = [...perCycle.keys(), Procedure.DOMAIN_GET_XML_DESC];
    const snapshot = (): Map<number, number> => new Map(counted.map((proc) => [proc, relay.callCount(proc)]));
    const delta = (before: Map<number, number>): Map<number, number> =>
      new Map(counted.map((proc) => [proc, relay.callCount(proc) - (before.get(proc) ?? 0)]));
    try {
      let before = snapshot();
      const first = await cycle(p);
      assert.deepEqual(delta(before), new Map([...perCycle, [Procedure.DOMAIN_GET_XML_DESC, 200]]));

      const uuids = await virshUuids(uri);
      const virshDomains = running.map((s) => ({ name: s.name, disks: s.disks, interfaces: [s.interface.dev] }));
      const state = await virshDomstats(uri, '--state');
      const lo = await virshPerDomain(uri, virshDomains);
      before = snapshot();
      const second = await cycle(p);
      assert.deepEqual(delta(before), new Map([...perCycle, [Procedure.DOMAIN_GET_XML_DESC, 0]]), 'XML is cached by UUID');
      const hi = await virshPerDomain(uri, virshDomains);
      assert.equal(p.client.callCount(Procedure.CONNECT_GET_ALL_DOMAIN_STATS), 2);

      // The test driver's counters and CPU time follow the clock: a value read between two
      // virsh readings lies between them (cpu within dominfo's tenth of a second); sizes and
      // memory statistics hold still and are equal.
      const expected = (ref: Map<string, Map<string, string>>): Map<string, number> => {
        const out = new Map<string, number>();
        for (const spec of specs) {
          const fields = new Map([...(state.get(spec.name) ?? []), ...(ref.get(spec.name) ?? [])]);
          const filterOf = (dev: string): string | null => (dev === spec.interface.dev ? spec.interface.filter : null);
          assert.equal(uuids.get(spec.name), spec.uuid);
          for (const [k, v] of expectedFromVirsh(fields, spec.name, spec.uuid, filterOf)) out.set(k, v);
        }
        return out;
      };
      const low = expected(lo);
      const high = expected(hi);
      const got = byKey(second);
      assert.deepEqual(new Set(got.keys()), new Set(high.keys()), 'the meters and resources virsh has values for');
      assert.deepEqual(new Set(byKey(first).keys()), new Set(high.keys()));
      for (const [k, v] of got) {
        const a = low.get(k) as number;
        const b = high.get(k) as number;
        const slack = k.endsWith(' cpu') ? 50_000_000 : 0;
        if (a === b) assert.equal(v, a, k);
        else assert.ok(v >= a - slack && v <= b + slack, `${k}: ${v} not within virsh's [${a}, ${b}]`);
      }
      // Every meter of the pollster comes out; memory only for domains with a balloon.
      assert.deepEqual(new Set(second.map((s) => s.meter)), new Set(LIBVIRT_METERS.map((d) => d.name)));
      const count = (meter: string): number => second.filter((s) => s.meter === meter).length;
      assert.equal(count('power.state'), 200);
      assert.equal(count('cpu'), running.length);
      assert.equal(count('memory.usage'), running.filter((s) => s.balloon).length);
      assert.equal(count('disk.device.read.bytes'), disks);
      assert.equal(count('network.incoming.bytes'), running.length);
      // The test driver's sizes: a terabyte, capacity rounded down below the physical size.
      assert.equal(got.get(`${running[0].uuid}-vda disk.device.capacity`), 1099511627776);

      const bySpec = new Map(specs.map((s) => [s.uuid, s]));
      for (const s of second) {
        const instanceId = s.resource.type === 'instance' ? s.resource.id : s.resource.attributes.instance_id as string;
        const spec = bySpec.get(instanceId);
        assert.ok(spec, `${s.resource.id} belongs to a fixture domain`);
        const d = LIBVIRT_METERS.find((m) => m.name === s.meter);
        assert.equal(s.unit, d?.unit);
        assert.equal(s.type, d?.type);
        assert.equal(s.resource.type, d?.resourceType);
        const owner: Record<string, string> = spec.nova === null ? {} : { project_id: spec.nova.projectId, user_id: spec.nova.userId };
        const a = s.resource.attributes;
        if (s.resource.type === 'instance_disk') {
          assert.deepEqual(a, { ...owner, name: s.resource.id.slice(spec.uuid.length + 1), instance_id: spec.uuid });
          assert.ok(spec.disks.includes(a.name as string));
        } else if (s.resource.type === 'instance_network_interface') {
          const f = spec.interface.filter;
          assert.equal(s.resource.id, f ?? `${spec.name}-${spec.uuid}-${spec.interface.dev}`);
          assert.deepEqual(a, { ...owner, name: f ?? spec.interface.dev, instance_id: spec.uuid });
        } else if (spec.nova === null) {
          assert.deepEqual(a, { display_name: spec.name, host: 'compute-7', flavor_id: '', flavor_name: '' });
        } else {
          const want: Record<string, string> = {
            ...owner, display_name: spec.nova.displayName, host: 'compute-7', flavor_id: spec.nova.flavorName, flavor_name: spec.nova.flavorName,
          };
          if (spec.nova.imageId !== null) want.image_ref = spec.nova.imageId;
          assert.deepEqual(a, want);
        }
      }
      const ts = new Set(first.map((s) => s.timestamp));
      assert.equal(ts.size, 1, 'one timestamp per cycle');
    } finally {
      await p.close();
    }
  });

  test('only wanted meters are yielded, and only the calls they need are made', async () => {
    const p = await libvirtPollster.create({ uri: `test://${NODE_200}`, socket: relay.path }, env) as LibvirtPollster;
    const fallbackProcs = [
      Procedure.DOMAIN_GET_INFO, Procedure.DOMAIN_MEMORY_STATS, Procedure.DOMAIN_INTERFACE_STATS, Procedure.DOMAIN_BLOCK_STATS,
      Procedure.DOMAIN_GET_BLOCK_INFO,
    ];
    const counts = (): number[] => fallbackProcs.map((proc) => relay.callCount(proc));
    const diff = (a: number[], b: number[]): number[] => a.map((x, i) => x - b[i]);
    try {
      const gen = await nodeGenerator();
      const running = Array.from({ length: 200 }, (_, i) => gen.domainSpec(i)).filter((s) => s.state !== 5);
      let c0 = counts();
      const cpu = await cycle(p, ctx((m) => m === 'cpu'));
      assert.equal(cpu.length, running.length);
      assert.ok(cpu.every((s) => s.meter === 'cpu' && s.volume > 0));
      assert.deepEqual(diff(counts(), c0), [running.length, 0, 0, 0, 0], 'DOMAIN_GET_INFO alone');
      c0 = counts();
      const sizes = await cycle(p, ctx((m) => m === 'disk.device.usage'));
      const disks = running.reduce((n, s) => n + s.disks.length, 0);
      assert.equal(sizes.length, disks);
      assert.deepEqual(diff(counts(), c0), [0, 0, 0, 0, disks], 'DOMAIN_GET_BLOCK_INFO alone');
      c0 = counts();
      assert.equal((await cycle(p, ctx((m) => m === 'power.state'))).length, 200);
      assert.deepEqual(diff(counts(), c0), [0, 0, 0, 0, 0], 'the bulk call has the state group');
    } finally {
      await p.close();
    }
  });

  test('a call the driver refuses for one domain is logged once and not asked again; the cycle goes on', async () => {
    // The test driver looks an interface up by MAC address when its name reads as one: a
    // target device named like a MAC that is not the interface's own is refused (invalid
    // argument), as a real driver refuses what it cannot answer.
    const node = path.join(tmp.dir, 'odd-node.xml');
    const uuid = '11111111-2222-4333-a444-555555555555';
    writeFileSync(node, `<node>
  <domain type='test'>
    <name>odd</name>
    <uuid>${uuid}</uuid>
    <memory unit='MiB'>512</memory>
    <vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='vdb' bus='virtio'/></disk>
      <interface type='ethernet'><mac address='fa:16:3e:00:00:01'/><target dev='fa:16:3e:00:00:99'/></interface>
      <interface type='ethernet'><mac address='fa:16:3e:00:00:02'/><target dev='tapok'/></interface>
      <memballoon model='virtio'/>
    </devices>
  </domain>
</node>
`);
    const p = await libvirtPollster.create({ uri: `test://${node}`, socket: relay.path }, env) as LibvirtPollster;
    const logs: { level: string; message: string; fields: Record<string, unknown> | undefined }[] = [];
    const c: PollContext = { signal: new AbortController().signal, log: (level, message, fields) => logs.push({ level, message, fields }), wants: () => true };
    try {
      const if0 = relay.callCount(Procedure.DOMAIN_INTERFACE_STATS);
      const s1 = byKey(await cycle(p, c));
      assert.equal(relay.callCount(Procedure.DOMAIN_INTERFACE_STATS) - if0, 2);
      const warnings = logs.filter((l) => l.level === 'warn');
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0].fields?.call, 'interface fa:16:3e:00:00:99');
      assert.equal(warnings[0].fields?.code, 8);
      const s2 = byKey(await cycle(p, c));
      assert.equal(relay.callCount(Procedure.DOMAIN_INTERFACE_STATS) - if0, 3, 'the refused interface is not asked again');
      assert.equal(logs.filter((l) => l.level === 'warn').length, 1, 'logged once');
      for (const s of [s1, s2]) {
        assert.ok(s.has(`odd-${uuid}-tapok network.incoming.bytes`));
        assert.ok(![...s.keys()].some((k) => k.includes('fa:16:3e:00:00:99')));
        assert.equal(s.get(`${uuid}-vdb disk.device.usage`), 1099511627776, 'a network disk has a source too');
        assert.equal(s.get(`${uuid} memory.resident`), 256);
        assert.ok(s.has(`${uuid} cpu`));
      }
    } finally {
      await p.close();
    }
  });

  test('a real QEMU guest: cpu grows between two polls, its disk and interface appear, values match virsh', async (t) => {
    const uri = 'qemu:///system';
    const name = `tally-test-${process.pid}`;
    const dev = `tly${process.pid % 100000}`;
    const disk = path.join(tmp.dir, 'disk.raw');
    writeFileSync(disk, Buffer.alloc(0));
    await run('truncate', ['-s', '16M', disk]);
    const project = '0b5b8f0e-6a8e-4f3c-9a55-3a6f0a0c2a11';
    const user = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
    // The container lets libvirt create tap devices (/dev/net/tun and CAP_NET_ADMIN), so the
    // guest gets an `ethernet` interface, as Nova's tap-based ones are. The NIC's boot ROM is
    // off (no iPXE image needed); with no OS on the disk the firmware spins, so cpu moves.
    const domainXml = `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>tiny guest</nova:name>
      <nova:flavor name="m1.nano"><nova:memory>64</nova:memory><nova:disk>0</nova:disk><nova:vcpus>1</nova:vcpus></nova:flavor>
      <nova:owner><nova:user uuid="${user}">u</nova:user><nova:project uuid="${project}">p</nova:project></nova:owner>
    </nova:instance>
  </metadata>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
    <interface type='ethernet'><mac address='52:54:00:7a:11:01'/><target dev='${dev}'/><model type='virtio'/><rom enabled='no'/></interface>
    <memballoon model='virtio'/>
  </devices>
</domain>`;
    const xmlFile = path.join(tmp.dir, 'guest.xml');
    writeFileSync(xmlFile, domainXml);
    await virsh(uri, 'define', xmlFile);
    t.after(async () => {
      await virsh(uri, 'destroy', name).catch(() => undefined);
      await virsh(uri, 'undefine', name).catch(() => undefined);
    });
    await virsh(uri, 'start', name);
    const uuid = (await virsh(uri, 'domuuid', name)).trim();

    const p = await libvirtPollster.create({ uri, socket: relay.path, host: 'compute-q' }, env) as LibvirtPollster;
    const perDomain = [
      Procedure.DOMAIN_GET_INFO, Procedure.DOMAIN_MEMORY_STATS, Procedure.DOMAIN_INTERFACE_STATS, Procedure.DOMAIN_BLOCK_STATS,
      Procedure.DOMAIN_GET_BLOCK_INFO,
    ];
    const perDomainCalls = (): number => perDomain.reduce((n, proc) => n + relay.callCount(proc), 0);
    const perDomainBefore = perDomainCalls();
    const bulkBefore = relay.callCount(Procedure.CONNECT_GET_ALL_DOMAIN_STATS);
    try {
      // Paused, the guest's vCPUs and devices hold still: those values must equal virsh's
      // exactly. The emulator's own threads still run, so cpu.time and the resident size may
      // move: a value that differs between the readings before and after the poll must lie
      // between them.
      await virsh(uri, 'suspend', name);
      const before = await virshDomstats(uri, ...GROUP_FLAGS, name);
      const s1 = await cycle(p);
      const after1 = await virshDomstats(uri, ...GROUP_FLAGS, name);
      const lo = expectedFromVirsh(before.get(name) as Map<string, string>, name, uuid, () => null);
      const hi = expectedFromVirsh(after1.get(name) as Map<string, string>, name, uuid, () => null);
      const got = byKey(s1.filter((s) => s.resource.id.includes(uuid)));
      assert.deepEqual(new Set(got.keys()), new Set(hi.keys()), 'the same meters and resources as virsh reports');
      for (const [k, v] of got) {
        const a = lo.get(k) as number;
        const b = hi.get(k) as number;
        if (a === b) assert.equal(v, a, k);
        else assert.ok(v >= Math.min(a, b) && v <= Math.max(a, b), `${k}: ${v} not within virsh's [${a}, ${b}]`);
      }
      assert.equal(lo.get(`${uuid} cpu`), hi.get(`${uuid} cpu`), 'vCPU time holds still while paused');
      assert.equal(got.get(`${uuid} power.state`), 3);
      for (const m of ['cpu', 'vcpus', 'memory.resident']) assert.ok(got.has(`${uuid} ${m}`), m);

      // Running again, cpu grows from one poll to the next.
      await virsh(uri, 'resume', name);
      const cpu1 = got.get(`${uuid} cpu`) as number;
      let cpu2 = cpu1;
      for (let i = 0; i < 40 && cpu2 <= cpu1; i++) {
        await new Promise((r) => setTimeout(r, 250));
        cpu2 = byKey(await cycle(p)).get(`${uuid} cpu`) as number;
      }
      assert.ok(cpu2 > cpu1, `cpu grows (${cpu1} -> ${cpu2})`);

      const inst = s1.find((s) => s.resource.id === uuid && s.meter === 'cpu');
      assert.deepEqual(inst?.resource, {
        id: uuid, type: 'instance',
        attributes: { project_id: project, user_id: user, display_name: 'tiny guest', host: 'compute-q', flavor_id: 'm1.nano', flavor_name: 'm1.nano' },
      });
      assert.equal(inst?.unit, 'ns');
      assert.equal(inst?.type, 'cumulative');
      const cap = s1.find((s) => s.meter === 'disk.device.capacity' && s.resource.id === `${uuid}-vda`);
      assert.equal(cap?.volume, 16 * 1024 * 1024);
      assert.deepEqual(cap?.resource.attributes, { project_id: project, user_id: user, name: 'vda', instance_id: uuid });
      const vnic = s1.find((s) => s.meter === 'network.incoming.bytes');
      assert.equal(vnic?.resource.id, `${name}-${uuid}-${dev}`);
      assert.deepEqual(vnic?.resource.attributes, { project_id: project, user_id: user, name: dev, instance_id: uuid });
      assert.equal(s1.find((s) => s.meter === 'vcpus')?.volume, 1);
      assert.ok((s1.find((s) => s.meter === 'memory.resident')?.volume ?? 0) > 0);
      assert.equal(perDomainCalls() - perDomainBefore, 0, 'QEMU\'s bulk statistics are complete: no per-domain call');
      assert.ok(relay.callCount(Procedure.CONNECT_GET_ALL_DOMAIN_STATS) - bulkBefore >= 2);
    } finally {
      await p.close();
    }
  });

  test('an unknown URI is libvirt\'s own typed error, not retried', async () => {
    const c = new LibvirtClient({ socketPath: LIBVIRT_SOCKET, uri: 'nosuchdriver:///x' });
    try {
      await assert.rejects(c.listAllDomains(), (e: unknown) =>
        e instanceof LibvirtError && e.code === ErrorCode.NO_CONNECT && /nosuchdriver/.test(e.message));
      assert.equal(c.callCount(Procedure.CONNECT_OPEN), 1);
      const p = await libvirtPollster.create({ uri: 'test:///nonexistent/node.xml', socket: LIBVIRT_SOCKET }, env);
      await assert.rejects(p.discover(ctx()), LibvirtError);
      await p.close();
    } finally {
      await c.close();
    }
  });

  test('concurrent calls are matched to their replies by serial', async () => {
    const c = new LibvirtClient({ socketPath: LIBVIRT_SOCKET, uri: `test://${NODE_200}` });
    try {
      const doms = await c.listAllDomains();
      const xmls = await Promise.all(doms.slice(0, 40).map((d) => c.domainXml(d)));
      xmls.forEach((xml, i) => assert.ok(xml.includes(`<uuid>${doms[i].uuid}</uuid>`), doms[i].name));
    } finally {
      await c.close();
    }
  });

  test('a stalled daemon times a call out; the late reply is dropped and the connection goes on', async () => {
    const c = new LibvirtClient({ socketPath: relay.path, uri: 'test:///default', keepaliveIntervalMs: 0 });
    try {
      await c.listAllDomains();
      relay.stall = true;
      const t0 = Date.now();
      await assert.rejects(c.listAllDomains(0, { timeoutMs: 300 }), (e: unknown) =>
        e instanceof LibvirtTimeoutError && e.procedure === Procedure.CONNECT_LIST_ALL_DOMAINS);
      assert.ok(Date.now() - t0 >= 290);
      const ac = new AbortController();
      const aborted = c.listAllDomains(0, { signal: ac.signal });
      ac.abort();
      await assert.rejects(aborted, AbortedError);
      relay.stall = false;
      assert.equal((await c.listAllDomains()).length, 1);
      assert.equal(c.callCount(Procedure.AUTH_LIST), 1, 'no reconnection was needed');
    } finally {
      relay.stall = false;
      await c.close();
    }
  });

  test('a connection cut mid-call fails that call; the next call reconnects', async () => {
    const c = new LibvirtClient({ socketPath: relay.path, uri: 'test:///default', backoffBaseMs: 20, backoffMaxMs: 50 });
    try {
      await c.listAllDomains();
      relay.cutOnNextCall = true;
      await assert.rejects(c.getAllDomainStats(StatsGroup.STATE), LibvirtConnectionError);
      assert.equal(c.connected, false);
      assert.equal((await c.getAllDomainStats(StatsGroup.STATE)).length, 1);
      assert.equal(c.callCount(Procedure.CONNECT_OPEN), 2);
    } finally {
      await c.close();
    }
  });

  test('a daemon that is away fails calls after bounded retries; the client reconnects when it is back', async () => {
    const c = new LibvirtClient({ socketPath: relay.path, uri: 'test:///default', connectAttempts: 3, backoffBaseMs: 20, backoffMaxMs: 40 });
    try {
      await c.listAllDomains();
      await relay.stop();
      const t0 = Date.now();
      await assert.rejects(c.listAllDomains(), (e: unknown) => e instanceof LibvirtConnectionError);
      assert.ok(Date.now() - t0 < 1000, 'three tries with backoff bounded by 40 ms');
      await relay.start();
      assert.equal((await c.listAllDomains()).length, 1);
      assert.equal(c.callCount(Procedure.CONNECT_OPEN), 2);
    } finally {
      await c.close();
    }
  });

  test('keepalive: pings an idle connection, and drops one that stops answering', async () => {
    const c = new LibvirtClient({ socketPath: relay.path, uri: 'test:///default', keepaliveIntervalMs: 100, keepaliveCount: 3 });
    try {
      await c.listAllDomains();
      relay.keepalive.clear();
      await new Promise((r) => setTimeout(r, 450));
      assert.ok((relay.keepalive.get('c1') ?? 0) >= 1, 'the client pinged');
      assert.ok((relay.keepalive.get('d2') ?? 0) >= 1, 'the daemon answered with a pong');
      assert.equal(c.connected, true);
      relay.stall = true;
      const pending = c.listAllDomains(0, { timeoutMs: 10_000 });
      await assert.rejects(pending, (e: unknown) => e instanceof LibvirtConnectionError && /keepalive/.test(e.message));
      assert.equal(c.connected, false);
    } finally {
      relay.stall = false;
      await c.close();
    }
  });

  test('close() leaves no socket and no timer behind', async () => {
    const count = (): Map<string, number> => {
      const m = new Map<string, number>();
      for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
      return m;
    };
    const base = count();
    const p = await libvirtPollster.create({ uri: 'test:///default', socket: LIBVIRT_SOCKET }, env) as LibvirtPollster;
    await cycle(p);
    assert.ok((count().get('PipeWrap') ?? 0) > (base.get('PipeWrap') ?? 0));
    await p.close();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(count(), base);
    await assert.rejects(p.client.listAllDomains(), LibvirtConnectionError);
  });

  test('the real daemon stopped and started again: calls fail meanwhile, then the client reconnects', {
    skip: process.env.LIBVIRT_SERVER_SCRIPT ? false : 'LIBVIRT_SERVER_SCRIPT is unset: scripts/agent-libvirt-test sets it',
  }, async () => {
    const script = process.env.LIBVIRT_SERVER_SCRIPT as string;
    const c = new LibvirtClient({ socketPath: LIBVIRT_SOCKET, uri: 'test:///default', connectAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 100 });
    try {
      await c.listAllDomains();
      await run(script, ['stop']);
      await assert.rejects(c.listAllDomains(), LibvirtConnectionError);
      await run(script, ['start']);
      assert.equal((await c.listAllDomains()).length, 1);
      assert.equal(c.callCount(Procedure.CONNECT_OPEN), 2);
    } finally {
      await c.close();
    }
  });
});
