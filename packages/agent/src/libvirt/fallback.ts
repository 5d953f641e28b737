// Per-domain statistics for drivers whose bulk statistics call leaves groups out.
//
// CONNECT_GET_ALL_DOMAIN_STATS returns, per domain, only the groups its driver implements
// (libvirt 9's test driver: the state group alone), while the older per-domain procedures
// answer for the same data. For a running domain whose bulk record lacks a group that a
// wanted meter needs, this module plans the per-domain calls that stand in for the group
// and turns their replies into the very fields the bulk call would have returned, so one
// mapping (pollster.ts) serves both and units and meaning cannot drift apart:
//
//   missing group   call (per domain, or per device)          fields it supplies
//   state           DOMAIN_GET_INFO                           state.state
//   cpu-total       DOMAIN_GET_INFO                           cpu.time
//   vcpu            DOMAIN_GET_INFO                           vcpu.current (no per-vCPU time and
//                                                             wait: cpu then comes from cpu.time,
//                                                             as the bulk mapping does then)
//   balloon         DOMAIN_MEMORY_STATS                       balloon.available, .usable,
//                                                             .unused, .rss (KiB)
//   block           DOMAIN_BLOCK_STATS per disk with a source block.N.rd.reqs, .rd.bytes,
//                                                             .wr.reqs, .wr.bytes
//                   DOMAIN_GET_BLOCK_INFO per such disk       block.N.capacity, .allocation,
//                                                             .physical (bytes)
//                   (the domain XML)                          block.count, block.N.name, .path
//   interface       DOMAIN_INTERFACE_STATS per interface      net.N.rx.bytes, .rx.pkts,
//                                                             .rx.errs, .rx.drop, tx likewise
//                   (the domain XML)                          net.count, net.N.name
//
// DOMAIN_GET_INFO's cpuTime is what the bulk call's cpu.time is (the QEMU driver reads both
// from the same cgroup or process counters), and its nrVirtCpu is vcpu.current. Counters a
// driver does not keep come back as -1 from the per-device calls; they are left out, as the
// bulk call leaves them out. Devices are taken from the XML the pollster caches: disks with
// a source element (Ceilometer's rule, and what has a path in the bulk statistics) and
// interfaces with a target device.
//
// Which groups a domain's bulk record lacks is found once per domain (from its first record
// while it runs) and kept, so a driver with full bulk statistics costs one look at each new
// domain's record and nothing per cycle. A call the driver refuses is not asked again: for
// every domain when the driver does not have the procedure at all, for that domain and
// device otherwise; either is logged once.

import type { Logger } from '../pollster.js';
import { ErrorCode, LibvirtError } from './client.js';
import type { LibvirtClient } from './client.js';
import type { DomainDescription } from './domain-xml.js';
import { MemoryStatTag, Procedure, StatsGroup } from './rpc.js';
import type { DomainRef, TypedParam } from './rpc.js';

/** Calls in flight at once on the connection. */
export const FALLBACK_CONCURRENCY = 64;
/**
 * Memory statistics asked for: more than libvirt has tags, since the QEMU driver puts rss
 * after the guest's balloon statistics and a shorter list would cut it off.
 */
const MEMORY_STATS_ASKED = 64;

const NETWORK_METERS = ['incoming', 'outgoing'].flatMap((dir) =>
  ['bytes', 'packets', 'packets.drop', 'packets.error'].map((what) => `network.${dir}.${what}`));

const GROUP_PREFIXES: readonly (readonly [number, string])[] = [
  [StatsGroup.STATE, 'state.'],
  [StatsGroup.CPU_TOTAL, 'cpu.'],
  [StatsGroup.BALLOON, 'balloon.'],
  [StatsGroup.VCPU, 'vcpu.'],
  [StatsGroup.INTERFACE, 'net.'],
  [StatsGroup.BLOCK, 'block.'],
];

/** The groups among `groups` of which a bulk record has at least one field. */
export function groupsPresent(params: readonly TypedParam[], groups: number): number {
  let present = 0;
  for (const p of params) {
    for (const [bit, prefix] of GROUP_PREFIXES) {
      if ((groups & bit) !== 0 && (present & bit) === 0 && p.field.startsWith(prefix)) present |= bit;
    }
    if (present === groups) break;
  }
  return present;
}

