// The host pollster against this machine's real files, each value checked against what
// another program reads by its own route (os.loadavg, free, df, ip, nstat, /sys/block),
// read just before and just after the poll: counters must fall between the two readings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname, loadavg } from 'node:os';
import type { Sample } from '../pollster.js';
import { HostPollster, hostOptions, HOST_METERS } from './index.js';
import { parseMeminfo, USER_HZ } from './procfs.js';

const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });

interface Link { ifname: string; stats64: { rx: Record<string, number>; tx: Record<string, number> } }
const links = (): Map<string, Link> => new Map((JSON.parse(run('ip', ['-s', '-j', 'link'])) as Link[]).map((l) => [l.ifname, l]));
const nstat = (): Map<string, number> => new Map(run('nstat', ['-az', 'IpInReceives', 'IpOutRequests']).split('\n')
  .map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 2 && /^\d+$/.test(f[1])).map((f) => [f[0], Number(f[1])]));
/** /sys/block/DEV/stat: the same counters as /proc/diskstats, from another file. */
const sysStat = (dev: string): number[] => readFileSync(`/sys/block/${dev}/stat`, 'utf8').trim().split(/\s+/).map(Number);

async function pollOnce(p: HostPollster): Promise<Sample[]> {
  const ctx = { signal: new AbortController().signal, log: () => undefined, wants: () => true };
  return p.poll(ctx, await p.discover(ctx));
}

function between(name: string, v: number, lo: number, hi: number): void {
  assert.ok(v >= lo && v <= hi, `${name}: ${v} not within [${lo}, ${hi}]`);
}

