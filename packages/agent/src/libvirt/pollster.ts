// The `libvirt` pollster: the domains of one libvirt connection, as Ceilometer's compute
// agent sees them, with Ceilometer's meter names, units, types and resources.
//
// discover lists the domains and reads each one's XML description once (cached by UUID,
// read again when the domain is new, restarted - its id changes - renamed, or when the
// entry is about an hour old, since Nova may rewrite the metadata of a running domain).
// poll makes exactly one CONNECT_GET_ALL_DOMAIN_STATS call for all domains, which libvirt
// lists and reads atomically, and maps its records to samples. Where a driver's records
// lack a group a wanted meter needs (libvirt 9's test driver has the state group only), the
// per-domain calls of fallback.ts fill the same fields for the running domains, concurrently
// on the one connection; with QEMU the bulk records are complete and no such call is made.
// The mapping:
//
//   meter                           from (bulk stats fields)                       unit     type
//   power.state                     state.state (libvirt's virDomainState)         state    gauge
//   cpu                             sum of vcpu.N.time + vcpu.N.wait when every     ns       cumulative
//                                   current vCPU has both, else cpu.time (as
//                                   Ceilometer's libvirt inspector computes it)
//   vcpus                           vcpu.current                                   vcpu     gauge
//   memory.usage                    (balloon.available - balloon.usable, or         MB       gauge
//                                   - balloon.unused) / 1024
//   memory.resident                 balloon.rss / 1024                             MB       gauge
//   disk.device.read.bytes          block.N.rd.bytes                               B        cumulative
//   disk.device.read.requests       block.N.rd.reqs                                request  cumulative
//   disk.device.write.bytes         block.N.wr.bytes                               B        cumulative
//   disk.device.write.requests      block.N.wr.reqs                                request  cumulative
//   disk.device.capacity            max(block.N.capacity, block.N.physical)        B        gauge
//   disk.device.allocation          block.N.allocation                             B        gauge
//   disk.device.usage               block.N.physical                               B        gauge
//   network.incoming.bytes          net.N.rx.bytes                                 B        cumulative
//   network.incoming.packets        net.N.rx.pkts                                  packet   cumulative
//   network.incoming.packets.drop   net.N.rx.drop                                  packet   cumulative
//   network.incoming.packets.error  net.N.rx.errs                                  packet   cumulative
//   network.outgoing.*              net.N.tx.* likewise                            ...
//
// A meter whose fields the driver reports neither way (memory.usage without a balloon
// driver in the guest) yields no sample, as Ceilometer yields none for a missing value. A
// shut-off domain yields power.state only: Ceilometer skips shut-off domains for every
// other meter. Disks without a source (an
// empty CD-ROM drive) have no path in the statistics and no resource, as in Ceilometer.
// Volumes are doubles, as the store keeps them: counters above 2^53 lose their last bits.
//
// Resources, as Ceilometer names them:
//   instance                    id = the domain's UUID
//   instance_disk               id = "<domain UUID>-<target device>", name = the device
//   instance_network_interface  id = the interface's nwfilter reference when it has one,
//                               else "<libvirt domain name>-<domain UUID>-<target device>";
//                               name = the filter reference, else the device
// A domain with Nova metadata is an `instance` with Nova's display name, flavor, image and
// owner (project_id/user_id on all three resource types). flavor_id is the flavor's name:
// Ceilometer asks Nova for the id and falls back to the name, and the agent has no Nova.
// A domain without Nova metadata (Ceilometer's discovery skips those) is polled as a plain
// domain: an `instance` whose display_name is the libvirt domain name, with empty
// flavor_id/flavor_name (both are required by the resource type) and no image, project or
// user; its disks and interfaces are named the same way as above.

import { setMaxListeners } from 'node:events';
import { COMPUTE_RESOURCE_TYPES, INSTANCE, INSTANCE_DISK, INSTANCE_NETWORK_INTERFACE } from '../compute-types.js';
import os from 'node:os';
import { eachLimited } from '@tally/retry';
import type { JsonValue } from '@tally/client';
import {
  PollsterConfigError,
} from '../pollster.js';
import type {
  Discovery, MeterDefinition, MeterType, PollContext, Pollster, PollsterEnvironment, ResourceSnapshot, ResourceTypeDefinition,
  Sample,
} from '../pollster.js';
import { ErrorCode, LibvirtClient, LibvirtError } from './client.js';
import { parseDomainXml } from './domain-xml.js';
import type { DomainDescription } from './domain-xml.js';
import { DomainFallback, FALLBACK_CONCURRENCY, planFallback, runFallbackCall } from './fallback.js';
import type { FallbackCall } from './fallback.js';
import { StatsGroup } from './rpc.js';
import type { DomainRef, DomainStatsRecord, TypedParam } from './rpc.js';

