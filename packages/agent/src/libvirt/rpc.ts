// libvirt's RPC protocol over a stream socket: framing, message header, errors, and the
// payloads of the few remote procedures the agent calls. All of it is XDR (see xdr.ts).
//
// Framing. Each message is
//   length   unsigned int: bytes in the whole message, these 4 included (so >= 28);
//            at most 4 + 32 MiB, libvirt's largest message
//   header   24 bytes:
//              program    unsigned int  which RPC program (the remote driver, keepalive, ...)
//              version    unsigned int  that program's version (1 for both used here)
//              procedure  int           the procedure within the program
//              type       int           0 call (client to server), 1 reply, 2 message (one-way:
//                                       events, keepalive), 3 stream data; 4 and 5 are call and
//                                       reply with file descriptors passed beside the socket
//              serial     unsigned int  chosen by the client per call, echoed by its reply; 0 for
//                                       one-way messages
//              status     int           0 ok, 1 error (replies: the payload is an error, below),
//                                       2 continue (streams)
//   payload  the procedure's arguments (call) or result (reply, status ok), XDR-encoded
//
// Error payload (status 1): code int, domain int (libvirt's error code and the subsystem
// that raised it, as in virterror.h), message optional string, level int, a domain
// optional (name, uuid, id; unused), str1, str2, str3 optional strings, int1 int, int2 int,
// a network optional (name, uuid; unused).
//
// Shared types. A string is string<4 MiB>. A domain reference is { name string, uuid
// opaque[16], id int (-1 when inactive) }. A typed parameter is { field string, value union
// switch (int type): 1 int, 2 unsigned int, 3 hyper, 4 unsigned hyper, 5 double,
// 6 boolean (an int), 7 string } - what the bulk statistics call returns, one list of them per
// domain (at most 4096 per domain, 16384 domains per reply).
//
// Programs. The remote driver is program 0x20008086 version 1; its procedures used here:
//   AUTH_LIST 66                       () -> auth types array<20> of int (0 none, 1 SASL, 2 polkit)
//   CONNECT_OPEN 1                     (uri optional string, flags unsigned) -> ()
//   CONNECT_CLOSE 2                    () -> ()
//   CONNECT_LIST_ALL_DOMAINS 273       (need_results int, flags unsigned) ->
//                                      (domains array<16384>, count unsigned)
//   CONNECT_GET_ALL_DOMAIN_STATS 344   (domains array<16384> - empty means all, stats groups
//                                      unsigned bit set, flags unsigned) ->
//                                      (array<16384> of { domain, params array<4096> })
//   DOMAIN_GET_XML_DESC 14             (domain, flags unsigned) -> (xml string)
// and, for drivers whose bulk statistics lack groups, the older per-domain procedures:
//   DOMAIN_GET_INFO 16                 (domain) -> (state unsigned char, maxMem unsigned hyper
//                                      (KiB), memory unsigned hyper (KiB), nrVirtCpu unsigned
//                                      short, cpuTime unsigned hyper (ns)); XDR widens char
//                                      and short to 4 bytes
//   DOMAIN_BLOCK_STATS 64              (domain, path string: a disk's target or source) ->
//                                      (rd_req, rd_bytes, wr_req, wr_bytes, errs: hyper each,
//                                      -1 when the driver does not know that one)
//   DOMAIN_INTERFACE_STATS 65          (domain, device string: target or MAC) -> (rx_bytes,
//                                      rx_packets, rx_errs, rx_drop, tx_bytes, tx_packets,
//                                      tx_errs, tx_drop: hyper each, -1 when unknown)
//   DOMAIN_MEMORY_STATS 159            (domain, maxStats unsigned (<= 1024), flags unsigned) ->
//                                      (array<1024> of { tag int, val unsigned hyper })
//   DOMAIN_GET_BLOCK_INFO 194          (domain, path string, flags unsigned) -> (allocation,
//                                      capacity, physical: unsigned hyper each, bytes)
// Keepalive is program 0x6b656570 ("keep") version 1: procedure 1 PING and 2 PONG, both
// one-way messages (type 2, serial 0) with no payload. Either side may ping; the other
// answers with a pong, and a side that hears nothing for long enough drops the connection.

import { XdrError, XdrReader, XdrWriter } from './xdr.js';