test('host meters match what other programs read on this machine', async () => {
  const p = new HostPollster(hostOptions({ exclude_devices: ['loop*', 'ram*'] }));
  const host = hostname();
  const before = { links: links(), ip: nstat(), disks: new Map<string, number[]>() };
  const blockDevs = readFileSync('/proc/diskstats', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[2]).filter(Boolean);
  const whole = execFileSync('ls', ['/sys/block'], { encoding: 'utf8' }).trim().split('\n').filter((d) => !/^(loop|ram)/.test(d) && blockDevs.includes(d));
  for (const d of whole) before.disks.set(d, sysStat(d));
  const load = loadavg();
  const samples = await pollOnce(p);
  const after = { links: links(), ip: nstat(), disks: new Map(whole.map((d) => [d, sysStat(d)])) };
  const load2 = loadavg();

  const get = (meter: string, resource = host): Sample => {
    const s = samples.find((x) => x.meter === meter && x.resource.id === resource);
    assert.ok(s, `${meter} of ${resource}`);
    return s;
  };
  // Units and types as declared, on the resource types declared.
  for (const s of samples) {
    const d = HOST_METERS.find((m) => m.name === s.meter);
    assert.ok(d, s.meter);
    assert.equal(s.unit, d.unit);
    assert.equal(s.type, d.type);
    assert.equal(s.resource.type, d.resourceType);
  }
  assert.deepEqual(get('hardware.cpu.load.1min').resource, { id: host, type: 'host', attributes: { host_name: host } });

  // Load: /proc/loadavg has two decimals; os.loadavg reads sysinfo(2).
  between('load 1', get('hardware.cpu.load.1min').volume, Math.min(load[0], load2[0]) - 0.006, Math.max(load[0], load2[0]) + 0.006);
  between('load 15', get('hardware.cpu.load.15min').volume, Math.min(load[2], load2[2]) - 0.006, Math.max(load[2], load2[2]) + 0.006);

  // Memory and swap, as free(1) prints them in KiB.
  const free = run('free', ['-k']).split('\n');
  const mem = free.find((l) => l.startsWith('Mem:'))?.split(/\s+/).map(Number) as number[];
  const swap = free.find((l) => l.startsWith('Swap:'))?.split(/\s+/).map(Number) as number[];
  assert.equal(get('hardware.memory.total').volume, mem[1]);
  between('memory used (total - available)', get('hardware.memory.used').volume, mem[1] - mem[6] - 20_000, mem[1] - mem[6] + 20_000);
  assert.equal(get('hardware.memory.swap.total').volume, swap[1]);
  between('swap free', get('hardware.memory.swap.avail').volume, swap[3] - 1024, swap[3] + 1024);

  // File systems, as df(1) counts them.
  const df = run('df', ['-k', '--output=source,size,used']).trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  let filesystems = 0;
  for (const [source, size, used] of df) {
    if (!source.startsWith('/dev/')) continue;
    const id = `${host}.${source.split('/').pop()}`;
    const total = samples.find((x) => x.meter === 'hardware.disk.size.total' && x.resource.id === id);
    if (!total) continue;
    filesystems++;
    assert.equal(Math.round(total.volume), Number(size), `${source} size`);
    between(`${source} used`, get('hardware.disk.size.used', id).volume, Number(used) - 50_000, Number(used) + 50_000);
  }
  assert.ok(filesystems > 0, 'at least one file system on a block device');

  // Interfaces: ip(8) reads netlink; /proc/net/dev is the pollster's source.
  for (const [name, b] of before.links) {
    const a = after.links.get(name) as Link;
    const id = `${host}.${name}`;
    assert.deepEqual(get('hardware.network.incoming.bytes', id).resource.attributes, { host_name: host, device_name: name });
    between(`${name} rx bytes`, get('hardware.network.incoming.bytes', id).volume, b.stats64.rx.bytes, a.stats64.rx.bytes);
    between(`${name} tx bytes`, get('hardware.network.outgoing.bytes', id).volume, b.stats64.tx.bytes, a.stats64.tx.bytes);
    between(`${name} rx packets`, get('hardware.network.incoming.packets', id).volume, b.stats64.rx.packets, a.stats64.rx.packets);
    between(`${name} tx packets`, get('hardware.network.outgoing.packets', id).volume, b.stats64.tx.packets, a.stats64.tx.packets);
    between(`${name} rx errors`, get('hardware.network.incoming.errors', id).volume, b.stats64.rx.errors, a.stats64.rx.errors);
    between(`${name} tx drops`, get('hardware.network.outgoing.drop', id).volume, b.stats64.tx.dropped, a.stats64.tx.dropped);
  }
  between('ip in', get('hardware.network.ip.incoming.datagrams').volume, before.ip.get('IpInReceives') as number, after.ip.get('IpInReceives') as number);
  between('ip out', get('hardware.network.ip.outgoing.datagrams').volume, before.ip.get('IpOutRequests') as number, after.ip.get('IpOutRequests') as number);

  // Block devices: /sys/block/DEV/stat (reads completed, ..., sectors read at 2, writes at 4, sectors written at 6).
  let blocksIn = 0;
  for (const d of whole) {
    const [b, a] = [before.disks.get(d) as number[], after.disks.get(d) as number[]];
    const id = `${host}.${d}`;
    between(`${d} read bytes`, get('hardware.disk.read.bytes', id).volume, b[2] * 512, a[2] * 512);
    between(`${d} write bytes`, get('hardware.disk.write.bytes', id).volume, b[6] * 512, a[6] * 512);
    between(`${d} reads`, get('hardware.disk.read.requests', id).volume, b[0], a[0]);
    between(`${d} writes`, get('hardware.disk.write.requests', id).volume, b[4], a[4]);
    blocksIn += get('hardware.disk.read.bytes', id).volume / 512;
  }
  assert.equal(get('hardware.system_stats.io.incoming.blocks').volume, blocksIn);

  // CPU: USER_HZ as getconf reports it; time per mode grows, utilisation is a percentage.
  assert.equal(Number(run('getconf', ['CLK_TCK']).trim()), USER_HZ);
  const idle = get('hardware.system_stats.cpu.idle').volume;
  between('cpu idle %', idle, 0, 100);
  assert.ok(Math.abs(get('hardware.cpu.util').volume + idle - 100) < 1e-9);
  const user1 = get('hardware.cpu.time.user').volume;
  await new Promise((r) => setTimeout(r, 50));
  let spin = 0;
  const until = Date.now() + 100;
  while (Date.now() < until) spin++;
  assert.ok(spin > 0);
  const again = await pollOnce(p);
  const user2 = (again.find((s) => s.meter === 'hardware.cpu.time.user') as Sample).volume;
  assert.ok(user2 > user1, 'CPU time in user mode grew while this process spun');
  const util = (again.find((s) => s.meter === 'hardware.cpu.util') as Sample).volume;
  assert.ok(util > 10, `utilisation since the previous poll reflects the spin (${util} %)`);
  // MemTotal through another parser of the same file, as a check of the kB reading.
  assert.equal(get('hardware.memory.total').volume, parseMeminfo(readFileSync('/proc/meminfo', 'utf8')).get('MemTotal'));
});

test('meter patterns the source gives are honoured by the pollster', async () => {
  const p = new HostPollster(hostOptions({ exclude_interfaces: ['lo'] }));
  const ctx = { signal: new AbortController().signal, log: () => undefined, wants: (m: string) => m.startsWith('hardware.network.') };
  const samples = await p.poll(ctx, await p.discover(ctx));
  assert.ok(samples.length > 0);
  assert.ok(samples.every((s) => s.meter.startsWith('hardware.network.')));
  assert.ok(!samples.some((s) => s.resource.id.endsWith('.lo')));
  assert.throws(() => hostOptions({ proc: '/x' }), /unknown option "proc"/);
});