export const DEFAULT_URI = 'qemu:///system';
export const DEFAULT_SOCKET = '/run/libvirt/libvirt-sock';
export const DEFAULT_TIMEOUT_MS = 30_000;
/** How long a domain's XML is trusted (each entry gets a share of jitter so reads spread out). */
const XML_MAX_AGE_MS = 3_600_000;
/** XML descriptions read at once when many domains are new. */
const XML_CONCURRENCY = 8;
const VIR_DOMAIN_SHUTOFF = 5;

export interface LibvirtPollsterOptions {
  readonly uri: string;
  readonly socket: string;
  readonly timeoutMs: number;
  /** The compute host's name, the `host` attribute of instances (default: this machine's). */
  readonly host: string;
}

export function parseLibvirtOptions(options: Readonly<Record<string, JsonValue>>): LibvirtPollsterOptions {
  const known = new Set(['uri', 'socket', 'timeout_ms', 'host']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new PollsterConfigError(`libvirt: unknown option ${JSON.stringify(key)} (known: ${[...known].join(', ')})`);
  }
  const str = (key: string, dflt: string): string => {
    const v = options[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string' || v === '') throw new PollsterConfigError(`libvirt: option ${key} must be a non-empty string`);
    return v;
  };
  const t = options.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > 2_147_483_647) {
    throw new PollsterConfigError('libvirt: option timeout_ms must be a positive number of milliseconds');
  }
  return { uri: str('uri', DEFAULT_URI), socket: str('socket', DEFAULT_SOCKET), timeoutMs: t, host: str('host', os.hostname()) };
}

const DISK = INSTANCE_DISK;
const VNIC = INSTANCE_NETWORK_INTERFACE;

function meter(name: string, unit: string, type: MeterType, resourceType: string, description: string): MeterDefinition {
  return { name, unit, type, resourceType, description };
}

export const LIBVIRT_METERS: readonly MeterDefinition[] = [
  meter('power.state', 'state', 'gauge', INSTANCE, "libvirt's power state of the domain (1 running, 3 paused, 5 shut off, ...)"),
  meter('cpu', 'ns', 'cumulative', INSTANCE, 'CPU time used by the vCPUs'),
  meter('vcpus', 'vcpu', 'gauge', INSTANCE, 'Current number of vCPUs'),
  meter('memory.usage', 'MB', 'gauge', INSTANCE, 'Memory used by the guest, as its balloon driver reports it'),
  meter('memory.resident', 'MB', 'gauge', INSTANCE, 'Resident memory of the domain on the host'),
  meter('disk.device.read.bytes', 'B', 'cumulative', DISK, 'Bytes read'),
  meter('disk.device.read.requests', 'request', 'cumulative', DISK, 'Read requests'),
  meter('disk.device.write.bytes', 'B', 'cumulative', DISK, 'Bytes written'),
  meter('disk.device.write.requests', 'request', 'cumulative', DISK, 'Write requests'),
  meter('disk.device.capacity', 'B', 'gauge', DISK, 'Capacity of the disk'),
  meter('disk.device.allocation', 'B', 'gauge', DISK, 'Space allocated to the disk on the host'),
  meter('disk.device.usage', 'B', 'gauge', DISK, 'Physical size of the disk on the host'),
  meter('network.incoming.bytes', 'B', 'cumulative', VNIC, 'Bytes received'),
  meter('network.incoming.packets', 'packet', 'cumulative', VNIC, 'Packets received'),
  meter('network.incoming.packets.drop', 'packet', 'cumulative', VNIC, 'Received packets dropped'),
  meter('network.incoming.packets.error', 'packet', 'cumulative', VNIC, 'Receive errors'),
  meter('network.outgoing.bytes', 'B', 'cumulative', VNIC, 'Bytes sent'),
  meter('network.outgoing.packets', 'packet', 'cumulative', VNIC, 'Packets sent'),
  meter('network.outgoing.packets.drop', 'packet', 'cumulative', VNIC, 'Sent packets dropped'),
  meter('network.outgoing.packets.error', 'packet', 'cumulative', VNIC, 'Send errors'),
];

