import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainXmlError, parseDomainXml } from './domain-xml.js';

const nova = (ns: string, p: string, name = 'web &amp; db'): string => {
  const q = p === '' ? '' : `${p}:`;
  const decl = p === '' ? `xmlns="${ns}"` : `xmlns:${p}="${ns}"`;
  return `<${q}instance ${decl}>
      <${q}package version="27.1.0"/>
      <${q}name>${name}</${q}name>
      <${q}flavor name="m1.small"><${q}memory>2048</${q}memory><${q}disk>20</${q}disk><${q}swap>0</${q}swap>
        <${q}ephemeral>1</${q}ephemeral><${q}vcpus>2</${q}vcpus></${q}flavor>
      <${q}owner><${q}user uuid="u-1">alice</${q}user><${q}project uuid="p-1">demo</${q}project></${q}owner>
      <${q}root type="image" uuid="img-1"/>
    </${q}instance>`;
};

const domain = (metadata: string, devices = ''): string =>
  `<domain type='kvm' id='3'><name>instance-00000003</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
   <metadata>${metadata}</metadata><os><type arch='x86_64'>hvm</type></os><devices>${devices}</devices></domain>`;

const expected = {
  displayName: 'web & db',
  flavor: { name: 'm1.small', vcpus: 2, memoryMb: 2048, diskGb: 20, ephemeralGb: 1, swapMb: 0 },
  projectId: 'p-1',
  userId: 'u-1',
  imageId: 'img-1',
};

test('Nova metadata is read in both namespaces, whatever the prefix', () => {
  for (const ns of ['http://openstack.org/xmlns/libvirt/nova/1.1', 'http://openstack.org/xmlns/libvirt/nova/1.0']) {
    for (const p of ['nova', 'n', '']) {
      assert.deepEqual(parseDomainXml(domain(nova(ns, p))).nova, expected, `${ns} prefix '${p}'`);
    }
  }
});

test('the newer namespace wins when both are there; other namespaces are not Nova', () => {
  const both = nova('http://openstack.org/xmlns/libvirt/nova/1.0', 'old', 'old one') + nova('http://openstack.org/xmlns/libvirt/nova/1.1', 'nova', 'new one');
  assert.equal(parseDomainXml(domain(both)).nova?.displayName, 'new one');
  assert.equal(parseDomainXml(domain(nova('http://example.com/other', 'nova'))).nova, null);
  assert.equal(parseDomainXml(domain('')).nova, null);
  assert.equal(parseDomainXml('<domain><name>x</name></domain>').nova, null);
});

test('a name made of digits stays a string; missing parts are null', () => {
  const x = domain(`<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1"><nova:name>0123</nova:name></nova:instance>`);
  assert.deepEqual(parseDomainXml(x).nova, { displayName: '0123', flavor: null, projectId: null, userId: null, imageId: null });
});

test('interfaces are indexed by target device, with MAC and filter reference', () => {
  const d = parseDomainXml(domain('', `
    <interface type='bridge'><mac address='fa:16:3e:00:00:01'/><target dev='tap1'/><filterref filter='nova-instance-x-fa163e000001'/></interface>
    <interface type='ethernet'><mac address='fa:16:3e:00:00:02'/><target dev='tap2'/></interface>
    <interface type='network'><mac address='fa:16:3e:00:00:03'/></interface>`));
  assert.deepEqual([...d.interfaces.values()], [
    { dev: 'tap1', mac: 'fa:16:3e:00:00:01', filter: 'nova-instance-x-fa163e000001' },
    { dev: 'tap2', mac: 'fa:16:3e:00:00:02', filter: null },
  ]);
});

test('disks are listed in order with what their source names; a drive without a source has none', () => {
  const d = parseDomainXml(domain(nova('http://openstack.org/xmlns/libvirt/nova/1.1', ''), `
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/nova/instances/x/disk'/><target dev='vda' bus='virtio'/></disk>
    <disk type='block' device='disk'><source dev='/dev/mapper/vol'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='network' device='disk'><source protocol='rbd' name='volumes/volume-1'><host name='ceph' port='6789'/></source><target dev='vdc' bus='virtio'/></disk>
    <disk type='volume' device='disk'><source pool='p' volume='v1'/><target dev='vdd' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
    <disk type='file' device='cdrom'><source/><target dev='sdb' bus='sata'/></disk>
    <disk type='file' device='disk'><source file='/no/target'/></disk>`));
  assert.deepEqual(d.disks, [
    { dev: 'vda', source: '/var/lib/nova/instances/x/disk' },
    { dev: 'vdb', source: '/dev/mapper/vol' },
    { dev: 'vdc', source: 'volumes/volume-1' },
    { dev: 'vdd', source: 'v1' },
    { dev: 'sda', source: null },
    { dev: 'sdb', source: '' },
  ]);
  // Nova's flavor has a <disk> child too: it is not a device and keeps its value.
  assert.equal(d.nova?.flavor?.diskGb, 20);
  const one = parseDomainXml(domain('', `<disk type='file'><source file='/a'/><target dev='vda'/></disk>`));
  assert.deepEqual(one.disks, [{ dev: 'vda', source: '/a' }]);
  assert.deepEqual(parseDomainXml(domain('')).disks, []);
});

test('what is not a domain description is refused with a DomainXmlError', () => {
  assert.throws(() => parseDomainXml('<network><name>x</name></network>'), DomainXmlError);
  assert.throws(() => parseDomainXml(''), DomainXmlError);
});
