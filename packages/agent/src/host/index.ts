// The host pollster: the machine the agent runs on, read from /proc and /sys, as
// Ceilometer's `hardware.*` meters name and measure it (its SNMP pollsters read the same
// kernel counters through net-snmp). Resources as Ceilometer's Gnocchi publisher shaped
// them: a `host` named by the host name, and `host_disk` / `host_network_interface`
// children with ids `<host>.<device>`. Meters Ceilometer has no name for (CPU time per
// mode, per-interface packets, errors and drops in both directions, disk I/O per device)
// follow the same naming; docs/AGENT.md lists which are Tally's own.
import { readdir, readFile, statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import type { JsonValue } from '@tally/client';
import { compileGlob } from '@tally/timeseries';
import {
  PollsterConfigError, type Discovery, type MeterDefinition, type MeterType, type PollContext, type Pollster,
  type PollsterFactory, type ResourceSnapshot, type ResourceTypeDefinition, type Sample,
} from '../pollster.js';
import {
  CPU_MODES, DISKSTAT_SECTOR_BYTES, USER_HZ, parseDiskstats, parseLoadavg, parseMeminfo, parseMounts, parseNetDev,
  parseNetSnmp, parseProcStat, type CpuTimes,
} from './procfs.js';

const name255 = { type: 'string', required: true, maxLength: 255 } as const;
const optional255 = { type: 'string', required: false, maxLength: 255 } as const;

/** Ceilometer's resource types of hosts (its gnocchi_client resource type definitions). */
export const HOST_RESOURCE_TYPES: readonly ResourceTypeDefinition[] = [
  { name: 'host', attributes: { host_name: name255 } },
  { name: 'host_disk', attributes: { host_name: name255, device_name: optional255 } },
  { name: 'host_network_interface', attributes: { host_name: name255, device_name: optional255 } },
];

const m = (name: string, unit: string, type: MeterType, resourceType: string, description: string): MeterDefinition =>
  ({ name, unit, type, resourceType, description });

export const HOST_METERS: readonly MeterDefinition[] = [
  m('hardware.cpu.load.1min', 'process', 'gauge', 'host', 'load average over 1 minute'),
  m('hardware.cpu.load.5min', 'process', 'gauge', 'host', 'load average over 5 minutes'),
  m('hardware.cpu.load.15min', 'process', 'gauge', 'host', 'load average over 15 minutes'),
  m('hardware.cpu.util', '%', 'gauge', 'host', 'CPU time not idle since the previous poll (since boot at the first)'),
  m('hardware.system_stats.cpu.idle', '%', 'gauge', 'host', 'CPU time idle since the previous poll'),
  ...CPU_MODES.map((mode) => m(`hardware.cpu.time.${mode}`, 'ns', 'cumulative', 'host', `CPU time spent in ${mode} mode, all CPUs (Tally)`)),
  m('hardware.memory.total', 'KB', 'gauge', 'host', 'physical memory'),
  m('hardware.memory.used', 'KB', 'gauge', 'host', 'physical memory not available to new work (MemTotal - MemAvailable)'),
  m('hardware.memory.buffer', 'KB', 'gauge', 'host', 'memory in block device buffers'),
  m('hardware.memory.cached', 'KB', 'gauge', 'host', 'memory in the page cache'),
  m('hardware.memory.swap.total', 'KB', 'gauge', 'host', 'swap space'),
  m('hardware.memory.swap.avail', 'KB', 'gauge', 'host', 'swap space free'),
  m('hardware.system_stats.io.incoming.blocks', 'blocks', 'cumulative', 'host', '512-byte blocks read from disks'),
  m('hardware.system_stats.io.outgoing.blocks', 'blocks', 'cumulative', 'host', '512-byte blocks written to disks'),
  m('hardware.network.ip.incoming.datagrams', 'datagrams', 'cumulative', 'host', 'IP datagrams received'),
  m('hardware.network.ip.outgoing.datagrams', 'datagrams', 'cumulative', 'host', 'IP datagrams sent'),
  m('hardware.disk.size.total', 'KB', 'gauge', 'host_disk', 'size of the file system on the device'),
  m('hardware.disk.size.used', 'KB', 'gauge', 'host_disk', 'space used on the file system (as df counts it)'),
  m('hardware.disk.read.bytes', 'B', 'cumulative', 'host_disk', 'bytes read from the device'),
  m('hardware.disk.write.bytes', 'B', 'cumulative', 'host_disk', 'bytes written to the device'),
  m('hardware.disk.read.requests', 'requests', 'cumulative', 'host_disk', 'reads completed by the device'),
  m('hardware.disk.write.requests', 'requests', 'cumulative', 'host_disk', 'writes completed by the device'),
  m('hardware.network.incoming.bytes', 'B', 'cumulative', 'host_network_interface', 'bytes received'),
  m('hardware.network.outgoing.bytes', 'B', 'cumulative', 'host_network_interface', 'bytes sent'),
  m('hardware.network.incoming.packets', 'packet', 'cumulative', 'host_network_interface', 'packets received (Tally)'),
  m('hardware.network.outgoing.packets', 'packet', 'cumulative', 'host_network_interface', 'packets sent (Tally)'),
  m('hardware.network.incoming.errors', 'packet', 'cumulative', 'host_network_interface', 'receive errors (Tally)'),
  m('hardware.network.outgoing.errors', 'packet', 'cumulative', 'host_network_interface', 'transmit errors'),
  m('hardware.network.incoming.drop', 'packet', 'cumulative', 'host_network_interface', 'received packets dropped (Tally)'),
  m('hardware.network.outgoing.drop', 'packet', 'cumulative', 'host_network_interface', 'packets dropped before sending (Tally)'),
];

const METER_BY_NAME = new Map(HOST_METERS.map((d) => [d.name, d]));

export interface HostOptions {
  hostName: string;
  procDir: string;
  sysDir: string;
  excludeDevices: readonly string[];
  excludeInterfaces: readonly string[];
}

function stringList(options: Readonly<Record<string, JsonValue>>, key: string, dflt: string[]): string[] {
  const v = options[key];
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw new PollsterConfigError(`${key} must be a list of patterns`);
  return v;
}

function str(options: Readonly<Record<string, JsonValue>>, key: string, dflt: string): string {
  const v = options[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || v === '') throw new PollsterConfigError(`${key} must be a non-empty string`);
  return v;
}

export function hostOptions(options: Readonly<Record<string, JsonValue>>): HostOptions {
  const known = ['host_name', 'proc_dir', 'sys_dir', 'exclude_devices', 'exclude_interfaces'];
  for (const k of Object.keys(options)) if (!known.includes(k)) throw new PollsterConfigError(`unknown option ${JSON.stringify(k)} (known: ${known.join(', ')})`);
  return {
    hostName: str(options, 'host_name', hostname()),
    procDir: str(options, 'proc_dir', '/proc'),
    sysDir: str(options, 'sys_dir', '/sys'),
    excludeDevices: stringList(options, 'exclude_devices', ['loop*', 'ram*', 'zram*']),
    excludeInterfaces: stringList(options, 'exclude_interfaces', []),
  };
}

/** What one cycle polls: whole block devices, file systems and interfaces present now. */
export interface HostTarget {
  kind: 'host' | 'disk' | 'filesystem' | 'interface';
  name: string;
  mountPoint?: string;
}

export class HostPollster implements Pollster<HostTarget> {
  readonly name = 'host';
  readonly meters = HOST_METERS;
  readonly resourceTypes = HOST_RESOURCE_TYPES;
  readonly #o: HostOptions;
  readonly #excludeDev: ((s: string) => boolean)[];
  readonly #excludeIf: ((s: string) => boolean)[];
  #lastCpu: CpuTimes | null = null;

  constructor(o: HostOptions) {
    this.#o = o;
    this.#excludeDev = o.excludeDevices.map((p) => { const g = compileGlob(p); return (s: string) => g.test(s); });
    this.#excludeIf = o.excludeInterfaces.map((p) => { const g = compileGlob(p); return (s: string) => g.test(s); });
  }

  #proc(...p: string[]): string {
    return join(this.#o.procDir, ...p);
  }

  async discover(ctx: PollContext): Promise<Discovery<HostTarget>> {
    const read = (p: string): Promise<string> => readFile(p, { encoding: 'utf8', signal: ctx.signal });
    const [blocks, mounts, netdev] = await Promise.all([
      readdir(join(this.#o.sysDir, 'block')),
      read(this.#proc('self', 'mounts')),
      read(this.#proc('net', 'dev')),
    ]);
    const targets: HostTarget[] = [{ kind: 'host', name: this.#o.hostName }];
    for (const b of blocks.sort()) if (!this.#excludeDev.some((x) => x(b))) targets.push({ kind: 'disk', name: b });
    for (const mt of parseMounts(mounts)) {
      const dev = basename(mt.device);
      if (!this.#excludeDev.some((x) => x(dev))) targets.push({ kind: 'filesystem', name: mt.device, mountPoint: mt.mountPoint });
    }
    for (const i of parseNetDev(netdev)) if (!this.#excludeIf.some((x) => x(i.name))) targets.push({ kind: 'interface', name: i.name });
    return { targets };
  }

  async poll(ctx: PollContext, discovery: Discovery<HostTarget>): Promise<Sample[]> {
    const read = (p: string): Promise<string> => readFile(p, { encoding: 'utf8', signal: ctx.signal });
    const host = this.#o.hostName;
    const [stat, loadavg, meminfo, diskstats, netdev, snmp] = await Promise.all([
      read(this.#proc('stat')), read(this.#proc('loadavg')), read(this.#proc('meminfo')),
      read(this.#proc('diskstats')), read(this.#proc('net', 'dev')), read(this.#proc('net', 'snmp')),
    ]);
    const now = BigInt(Date.now()) * 1_000_000n;
    const samples: Sample[] = [];
    const hostRes: ResourceSnapshot = { id: host, type: 'host', attributes: { host_name: host } };
    const child = (type: string, device: string): ResourceSnapshot =>
      ({ id: `${host}.${device.replace(/\//g, '_')}`, type, attributes: { host_name: host, device_name: device } });
    const add = (meter: string, volume: number, resource: ResourceSnapshot): void => {
      if (!ctx.wants(meter) || !Number.isFinite(volume)) return;
      const d = METER_BY_NAME.get(meter) as MeterDefinition;
      samples.push({ meter, unit: d.unit, type: d.type, volume, timestamp: now, resource });
    };

    const load = parseLoadavg(loadavg);
    add('hardware.cpu.load.1min', load.one, hostRes);
    add('hardware.cpu.load.5min', load.five, hostRes);
    add('hardware.cpu.load.15min', load.fifteen, hostRes);

    const cpu = parseProcStat(stat);
    const prev = this.#lastCpu;
    this.#lastCpu = cpu;
    const total = (t: CpuTimes): number => CPU_MODES.reduce((s, k) => s + t[k], 0);
    const dTotal = total(cpu) - (prev ? total(prev) : 0);
    const dIdle = cpu.idle + cpu.iowait - (prev ? prev.idle + prev.iowait : 0);
    if (dTotal > 0) {
      add('hardware.system_stats.cpu.idle', (100 * dIdle) / dTotal, hostRes);
      add('hardware.cpu.util', 100 - (100 * dIdle) / dTotal, hostRes);
    }
    for (const mode of CPU_MODES) add(`hardware.cpu.time.${mode}`, (cpu[mode] * 1e9) / USER_HZ, hostRes);

    const mem = parseMeminfo(meminfo);
    const kb = (k: string): number => mem.get(k) ?? Number.NaN;
    add('hardware.memory.total', kb('MemTotal'), hostRes);
    add('hardware.memory.used', kb('MemTotal') - (mem.get('MemAvailable') ?? kb('MemFree')), hostRes);
    add('hardware.memory.buffer', kb('Buffers'), hostRes);
    add('hardware.memory.cached', kb('Cached'), hostRes);
    add('hardware.memory.swap.total', kb('SwapTotal'), hostRes);
    add('hardware.memory.swap.avail', kb('SwapFree'), hostRes);

    const ip = parseNetSnmp(snmp, 'Ip');
    add('hardware.network.ip.incoming.datagrams', ip.get('InReceives') ?? Number.NaN, hostRes);
    add('hardware.network.ip.outgoing.datagrams', ip.get('OutRequests') ?? Number.NaN, hostRes);

    const disks = new Map(parseDiskstats(diskstats).map((d) => [d.device, d]));
    const wanted = (kind: HostTarget['kind']): HostTarget[] => discovery.targets.filter((t) => t.kind === kind);
    let blocksIn = 0;
    let blocksOut = 0;
    for (const t of wanted('disk')) {
      const d = disks.get(t.name);
      if (!d) continue;
      blocksIn += d.sectorsRead;
      blocksOut += d.sectorsWritten;
      const r = child('host_disk', t.name);
      add('hardware.disk.read.bytes', d.sectorsRead * DISKSTAT_SECTOR_BYTES, r);
      add('hardware.disk.write.bytes', d.sectorsWritten * DISKSTAT_SECTOR_BYTES, r);
      add('hardware.disk.read.requests', d.readsCompleted, r);
      add('hardware.disk.write.requests', d.writesCompleted, r);
    }
    add('hardware.system_stats.io.incoming.blocks', blocksIn, hostRes);
    add('hardware.system_stats.io.outgoing.blocks', blocksOut, hostRes);

    if (ctx.wants('hardware.disk.size.total') || ctx.wants('hardware.disk.size.used')) {
      for (const t of wanted('filesystem')) {
        let s;
        try {
          s = await statfs(t.mountPoint as string);
        } catch (e) {
          ctx.log('debug', 'file system not readable', { mount: t.mountPoint, error: (e as Error).message });
          continue;
        }
        const r = child('host_disk', basename(t.name));
        add('hardware.disk.size.total', (s.blocks * s.bsize) / 1024, r);
        add('hardware.disk.size.used', ((s.blocks - s.bfree) * s.bsize) / 1024, r);
      }
    }

    const ifaces = new Map(parseNetDev(netdev).map((i) => [i.name, i]));
    for (const t of wanted('interface')) {
      const i = ifaces.get(t.name);
      if (!i) continue;
      const r = child('host_network_interface', t.name);
      add('hardware.network.incoming.bytes', i.rxBytes, r);
      add('hardware.network.outgoing.bytes', i.txBytes, r);
      add('hardware.network.incoming.packets', i.rxPackets, r);
      add('hardware.network.outgoing.packets', i.txPackets, r);
      add('hardware.network.incoming.errors', i.rxErrors, r);
      add('hardware.network.outgoing.errors', i.txErrors, r);
      add('hardware.network.incoming.drop', i.rxDrop, r);
      add('hardware.network.outgoing.drop', i.txDrop, r);
    }
    return samples;
  }

  async close(): Promise<void> {}
}

export const hostPollster: PollsterFactory = {
  name: 'host',
  create: (options) => new HostPollster(hostOptions(options)),
};