/** What is known of one domain's bulk record and its per-domain calls, kept between cycles. */
export class DomainFallback {
  /** Groups whose presence in the bulk record was checked. */
  #checked = 0;
  /** Of those, the groups the bulk record lacked. */
  #missing = 0;
  /** Calls the driver refused for this domain ("info", "memory", "block-stats vda", ...). */
  readonly refused = new Set<string>();

  /** The groups among `asked` this domain's bulk record lacks (checked on first sight). */
  missing(params: readonly TypedParam[], asked: number): number {
    const unchecked = asked & ~this.#checked;
    if (unchecked !== 0) {
      this.#missing |= unchecked & ~groupsPresent(params, unchecked);
      this.#checked |= unchecked;
    }
    return this.#missing & asked;
  }
}

/** One per-domain call of a cycle and where its fields go. */
export interface FallbackCall {
  readonly key: string;
  readonly procedure: number;
  readonly domain: DomainRef;
  readonly state: DomainFallback;
  /** Sends the call; resolves with the bulk-statistics fields of its reply. */
  readonly read: (client: LibvirtClient, signal: AbortSignal) => Promise<TypedParam[]>;
  /** The domain's extra fields, which the reply's are appended to. */
  readonly out: TypedParam[];
}

const ull = (field: string, value: bigint): TypedParam => ({ field, type: 4, value });
const ui = (field: string, value: number): TypedParam => ({ field, type: 2, value });
const int = (field: string, value: number): TypedParam => ({ field, type: 1, value });
const str = (field: string, value: string): TypedParam => ({ field, type: 7, value });

/** Counters of the per-device calls: -1 (not kept by the driver) is left out. */
function counters(entries: readonly (readonly [string, bigint])[]): TypedParam[] {
  return entries.filter(([, v]) => v >= 0n).map(([field, v]) => ull(field, v));
}

const MEMORY_FIELDS = new Map<number, string>([
  [MemoryStatTag.AVAILABLE, 'balloon.available'],
  [MemoryStatTag.USABLE, 'balloon.usable'],
  [MemoryStatTag.UNUSED, 'balloon.unused'],
  [MemoryStatTag.RSS, 'balloon.rss'],
]);

export interface FallbackPlan {
  readonly domain: DomainRef;
  readonly description: DomainDescription;
  /** Groups the bulk record lacks among those asked. */
  readonly missing: number;
  readonly state: DomainFallback;
  readonly wants: (meter: string) => boolean;
  /** Procedures the driver does not have at all. */
  readonly unsupported: ReadonlySet<number>;
}

/**
 * The calls that fill the groups `plan.missing` for the wanted meters; fields known from the
 * XML alone (device counts and names) are put in `out` at once, the calls' fields land there
 * when they reply.
 */
