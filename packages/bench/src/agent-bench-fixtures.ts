// The libvirt node the agent benchmark polls: a node XML of libvirt's test driver
// (`test:///path/node.xml`, or `test+unix:///path/node.xml?socket=...` through a daemon)
// holding N running domains shaped as Nova defines them, so that both agents discover and
// poll the same thing: Nova's metadata (name, flavor, owner project and user, image) in the
// namespace Ceilometer's `libvirt_metadata` discovery reads, one file-backed disk and one
// bridged tap interface per domain (what Ceilometer's per-device disk and network
// pollsters look for: a disk target with a source, an interface with a target and a MAC).
//
// Everything is derived from the domain's index and a seed, so two runs of the same size
// name the same resources.
import { createHash } from 'node:crypto';

export interface NodeOptions {
  domains: number;
  /** Distinct owner projects the domains are spread over (10). */
  projects?: number;
  /** Distinct users (20). */
  users?: number;
  seed?: number;
}

export interface Flavor {
  name: string;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/** A few flavors, as an OpenStack cloud names them. */
export const FLAVORS: readonly Flavor[] = [
  { name: 'm1.tiny', vcpus: 1, memoryMiB: 512, diskGiB: 1 },
  { name: 'm1.small', vcpus: 1, memoryMiB: 2048, diskGiB: 20 },
  { name: 'm1.medium', vcpus: 2, memoryMiB: 4096, diskGiB: 40 },
  { name: 'm1.large', vcpus: 4, memoryMiB: 8192, diskGiB: 80 },
];

/** What the node holds about one domain: the ids and names the published resources carry. */
export interface FixtureDomain {
  uuid: string;
  /** libvirt's domain name (Nova's `instance-%08x`). */
  name: string;
  /** Nova's display name. */
  displayName: string;
  projectId: string;
  userId: string;
  imageId: string;
  flavor: Flavor;
  disk: string;
  tap: string;
  mac: string;
}

/** A version 4 UUID, derived from a label. */
function uuidOf(label: string): string {
  const h = createHash('sha256').update(label).digest();
  h[6] = (h[6] & 0x0f) | 0x40;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export function fixtureDomains(o: NodeOptions): FixtureDomain[] {
  const seed = o.seed ?? 1;
  const projects = o.projects ?? 10;
  const users = o.users ?? 20;
  return Array.from({ length: o.domains }, (_, i) => {
    const uuid = uuidOf(`${seed}/domain/${i}`);
    const port = uuidOf(`${seed}/port/${i}`);
    const m = createHash('sha256').update(`${seed}/mac/${i}`).digest();
    return {
      uuid,
      name: `instance-${(i + 1).toString(16).padStart(8, '0')}`,
      displayName: `bench-vm-${i}`,
      projectId: uuidOf(`${seed}/project/${i % projects}`).replaceAll('-', ''),
      userId: uuidOf(`${seed}/user/${i % users}`).replaceAll('-', ''),
      imageId: uuidOf(`${seed}/image/${i % 3}`),
      flavor: FLAVORS[i % FLAVORS.length],
      disk: 'vda',
      // Nova names the tap after the port's id: "tap" and its first 11 characters.
      tap: `tap${port.slice(0, 11)}`,
      mac: `fa:16:3e:${[m[0], m[1], m[2]].map((b) => b.toString(16).padStart(2, '0')).join(':')}`,
    };
  });
}

function domainXml(d: FixtureDomain): string {
  const f = d.flavor;
  return `  <domain type="test">
    <name>${d.name}</name>
    <uuid>${d.uuid}</uuid>
    <metadata>
      <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
        <nova:package version="26.2.0"/>
        <nova:name>${d.displayName}</nova:name>
        <nova:creationTime>2024-01-01 00:00:00</nova:creationTime>
        <nova:flavor name="${f.name}">
          <nova:memory>${f.memoryMiB}</nova:memory>
          <nova:disk>${f.diskGiB}</nova:disk>
          <nova:swap>0</nova:swap>
          <nova:ephemeral>0</nova:ephemeral>
          <nova:vcpus>${f.vcpus}</nova:vcpus>
        </nova:flavor>
        <nova:owner>
          <nova:user uuid="${d.userId}">bench-user</nova:user>
          <nova:project uuid="${d.projectId}">bench-project</nova:project>
        </nova:owner>
        <nova:root type="image" uuid="${d.imageId}"/>
      </nova:instance>
    </metadata>
    <memory unit="MiB">${f.memoryMiB}</memory>
    <currentMemory unit="MiB">${f.memoryMiB}</currentMemory>
    <vcpu placement="static">${f.vcpus}</vcpu>
    <os>
      <type arch="x86_64">hvm</type>
    </os>
    <devices>
      <disk type="file" device="disk">
        <driver name="qemu" type="qcow2"/>
        <source file="/var/lib/nova/instances/${d.uuid}/disk"/>
        <target dev="${d.disk}" bus="virtio"/>
      </disk>
      <interface type="bridge">
        <mac address="${d.mac}"/>
        <source bridge="br-int"/>
        <target dev="${d.tap}"/>
        <model type="virtio"/>
      </interface>
    </devices>
  </domain>
`;
}

/** The node XML of the test driver with the domains of `fixtureDomains(o)`, all running. */
export function nodeXml(o: NodeOptions): string {
  const domains = fixtureDomains(o);
  return `<node>
  <cpu>
    <mhz>2400</mhz>
    <model>x86_64</model>
    <active>64</active>
    <nodes>1</nodes>
    <sockets>2</sockets>
    <cores>16</cores>
    <threads>2</threads>
  </cpu>
  <memory>${512 * 1024 * 1024}</memory>
${domains.map(domainXml).join('')}</node>
`;
}