/** The attribute schemas of Ceilometer's resource types (as ceilometer-upgrade creates them). */
export const LIBVIRT_RESOURCE_TYPES: readonly ResourceTypeDefinition[] = COMPUTE_RESOURCE_TYPES;

/** A domain found by discover, with what its XML says. */
export interface DomainTarget {
  readonly domain: DomainRef;
  readonly description: DomainDescription;
}

interface CacheEntry {
  readonly id: number;
  readonly name: string;
  readonly description: DomainDescription;
  readonly expires: number;
  /** Kept while the domain runs under the same id, so a refreshed XML does not reset it. */
  readonly fallback: DomainFallback;
}

type StatValue = number | bigint | boolean | string;

function statsMap(params: readonly TypedParam[]): Map<string, StatValue> {
  const m = new Map<string, StatValue>();
  for (const p of params) m.set(p.field, p.value);
  return m;
}

function big(m: Map<string, StatValue>, key: string): bigint | undefined {
  const v = m.get(key);
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  return undefined;
}

function num(m: Map<string, StatValue>, key: string): number | undefined {
  const v = m.get(key);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** CPU time as Ceilometer's libvirt inspector computes it from the same fields. */
export function cpuTime(m: Map<string, StatValue>): bigint | undefined {
  const current = num(m, 'vcpu.current');
  if (current !== undefined) {
    let left = current;
    let sum = 0n;
    const maximum = num(m, 'vcpu.maximum') ?? 0;
    for (let i = 0; i < maximum; i++) {
      const time = big(m, `vcpu.${i}.time`);
      const wait = big(m, `vcpu.${i}.wait`);
      if (time === undefined || wait === undefined) continue;
      sum += time + wait;
      left--;
    }
    // vCPUs can have holes; when some current one reported nothing, the total is used.
    if (left === 0) return sum;
  }
  return big(m, 'cpu.time');
}

/** The bulk-stats groups the wanted meters need. */
function statsGroups(wants: (meter: string) => boolean): number {
  const any = (prefix: string): boolean => LIBVIRT_METERS.some((d) => d.name.startsWith(prefix) && wants(d.name));
  let groups = StatsGroup.STATE;
  if (wants('cpu')) groups |= StatsGroup.CPU_TOTAL | StatsGroup.VCPU;
  if (wants('vcpus')) groups |= StatsGroup.VCPU;
  if (any('memory.')) groups |= StatsGroup.BALLOON;
  if (any('disk.')) groups |= StatsGroup.BLOCK;
  if (any('network.')) groups |= StatsGroup.INTERFACE;
  return groups;
}

const nowNanos = (): bigint => BigInt(Date.now()) * 1_000_000n;
const METER_BY_NAME = new Map(LIBVIRT_METERS.map((d) => [d.name, d] as const));

/**
 * The samples of one domain's bulk-stats record, appended to `out` (see the table at the
 * top of this file).
 */
export function domainSamples(
  t: DomainTarget, params: readonly TypedParam[], at: { host: string; timestamp: bigint; wants: (meter: string) => boolean },
  out: Sample[],
): void {
  const m = statsMap(params);
  const { timestamp } = at;
  const { domain, description } = t;
  const nova = description.nova;
  const owner: Record<string, JsonValue> = {};
  if (nova?.projectId) owner.project_id = nova.projectId;
  if (nova?.userId) owner.user_id = nova.userId;
  const instanceAttrs: Record<string, JsonValue> = {
    ...owner,
    display_name: nova?.displayName ?? domain.name,
    host: at.host,
    flavor_id: nova?.flavor?.name ?? '',
    flavor_name: nova?.flavor?.name ?? '',
  };
  if (nova?.imageId) instanceAttrs.image_ref = nova.imageId;
  const instance: ResourceSnapshot = { id: domain.uuid, type: INSTANCE, attributes: instanceAttrs };
  const add = (name: string, resource: ResourceSnapshot, volume: number | bigint | undefined): void => {
    if (volume === undefined || !at.wants(name)) return;
    const d = METER_BY_NAME.get(name);
    if (d === undefined) throw new Error(`libvirt pollster: undeclared meter ${name}`);
    out.push({ meter: name, unit: d.unit, type: d.type, volume: Number(volume), timestamp, resource });
  };

  const state = num(m, 'state.state');
  add('power.state', instance, state);
  if (state === VIR_DOMAIN_SHUTOFF) return;

  add('cpu', instance, cpuTime(m));
  add('vcpus', instance, num(m, 'vcpu.current'));
  const available = big(m, 'balloon.available');
  const usable = big(m, 'balloon.usable');
  const unused = big(m, 'balloon.unused');
  if (available !== undefined && (usable !== undefined || unused !== undefined)) {
    add('memory.usage', instance, Number(available - (usable ?? unused ?? 0n)) / 1024);
  }
  const rss = big(m, 'balloon.rss');
  if (rss !== undefined) add('memory.resident', instance, Number(rss) / 1024);

  const blocks = num(m, 'block.count') ?? 0;
  for (let i = 0; i < blocks; i++) {
    const dev = m.get(`block.${i}.name`);
    if (typeof dev !== 'string' || typeof m.get(`block.${i}.path`) !== 'string') continue;
    const disk: ResourceSnapshot = {
      id: `${domain.uuid}-${dev}`, type: DISK, attributes: { ...owner, name: dev, instance_id: domain.uuid },
    };
    add('disk.device.read.bytes', disk, big(m, `block.${i}.rd.bytes`));
    add('disk.device.read.requests', disk, big(m, `block.${i}.rd.reqs`));
    add('disk.device.write.bytes', disk, big(m, `block.${i}.wr.bytes`));
    add('disk.device.write.requests', disk, big(m, `block.${i}.wr.reqs`));
    const capacity = big(m, `block.${i}.capacity`);
    const physical = big(m, `block.${i}.physical`);
    // A CD-ROM's capacity is rounded down to 4 KiB by libvirt and can fall below its size.
    add('disk.device.capacity', disk, capacity !== undefined && physical !== undefined && physical > capacity ? physical : capacity ?? physical);
    add('disk.device.allocation', disk, big(m, `block.${i}.allocation`));
    add('disk.device.usage', disk, physical);
  }

  const nets = num(m, 'net.count') ?? 0;
  for (let i = 0; i < nets; i++) {
    const dev = m.get(`net.${i}.name`);
    if (typeof dev !== 'string') continue;
    const filter = description.interfaces.get(dev)?.filter ?? null;
    const vnic: ResourceSnapshot = {
      id: filter ?? `${domain.name}-${domain.uuid}-${dev}`,
      type: VNIC,
      attributes: { ...owner, name: filter ?? dev, instance_id: domain.uuid },
    };
    add('network.incoming.bytes', vnic, big(m, `net.${i}.rx.bytes`));
    add('network.incoming.packets', vnic, big(m, `net.${i}.rx.pkts`));
    add('network.incoming.packets.drop', vnic, big(m, `net.${i}.rx.drop`));
    add('network.incoming.packets.error', vnic, big(m, `net.${i}.rx.errs`));
    add('network.outgoing.bytes', vnic, big(m, `net.${i}.tx.bytes`));
    add('network.outgoing.packets', vnic, big(m, `net.${i}.tx.pkts`));
    add('network.outgoing.packets.drop', vnic, big(m, `net.${i}.tx.drop`));
    add('network.outgoing.packets.error', vnic, big(m, `net.${i}.tx.errs`));
  }
}

export class LibvirtPollster implements Pollster<DomainTarget> {
  readonly name: string;
  readonly meters = LIBVIRT_METERS;
  readonly resourceTypes = LIBVIRT_RESOURCE_TYPES;
  readonly client: LibvirtClient;
  readonly #opts: LibvirtPollsterOptions;
  readonly #cache = new Map<string, CacheEntry>();
  /** Per-domain procedures this connection's driver does not have (see fallback.ts). */
  readonly #unsupported = new Set<number>();

  constructor(name: string, opts: LibvirtPollsterOptions, env: Pick<PollsterEnvironment, 'log'>) {
    this.name = name;
    this.#opts = opts;
    this.client = new LibvirtClient({ socketPath: opts.socket, uri: opts.uri, timeoutMs: opts.timeoutMs, log: env.log });
  }

  /** Domains whose XML description is cached. */
  get cachedDomains(): number {
    return this.#cache.size;
  }

  async discover(ctx: PollContext): Promise<Discovery<DomainTarget>> {
    const domains = await this.client.listAllDomains(0, { signal: ctx.signal });
    const now = Date.now();
    const present = new Set<string>();
    const stale: DomainRef[] = [];
    for (const d of domains) {
      present.add(d.uuid);
      const c = this.#cache.get(d.uuid);
      if (c === undefined || c.id !== d.id || c.name !== d.name || c.expires <= now) stale.push(d);
    }
    for (const uuid of this.#cache.keys()) if (!present.has(uuid)) this.#cache.delete(uuid);
    await eachLimited(stale, XML_CONCURRENCY, async (d) => {
      let xml: string;
      try {
        xml = await this.client.domainXml(d, 0, { signal: ctx.signal });
      } catch (err) {
        // Undefined since it was listed: it is simply not there this cycle.
        if (err instanceof LibvirtError && err.code === ErrorCode.NO_DOMAIN) return;
        throw err;
      }
      let description: DomainDescription;
      try {
        description = parseDomainXml(xml);
      } catch (err) {
        ctx.log('warn', 'libvirt: domain XML unreadable; domain skipped', { domain: d.name, uuid: d.uuid, error: (err as Error).message });
        return;
      }
      const previous = this.#cache.get(d.uuid);
      this.#cache.set(d.uuid, {
        id: d.id, name: d.name, description, expires: now + XML_MAX_AGE_MS * (0.75 + 0.25 * Math.random()),
        fallback: previous !== undefined && previous.id === d.id && d.id !== -1 ? previous.fallback : new DomainFallback(),
      });
    });
    const targets: DomainTarget[] = [];
    for (const d of domains) {
      const c = this.#cache.get(d.uuid);
      if (c !== undefined) targets.push({ domain: d, description: c.description });
    }
    return { targets };
  }

  async poll(ctx: PollContext, discovery: Discovery<DomainTarget>): Promise<Sample[]> {
    const wants = (m: string): boolean => ctx.wants(m);
    const asked = statsGroups(wants);
    const records = await this.client.getAllDomainStats(asked, 0, [], { signal: ctx.signal });
    const timestamp = nowNanos();
    const byUuid = new Map<string, DomainTarget>();
    for (const t of discovery.targets) byUuid.set(t.domain.uuid, t);
    const found: { target: DomainTarget; rec: DomainStatsRecord; extra: TypedParam[] | null }[] = [];
    const calls: FallbackCall[] = [];
    for (const rec of records) {
      const target = byUuid.get(rec.domain.uuid);
      if (target === undefined) continue; // defined since discover: next cycle
      let extra: TypedParam[] | null = null;
      // Shut-off domains have no id; their statistics are not polled (see domainSamples).
      if (rec.domain.id !== -1) {
        const state = this.#cache.get(rec.domain.uuid)?.fallback ?? new DomainFallback();
        const missing = state.missing(rec.params, asked);
        if (missing !== 0 && rec.params.find((p) => p.field === 'state.state')?.value !== VIR_DOMAIN_SHUTOFF) {
          extra = [];
          planFallback({ domain: rec.domain, description: target.description, missing, state, wants, unsupported: this.#unsupported }, extra, calls);
        }
      }
      found.push({ target, rec, extra });
    }
    if (calls.length > 0) await this.#fallback(calls, ctx);
    const samples: Sample[] = [];
    for (const { target, rec, extra } of found) {
      const params = extra === null || extra.length === 0 ? rec.params : [...rec.params, ...extra];
      domainSamples(target, params, { host: this.#opts.host, timestamp, wants }, samples);
    }
    return samples;
  }

  async #fallback(calls: readonly FallbackCall[], ctx: PollContext): Promise<void> {
    // Each call in flight listens to the signal it is given: they get one of their own, so
    // the cycle's signal carries one listener and may carry that many without a warning.
    const phase = new AbortController();
    setMaxListeners(FALLBACK_CONCURRENCY + 1, phase.signal);
    const onAbort = (): void => phase.abort(ctx.signal.reason);
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await eachLimited(calls, FALLBACK_CONCURRENCY, (call) => runFallbackCall(call, this.client, phase.signal, this.#unsupported, ctx.log));
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
    this.#cache.clear();
  }
}