export function planFallback(plan: FallbackPlan, out: TypedParam[], calls: FallbackCall[]): void {
  const { domain, description, missing, state, wants, unsupported } = plan;
  const wantsAny = (...meters: string[]): boolean => meters.some((m) => wants(m));
  const add = (key: string, procedure: number, read: FallbackCall['read']): void => {
    if (state.refused.has(key) || unsupported.has(procedure)) return;
    calls.push({ key, procedure, domain, state, read, out });
  };

  const needState = (missing & StatsGroup.STATE) !== 0;
  const needCpu = (missing & StatsGroup.CPU_TOTAL) !== 0 && wants('cpu');
  const needVcpus = (missing & StatsGroup.VCPU) !== 0 && wants('vcpus');
  if (needState || needCpu || needVcpus) {
    add('info', Procedure.DOMAIN_GET_INFO, async (client, signal) => {
      const info = await client.domainInfo(domain, { signal });
      const f: TypedParam[] = [];
      if (needState) f.push(int('state.state', info.state));
      if (needCpu) f.push(ull('cpu.time', info.cpuTime));
      if (needVcpus) f.push(ui('vcpu.current', info.nrVirtCpu));
      return f;
    });
  }

  if ((missing & StatsGroup.BALLOON) !== 0 && wantsAny('memory.usage', 'memory.resident')) {
    add('memory', Procedure.DOMAIN_MEMORY_STATS, async (client, signal) => {
      const f: TypedParam[] = [];
      for (const s of await client.domainMemoryStats(domain, MEMORY_STATS_ASKED, 0, { signal })) {
        const field = MEMORY_FIELDS.get(s.tag);
        if (field !== undefined) f.push(ull(field, s.value));
      }
      return f;
    });
  }

  if ((missing & StatsGroup.BLOCK) !== 0) {
    const io = wantsAny('disk.device.read.bytes', 'disk.device.read.requests', 'disk.device.write.bytes', 'disk.device.write.requests');
    const sizes = wantsAny('disk.device.capacity', 'disk.device.allocation', 'disk.device.usage');
    if (io || sizes) {
      const disks = description.disks.filter((d) => d.source !== null);
      out.push(ui('block.count', disks.length));
      disks.forEach((d, i) => {
        out.push(str(`block.${i}.name`, d.dev), str(`block.${i}.path`, d.source ?? ''));
        if (io) {
          add(`block-stats ${d.dev}`, Procedure.DOMAIN_BLOCK_STATS, async (client, signal) => {
            const s = await client.domainBlockStats(domain, d.dev, { signal });
            return counters([
              [`block.${i}.rd.reqs`, s.rdReq], [`block.${i}.rd.bytes`, s.rdBytes],
              [`block.${i}.wr.reqs`, s.wrReq], [`block.${i}.wr.bytes`, s.wrBytes],
            ]);
          });
        }
        if (sizes) {
          add(`block-info ${d.dev}`, Procedure.DOMAIN_GET_BLOCK_INFO, async (client, signal) => {
            const b = await client.domainBlockInfo(domain, d.dev, 0, { signal });
            return [ull(`block.${i}.capacity`, b.capacity), ull(`block.${i}.allocation`, b.allocation), ull(`block.${i}.physical`, b.physical)];
          });
        }
      });
    }
  }

  if ((missing & StatsGroup.INTERFACE) !== 0 && wantsAny(...NETWORK_METERS)) {
    const ifaces = [...description.interfaces.values()];
    out.push(ui('net.count', ifaces.length));
    ifaces.forEach((iface, i) => {
      out.push(str(`net.${i}.name`, iface.dev));
      add(`interface ${iface.dev}`, Procedure.DOMAIN_INTERFACE_STATS, async (client, signal) => {
        const s = await client.domainInterfaceStats(domain, iface.dev, { signal });
        return counters([
          [`net.${i}.rx.bytes`, s.rxBytes], [`net.${i}.rx.pkts`, s.rxPackets], [`net.${i}.rx.errs`, s.rxErrs], [`net.${i}.rx.drop`, s.rxDrop],
          [`net.${i}.tx.bytes`, s.txBytes], [`net.${i}.tx.pkts`, s.txPackets], [`net.${i}.tx.errs`, s.txErrs], [`net.${i}.tx.drop`, s.txDrop],
        ]);
      });
    });
  }
}

/**
 * Makes one planned call and appends its fields. A driver error is no failure of the cycle:
 * a domain gone or stopped since the bulk call is simply skipped this time; a procedure the
 * driver lacks is added to `unsupported` (asked no more on this connection's driver), any
 * other refusal to the domain's refused calls; both are logged once. Connection errors,
 * timeouts and aborts are thrown, as for any other call of the cycle.
 */
export async function runFallbackCall(
  call: FallbackCall, client: LibvirtClient, signal: AbortSignal, unsupported: Set<number>, log: Logger,
): Promise<void> {
  if (unsupported.has(call.procedure)) return;
  try {
    call.out.push(...await call.read(client, signal));
  } catch (err) {
    if (!(err instanceof LibvirtError)) throw err;
    const fields = { domain: call.domain.name, uuid: call.domain.uuid, call: call.key, code: err.code, error: err.message };
    if (err.code === ErrorCode.NO_DOMAIN || err.code === ErrorCode.OPERATION_INVALID) {
      log('debug', 'libvirt: domain gone or stopped since the bulk statistics; skipped this cycle', fields);
    } else if (err.code === ErrorCode.NO_SUPPORT) {
      if (!unsupported.has(call.procedure)) {
        unsupported.add(call.procedure);
        log('warn', 'libvirt: the driver does not support this statistics call; not asked again', fields);
      }
    } else {
      call.state.refused.add(call.key);
      log('warn', 'libvirt: statistics call refused for this domain; not asked again for it', fields);
    }
  }
}