export const REMOTE_PROGRAM = 0x20008086;
export const REMOTE_VERSION = 1;
export const KEEPALIVE_PROGRAM = 0x6b656570;
export const KEEPALIVE_VERSION = 1;
export const KEEPALIVE_PING = 1;
export const KEEPALIVE_PONG = 2;

export const Procedure = {
  CONNECT_OPEN: 1,
  CONNECT_CLOSE: 2,
  DOMAIN_GET_XML_DESC: 14,
  DOMAIN_GET_INFO: 16,
  DOMAIN_BLOCK_STATS: 64,
  DOMAIN_INTERFACE_STATS: 65,
  AUTH_LIST: 66,
  DOMAIN_MEMORY_STATS: 159,
  DOMAIN_GET_BLOCK_INFO: 194,
  CONNECT_LIST_ALL_DOMAINS: 273,
  CONNECT_GET_ALL_DOMAIN_STATS: 344,
} as const;

export const MessageType = { CALL: 0, REPLY: 1, MESSAGE: 2, STREAM: 3, CALL_WITH_FDS: 4, REPLY_WITH_FDS: 5 } as const;
export const MessageStatus = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

export const AuthType = { NONE: 0, SASL: 1, POLKIT: 2 } as const;

/** Stats groups of CONNECT_GET_ALL_DOMAIN_STATS (virDomainStatsTypes). */
export const StatsGroup = {
  STATE: 1,
  CPU_TOTAL: 2,
  BALLOON: 4,
  VCPU: 8,
  INTERFACE: 16,
  BLOCK: 32,
} as const;

/** Tags of DOMAIN_MEMORY_STATS entries (virDomainMemoryStatTags) the agent reads; values in KiB. */
export const MemoryStatTag = { UNUSED: 4, AVAILABLE: 5, RSS: 7, USABLE: 8 } as const;

/** CONNECT_OPEN flag: a read-only connection. */
export const CONNECT_RO = 1;

export const HEADER_SIZE = 24;
/** The largest message libvirt sends, length word excluded. */
export const MESSAGE_MAX = 32 * 1024 * 1024;
export const STRING_MAX = 4 * 1024 * 1024;
export const DOMAIN_LIST_MAX = 16384;
export const STATS_PARAMS_MAX = 4096;
export const AUTH_TYPE_LIST_MAX = 20;
export const MEMORY_STATS_MAX = 1024;
const UUID_LEN = 16;

export interface Header {
  program: number;
  version: number;
  procedure: number;
  type: number;
  serial: number;
  status: number;
}

export interface Packet {
  header: Header;
  /** The payload: a view into the received bytes. */
  payload: Uint8Array;
}

/** A message whose framing or header is not libvirt's RPC protocol. */
export class RpcProtocolError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RpcProtocolError';
  }
}

/** One message: length word, header, payload. */
export function encodePacket(header: Header, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const total = 4 + HEADER_SIZE + payload.length;
  if (total - 4 > MESSAGE_MAX) throw new RangeError(`message of ${total} bytes exceeds libvirt's limit`);
  const w = new XdrWriter(total);
  w.u32(total).u32(header.program).u32(header.version).i32(header.procedure)
    .i32(header.type).u32(header.serial).i32(header.status);
  const out = new Uint8Array(total);
  out.set(w.bytes(), 0);
  out.set(payload, 4 + HEADER_SIZE);
  return out;
}

/** Header and payload of one whole message (length word included). */
export function decodePacket(message: Uint8Array): Packet {
  if (message.length < 4 + HEADER_SIZE) throw new RpcProtocolError(`message of ${message.length} bytes is shorter than a header`);
  const r = new XdrReader(message, 0, 4 + HEADER_SIZE);
  const length = r.u32();
  if (length !== message.length) throw new RpcProtocolError(`length word ${length} does not match the ${message.length} bytes given`);
  const header: Header = {
    program: r.u32(), version: r.u32(), procedure: r.i32(), type: r.i32(), serial: r.u32(), status: r.i32(),
  };
  return { header, payload: message.subarray(4 + HEADER_SIZE) };
}

/**
 * Cuts a byte stream into messages. Chunks are kept as they came and joined only once a
 * whole message is there, so a large reply arriving in many small reads costs one copy.
 */
export class FrameDecoder {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #expected = -1;

  /** Bytes held that do not yet make a whole message. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Adds received bytes; returns the whole messages they complete, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    for (;;) {
      if (this.#expected < 0) {
        if (this.#buffered < 4) break;
        const head = this.#take(4, false);
        const length = ((head[0] << 24) >>> 0) + (head[1] << 16) + (head[2] << 8) + head[3];
        if (length < 4 + HEADER_SIZE || length - 4 > MESSAGE_MAX) {
          throw new RpcProtocolError(`message length ${length} outside [${4 + HEADER_SIZE}, ${MESSAGE_MAX + 4}]`);
        }
        this.#expected = length;
      }
      if (this.#buffered < this.#expected) break;
      out.push(this.#take(this.#expected, true));
      this.#expected = -1;
    }
    return out;
  }

  /** The first n buffered bytes, removed when `consume`. */
  #take(n: number, consume: boolean): Uint8Array {
    const first = this.#chunks[0];
    let result: Uint8Array;
    if (first.length >= n) {
      result = first.subarray(0, n);
      if (consume) {
        if (first.length === n) this.#chunks.shift();
        else this.#chunks[0] = first.subarray(n);
      }
    } else {
      result = new Uint8Array(n);
      let filled = 0;
      let i = 0;
      while (filled < n) {
        const c = this.#chunks[i];
        const k = Math.min(c.length, n - filled);
        result.set(c.subarray(0, k), filled);
        filled += k;
        if (consume && k === c.length) {
          this.#chunks.shift();
        } else {
          if (consume) this.#chunks[i] = c.subarray(k);
          i++;
        }
      }
    }
    if (consume) this.#buffered -= n;
    return result;
  }
}

/** Decodes a payload completely; anything malformed or left over is an RpcProtocolError. */
export function decodePayload<T>(payload: Uint8Array, read: (r: XdrReader) => T, what: string): T {
  try {
    const r = new XdrReader(payload);
    const v = read(r);
    r.done();
    return v;
  } catch (err) {
    if (err instanceof XdrError) throw new RpcProtocolError(`${what}: ${err.message}`, { cause: err });
    throw err;
  }
}

// ---- shared types ----

export interface DomainRef {
  readonly name: string;
  /** Canonical lower-case form, 8-4-4-4-12. */
  readonly uuid: string;
  /** -1 when the domain is not running. */
  readonly id: number;
}

export function uuidToString(b: Uint8Array): string {
  let hex = '';
  for (let i = 0; i < UUID_LEN; i++) hex += b[i].toString(16).padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidFromString(s: string): Uint8Array {
  const hex = s.replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a UUID: ${s}`);
  return Buffer.from(hex, 'hex');
}

export function readDomain(r: XdrReader): DomainRef {
  const name = r.string(STRING_MAX);
  const uuid = uuidToString(r.fixedOpaque(UUID_LEN));
  const id = r.i32();
  return { name, uuid, id };
}

export function writeDomain(w: XdrWriter, d: DomainRef): void {
  w.string(d.name, STRING_MAX).fixedOpaque(uuidFromString(d.uuid), UUID_LEN).i32(d.id);
}

const readString = (r: XdrReader): string => r.string(STRING_MAX);

// ---- errors ----

export interface RemoteError {
  /** virErrorNumber, e.g. 42 no such domain, 38 system error. */
  readonly code: number;
  /** virErrorDomain: the subsystem that raised it, e.g. 7 remote, 12 test driver. */
  readonly domain: number;
  readonly message: string | null;
  /** 1 warning, 2 error. */
  readonly level: number;
  readonly str1: string | null;
  readonly str2: string | null;
  readonly str3: string | null;
  readonly int1: number;
  readonly int2: number;
}

export function readRemoteError(r: XdrReader): RemoteError {
  const code = r.i32();
  const domain = r.i32();
  const message = r.optional(readString);
  const level = r.i32();
  r.optional(readDomain);
  const str1 = r.optional(readString);
  const str2 = r.optional(readString);
  const str3 = r.optional(readString);
  const int1 = r.i32();
  const int2 = r.i32();
  r.optional((rr) => {
    rr.string(STRING_MAX);
    rr.fixedOpaque(UUID_LEN);
  });
  return { code, domain, message, level, str1, str2, str3, int1, int2 };
}

export function writeRemoteError(w: XdrWriter, e: RemoteError): void {
  const str = (ww: XdrWriter, s: string): void => void ww.string(s, STRING_MAX);
  w.i32(e.code).i32(e.domain).optional(e.message, str).i32(e.level).bool(false)
    .optional(e.str1, str).optional(e.str2, str).optional(e.str3, str).i32(e.int1).i32(e.int2).bool(false);
}

// ---- typed parameters ----

export const TypedParamType = { INT: 1, UINT: 2, LLONG: 3, ULLONG: 4, DOUBLE: 5, BOOLEAN: 6, STRING: 7 } as const;

export type TypedParam =
  | { readonly field: string; readonly type: 1 | 2 | 5; readonly value: number }
  | { readonly field: string; readonly type: 3 | 4; readonly value: bigint }
  | { readonly field: string; readonly type: 6; readonly value: boolean }
  | { readonly field: string; readonly type: 7; readonly value: string };

export function readTypedParam(r: XdrReader): TypedParam {
  const field = r.string(STRING_MAX);
  const type = r.i32();
  switch (type) {
    case 1: return { field, type, value: r.i32() };
    case 2: return { field, type, value: r.u32() };
    case 3: return { field, type, value: r.i64() };
    case 4: return { field, type, value: r.u64() };
    case 5: return { field, type, value: r.f64() };
    case 6: return { field, type, value: r.i32() !== 0 };
    case 7: return { field, type, value: r.string(STRING_MAX) };
    default: throw new XdrError('invalid', `typed parameter ${JSON.stringify(field)}: unknown type ${type}`);
  }
}

export function writeTypedParam(w: XdrWriter, p: TypedParam): void {
  w.string(p.field, STRING_MAX).i32(p.type);
  switch (p.type) {
    case 1: w.i32(p.value); break;
    case 2: w.u32(p.value); break;
    case 3: w.i64(p.value); break;
    case 4: w.u64(p.value); break;
    case 5: w.f64(p.value); break;
    case 6: w.i32(p.value ? 1 : 0); break;
    case 7: w.string(p.value, STRING_MAX); break;
  }
}

// ---- procedure payloads ----

export function readAuthListRet(r: XdrReader): number[] {
  return r.array(AUTH_TYPE_LIST_MAX, (rr) => rr.i32());
}

export function writeConnectOpenArgs(w: XdrWriter, uri: string | null, flags: number): void {
  w.optional(uri, (ww, s) => void ww.string(s, STRING_MAX)).u32(flags);
}

export function writeListAllDomainsArgs(w: XdrWriter, flags: number): void {
  w.i32(1).u32(flags);
}

export function readListAllDomainsRet(r: XdrReader): DomainRef[] {
  const domains = r.array(DOMAIN_LIST_MAX, readDomain);
  r.u32();
  return domains;
}

export function writeGetAllDomainStatsArgs(w: XdrWriter, domains: readonly DomainRef[], stats: number, flags: number): void {
  w.array(domains, DOMAIN_LIST_MAX, writeDomain).u32(stats).u32(flags);
}

export interface DomainStatsRecord {
  readonly domain: DomainRef;
  readonly params: readonly TypedParam[];
}

export function readDomainStatsRecord(r: XdrReader): DomainStatsRecord {
  const domain = readDomain(r);
  const params = r.array(STATS_PARAMS_MAX, readTypedParam);
  return { domain, params };
}

export function writeDomainStatsRecord(w: XdrWriter, rec: DomainStatsRecord): void {
  writeDomain(w, rec.domain);
  w.array(rec.params, STATS_PARAMS_MAX, writeTypedParam);
}

export function readGetAllDomainStatsRet(r: XdrReader): DomainStatsRecord[] {
  return r.array(DOMAIN_LIST_MAX, readDomainStatsRecord);
}

export function writeGetXmlDescArgs(w: XdrWriter, domain: DomainRef, flags: number): void {
  writeDomain(w, domain);
  w.u32(flags);
}

export function readGetXmlDescRet(r: XdrReader): string {
  return r.string(STRING_MAX);
}

export interface DomainInfo {
  /** virDomainState, as state.state of the bulk statistics. */
  readonly state: number;
  readonly maxMemKiB: bigint;
  readonly memoryKiB: bigint;
  /** Current vCPUs, as vcpu.current. */
  readonly nrVirtCpu: number;
  /** CPU time of the domain in ns, as cpu.time. */
  readonly cpuTime: bigint;
}

export function readDomainInfoRet(r: XdrReader): DomainInfo {
  const state = r.u32();
  const maxMemKiB = r.u64();
  const memoryKiB = r.u64();
  const nrVirtCpu = r.u32();
  const cpuTime = r.u64();
  if (state > 0xff || nrVirtCpu > 0xffff) throw new XdrError('invalid', `domain info: state ${state} or vCPUs ${nrVirtCpu} out of range`);
  return { state, maxMemKiB, memoryKiB, nrVirtCpu, cpuTime };
}

export function writeDomainInfoRet(w: XdrWriter, i: DomainInfo): void {
  w.u32(i.state).u64(i.maxMemKiB).u64(i.memoryKiB).u32(i.nrVirtCpu).u64(i.cpuTime);
}

/** DOMAIN_BLOCK_STATS and DOMAIN_INTERFACE_STATS: a domain and a device. */
export function writeDomainDeviceArgs(w: XdrWriter, domain: DomainRef, device: string): void {
  writeDomain(w, domain);
  w.string(device, STRING_MAX);
}

/** Counters of a disk; -1 where the driver has none. */
export interface BlockStats {
  readonly rdReq: bigint;
  readonly rdBytes: bigint;
  readonly wrReq: bigint;
  readonly wrBytes: bigint;
  readonly errs: bigint;
}

export function readBlockStatsRet(r: XdrReader): BlockStats {
  return { rdReq: r.i64(), rdBytes: r.i64(), wrReq: r.i64(), wrBytes: r.i64(), errs: r.i64() };
}

export function writeBlockStatsRet(w: XdrWriter, s: BlockStats): void {
  w.i64(s.rdReq).i64(s.rdBytes).i64(s.wrReq).i64(s.wrBytes).i64(s.errs);
}

/** Counters of a network interface; -1 where the driver has none. */
export interface InterfaceStats {
  readonly rxBytes: bigint;
  readonly rxPackets: bigint;
  readonly rxErrs: bigint;
  readonly rxDrop: bigint;
  readonly txBytes: bigint;
  readonly txPackets: bigint;
  readonly txErrs: bigint;
  readonly txDrop: bigint;
}

export function readInterfaceStatsRet(r: XdrReader): InterfaceStats {
  return {
    rxBytes: r.i64(), rxPackets: r.i64(), rxErrs: r.i64(), rxDrop: r.i64(),
    txBytes: r.i64(), txPackets: r.i64(), txErrs: r.i64(), txDrop: r.i64(),
  };
}

export function writeInterfaceStatsRet(w: XdrWriter, s: InterfaceStats): void {
  w.i64(s.rxBytes).i64(s.rxPackets).i64(s.rxErrs).i64(s.rxDrop).i64(s.txBytes).i64(s.txPackets).i64(s.txErrs).i64(s.txDrop);
}

export function writeMemoryStatsArgs(w: XdrWriter, domain: DomainRef, maxStats: number, flags: number): void {
  if (maxStats > MEMORY_STATS_MAX) throw new RangeError(`maxStats ${maxStats} exceeds ${MEMORY_STATS_MAX}`);
  writeDomain(w, domain);
  w.u32(maxStats).u32(flags);
}

export interface MemoryStat {
  /** virDomainMemoryStatTags (MemoryStatTag). */
  readonly tag: number;
  readonly value: bigint;
}

export function readMemoryStatsRet(r: XdrReader): MemoryStat[] {
  return r.array(MEMORY_STATS_MAX, (rr) => ({ tag: rr.i32(), value: rr.u64() }));
}

export function writeMemoryStatsRet(w: XdrWriter, stats: readonly MemoryStat[]): void {
  w.array(stats, MEMORY_STATS_MAX, (ww, s) => void ww.i32(s.tag).u64(s.value));
}

export function writeBlockInfoArgs(w: XdrWriter, domain: DomainRef, path: string, flags: number): void {
  writeDomain(w, domain);
  w.string(path, STRING_MAX).u32(flags);
}

/** Sizes of a disk in bytes. */
export interface BlockInfo {
  readonly allocation: bigint;
  readonly capacity: bigint;
  readonly physical: bigint;
}

export function readBlockInfoRet(r: XdrReader): BlockInfo {
  return { allocation: r.u64(), capacity: r.u64(), physical: r.u64() };
}

export function writeBlockInfoRet(w: XdrWriter, b: BlockInfo): void {
  w.u64(b.allocation).u64(b.capacity).u64(b.physical);
}
