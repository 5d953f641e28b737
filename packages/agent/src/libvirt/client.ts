// A client of libvirt's remote protocol over the daemon's unix socket: the handful of
// read-only procedures the agent needs, with calls matched to replies by serial (so several
// can be in flight), a timeout and an AbortSignal per call, keepalive both ways, typed
// errors, and reconnection with bounded exponential backoff and jitter. No npm binding of
// libvirt exposes the bulk statistics call, and the protocol (rpc.ts) is small.
//
// A connection is made on the first call and again on the first call after it broke; a
// call never silently retries on a new connection (it fails with the error it met), so
// the caller decides what a failed cycle means.

import net from 'node:net';
import { AbortedError, Backoff, retry } from '@tally/retry';
import type { Logger } from '../pollster.js';
import {
  AuthType, CONNECT_RO, FrameDecoder, KEEPALIVE_PING, KEEPALIVE_PONG, KEEPALIVE_PROGRAM, KEEPALIVE_VERSION,
  MessageStatus, MessageType, Procedure, REMOTE_PROGRAM, REMOTE_VERSION, RpcProtocolError,
  decodePacket, decodePayload, encodePacket, readAuthListRet, readBlockInfoRet, readBlockStatsRet, readDomainInfoRet,
  readGetAllDomainStatsRet, readGetXmlDescRet, readInterfaceStatsRet, readListAllDomainsRet, readMemoryStatsRet,
  readRemoteError, writeBlockInfoArgs, writeConnectOpenArgs, writeDomain, writeDomainDeviceArgs, writeGetAllDomainStatsArgs,
  writeGetXmlDescArgs, writeListAllDomainsArgs, writeMemoryStatsArgs,
} from './rpc.js';
import type {
  BlockInfo, BlockStats, DomainInfo, DomainRef, DomainStatsRecord, InterfaceStats, MemoryStat, RemoteError,
} from './rpc.js';
import { XdrWriter } from './xdr.js';
import type { XdrReader } from './xdr.js';

/** An error libvirt reported: its code, the subsystem that raised it, its message. */
export class LibvirtError extends Error {
  readonly code: number;
  readonly domain: number;
  readonly level: number;
  readonly procedure: number;
  readonly remote: RemoteError;
  constructor(procedure: number, remote: RemoteError) {
    super(`libvirt error ${remote.code} (from ${remote.domain}) in procedure ${procedure}: ${remote.message ?? 'no message'}`);
    this.name = 'LibvirtError';
    this.code = remote.code;
    this.domain = remote.domain;
    this.level = remote.level;
    this.procedure = procedure;
    this.remote = remote;
  }
}

/** The socket could not be opened, or broke (closed, reset, keepalive unanswered). */
export class LibvirtConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LibvirtConnectionError';
  }
}

/** A call got no reply within its timeout. */
export class LibvirtTimeoutError extends Error {
  readonly procedure: number;
  readonly timeoutMs: number;
  constructor(procedure: number, timeoutMs: number) {
    super(`libvirt procedure ${procedure} got no reply within ${timeoutMs} ms`);
    this.name = 'LibvirtTimeoutError';
    this.procedure = procedure;
    this.timeoutMs = timeoutMs;
  }
}

/** libvirt's error numbers the agent tells apart (virErrorNumber). */
export const ErrorCode = { NO_SUPPORT: 3, NO_CONNECT: 5, SYSTEM_ERROR: 38, NO_DOMAIN: 42, OPERATION_INVALID: 55 } as const;

export interface LibvirtClientOptions {
  /** The daemon's socket, e.g. /run/libvirt/libvirt-sock. */
  readonly socketPath: string;
  /** The URI the daemon opens, e.g. qemu:///system, test:///default. */
  readonly uri: string;
  /** Per call, connecting included (default 30 s). */
  readonly timeoutMs?: number;
  /** Idle time after which a ping is sent (default 5 s; 0 turns keepalive off). */
  readonly keepaliveIntervalMs?: number;
  /** Intervals without hearing anything after which the connection is dropped (default 5). */
  readonly keepaliveCount?: number;
  /** Connection attempts per call, and their backoff (defaults: 3 tries, 200 ms, 5 s). */
  readonly connectAttempts?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Open the URI read-only (default true: the agent only reads). */
  readonly readOnly?: boolean;
  readonly log?: Logger;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

interface Pending {
  readonly procedure: number;
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
}

/** Settles with `p`, or rejects with the signal's reason as soon as it aborts. */
function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e as Error); },
    );
  });
}

/** One socket to the daemon and the calls in flight on it. */
class Connection {
  readonly #socket: net.Socket;
  readonly #decoder = new FrameDecoder();
  readonly #pending = new Map<number, Pending>();
  readonly #closed: Promise<void>;
  readonly #log: Logger | undefined;
  #serial = 0;
  #lastHeard = Date.now();
  #keepalive: NodeJS.Timeout | null = null;
  #error: Error | null = null;

  private constructor(socket: net.Socket, log: Logger | undefined) {
    this.#socket = socket;
    this.#log = log;
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.destroy(new LibvirtConnectionError(`libvirt socket: ${err.message}`, { cause: err })));
    socket.on('close', () => this.destroy(new LibvirtConnectionError('libvirt closed the connection')));
  }

  static open(path: string, signal: AbortSignal, log: Logger | undefined): Promise<Connection> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const socket = net.createConnection({ path });
      const onAbort = (): void => {
        socket.destroy();
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(new LibvirtConnectionError(`cannot connect to ${path}: ${err.message}`, { cause: err }));
      });
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        resolve(new Connection(socket, log));
      });
    });
  }

  get alive(): boolean {
    return this.#error === null;
  }

  /** Resolves once the socket is closed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  startKeepalive(intervalMs: number, count: number): void {
    if (intervalMs <= 0 || this.#keepalive !== null || !this.alive) return;
    this.#keepalive = setInterval(() => {
      const silent = Date.now() - this.#lastHeard;
      if (silent >= intervalMs * count) {
        this.destroy(new LibvirtConnectionError(`libvirt silent for ${silent} ms (keepalive)`));
      } else if (silent >= intervalMs) {
        this.#sendKeepalive(KEEPALIVE_PING);
      }
    }, intervalMs);
    this.#keepalive.unref();
  }

  call(procedure: number, args: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    if (this.#error !== null) return Promise.reject(this.#error);
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    this.#serial = (this.#serial + 1) >>> 0;
    const serial = this.#serial;
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = (): void => {
        // A reply arriving later finds no one waiting and is dropped.
        this.#pending.delete(serial);
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(serial, {
        procedure,
        resolve: (p) => { signal.removeEventListener('abort', onAbort); resolve(p); },
        reject: (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
      });
      this.#socket.write(encodePacket({
        program: REMOTE_PROGRAM, version: REMOTE_VERSION, procedure, type: MessageType.CALL, serial, status: MessageStatus.OK,
      }, args));
    });
  }

  destroy(err: Error): void {
    if (this.#error !== null) return;
    this.#error = err;
    if (this.#keepalive !== null) clearInterval(this.#keepalive);
    this.#keepalive = null;
    this.#socket.destroy();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }

  #sendKeepalive(procedure: number): void {
    if (this.#error !== null) return;
    this.#socket.write(encodePacket({
      program: KEEPALIVE_PROGRAM, version: KEEPALIVE_VERSION, procedure, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK,
    }));
  }

  #onData(chunk: Buffer): void {
    this.#lastHeard = Date.now();
    let messages: Uint8Array[];
    try {
      messages = this.#decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    for (const m of messages) {
      const { header, payload } = decodePacket(m);
      if (header.program === KEEPALIVE_PROGRAM) {
        if (header.procedure === KEEPALIVE_PING) this.#sendKeepalive(KEEPALIVE_PONG);
        continue;
      }
      if (header.program !== REMOTE_PROGRAM) {
        this.destroy(new RpcProtocolError(`message of unknown program 0x${header.program.toString(16)}`));
        return;
      }
      if (header.type === MessageType.MESSAGE) continue; // events: none are registered
      if (header.type !== MessageType.REPLY) {
        this.destroy(new RpcProtocolError(`unexpected message type ${header.type} from the daemon`));
        return;
      }
      const p = this.#pending.get(header.serial);
      if (p === undefined) {
        this.#log?.('debug', 'libvirt: reply nobody waits for (timed out or aborted)', { serial: header.serial });
        continue;
      }
      this.#pending.delete(header.serial);
      if (header.status === MessageStatus.OK) {
        p.resolve(payload);
      } else if (header.status === MessageStatus.ERROR) {
        try {
          p.reject(new LibvirtError(p.procedure, decodePayload(payload, readRemoteError, 'remote_error')));
        } catch (err) {
          p.reject(err as Error);
        }
      } else {
        p.reject(new RpcProtocolError(`reply with status ${header.status}`));
      }
    }
  }
}

export class LibvirtClient {
  readonly #opts: Required<Omit<LibvirtClientOptions, 'log'>> & { log: Logger | undefined };
  readonly #calls = new Map<number, number>();
  readonly #life = new AbortController();
  #conn: Connection | null = null;
  #connecting: Promise<Connection> | null = null;
  #closing: Promise<void> | null = null;

  constructor(opts: LibvirtClientOptions) {
    this.#opts = {
      socketPath: opts.socketPath,
      uri: opts.uri,
      timeoutMs: opts.timeoutMs ?? 30_000,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 5_000,
      keepaliveCount: opts.keepaliveCount ?? 5,
      connectAttempts: opts.connectAttempts ?? 3,
      backoffBaseMs: opts.backoffBaseMs ?? 200,
      backoffMaxMs: opts.backoffMaxMs ?? 5_000,
      readOnly: opts.readOnly ?? true,
      log: opts.log,
    };
    // Validates the backoff bounds now rather than at the first reconnection.
    new Backoff({ baseMs: this.#opts.backoffBaseMs, maxMs: this.#opts.backoffMaxMs });
  }

  get uri(): string {
    return this.#opts.uri;
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.#conn?.alive ?? false;
  }

  /** Calls sent so far for `procedure`, connection set-up included. */
  callCount(procedure: number): number {
    return this.#calls.get(procedure) ?? 0;
  }

  listAllDomains(flags = 0, opts: CallOptions = {}): Promise<DomainRef[]> {
    return this.#call(Procedure.CONNECT_LIST_ALL_DOMAINS, (w) => writeListAllDomainsArgs(w, flags), readListAllDomainsRet, opts);
  }

  /**
   * Statistics of `domains` (all the connection's domains when empty, listed and read
   * atomically by the daemon) for the `stats` groups (StatsGroup bits). Groups a driver does
   * not support are left out of its records unless `flags` asks to enforce them.
   */
  getAllDomainStats(stats: number, flags = 0, domains: readonly DomainRef[] = [], opts: CallOptions = {}): Promise<DomainStatsRecord[]> {
    return this.#call(Procedure.CONNECT_GET_ALL_DOMAIN_STATS, (w) => writeGetAllDomainStatsArgs(w, domains, stats, flags),
      readGetAllDomainStatsRet, opts);
  }

  domainXml(domain: DomainRef, flags = 0, opts: CallOptions = {}): Promise<string> {
    return this.#call(Procedure.DOMAIN_GET_XML_DESC, (w) => writeGetXmlDescArgs(w, domain, flags), readGetXmlDescRet, opts);
  }

  domainInfo(domain: DomainRef, opts: CallOptions = {}): Promise<DomainInfo> {
    return this.#call(Procedure.DOMAIN_GET_INFO, (w) => writeDomain(w, domain), readDomainInfoRet, opts);
  }

  /** Counters of one disk, named by its target device (e.g. vda) or its source. */
  domainBlockStats(domain: DomainRef, disk: string, opts: CallOptions = {}): Promise<BlockStats> {
    return this.#call(Procedure.DOMAIN_BLOCK_STATS, (w) => writeDomainDeviceArgs(w, domain, disk), readBlockStatsRet, opts);
  }

  /** Sizes of one disk, named by its target device or its source. */
  domainBlockInfo(domain: DomainRef, disk: string, flags = 0, opts: CallOptions = {}): Promise<BlockInfo> {
    return this.#call(Procedure.DOMAIN_GET_BLOCK_INFO, (w) => writeBlockInfoArgs(w, domain, disk, flags), readBlockInfoRet, opts);
  }

  /** Counters of one network interface, named by its target device or its MAC address. */
  domainInterfaceStats(domain: DomainRef, device: string, opts: CallOptions = {}): Promise<InterfaceStats> {
    return this.#call(Procedure.DOMAIN_INTERFACE_STATS, (w) => writeDomainDeviceArgs(w, domain, device), readInterfaceStatsRet, opts);
  }

  /** At most `maxStats` memory statistics of the domain (those its driver and guest have). */
  domainMemoryStats(domain: DomainRef, maxStats: number, flags = 0, opts: CallOptions = {}): Promise<MemoryStat[]> {
    return this.#call(Procedure.DOMAIN_MEMORY_STATS, (w) => writeMemoryStatsArgs(w, domain, maxStats, flags), readMemoryStatsRet, opts);
  }

  /** Closes the libvirt connection (CONNECT_CLOSE) and the socket; no timer is left behind. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#life.abort(new LibvirtConnectionError('client closed'));
    // An establishment in flight fails on the abort above; its socket is destroyed there.
    await this.#connecting?.catch(() => undefined);
    const conn = this.#conn;
    this.#conn = null;
    if (conn === null) return;
    if (conn.alive) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(new LibvirtTimeoutError(Procedure.CONNECT_CLOSE, 2_000)), Math.min(this.#opts.timeoutMs, 2_000));
      this.#count(Procedure.CONNECT_CLOSE);
      await conn.call(Procedure.CONNECT_CLOSE, new Uint8Array(0), ctl.signal).catch(() => undefined);
      clearTimeout(timer);
    }
    conn.destroy(new LibvirtConnectionError('client closed'));
    await conn.closed;
  }

  #count(procedure: number): void {
    this.#calls.set(procedure, (this.#calls.get(procedure) ?? 0) + 1);
  }

  async #call<T>(procedure: number, write: (w: XdrWriter) => void, read: (r: XdrReader) => T, opts: CallOptions): Promise<T> {
    if (this.#closing !== null) throw new LibvirtConnectionError('client closed');
    const timeoutMs = opts.timeoutMs ?? this.#opts.timeoutMs;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new LibvirtTimeoutError(procedure, timeoutMs)), timeoutMs);
    const onAbort = (): void => ctl.abort(new AbortedError());
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const conn = await raceSignal(this.#connection(), ctl.signal);
      const w = new XdrWriter();
      write(w);
      this.#count(procedure);
      const payload = await conn.call(procedure, w.bytes(), ctl.signal);
      return decodePayload(payload, read, `reply to procedure ${procedure}`);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The open connection, or a new one (shared by the calls that wait for it). */
  #connection(): Promise<Connection> {
    if (this.#conn?.alive) return Promise.resolve(this.#conn);
    this.#conn = null;
    this.#connecting ??= this.#establish().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #establish(): Promise<Connection> {
    const o = this.#opts;
    const signal = this.#life.signal;
    const conn = await retry(async () => {
      const c = await Connection.open(o.socketPath, signal, o.log);
      try {
        await this.#handshake(c, signal);
        return c;
      } catch (err) {
        c.destroy(err as Error);
        throw err;
      }
    }, {
      attempts: o.connectAttempts,
      baseMs: o.backoffBaseMs,
      maxMs: o.backoffMaxMs,
      signal,
      // A refused or broken socket may be a daemon restarting; what libvirt itself refuses
      // (an unknown URI, no permission) will not change by asking again.
      retryable: (err) => err instanceof LibvirtConnectionError,
      onRetry: (err, attempt, delayMs) =>
        o.log?.('warn', 'libvirt: connection failed, retrying', { attempt, delayMs: Math.round(delayMs), error: (err as Error).message }),
    });
    conn.startKeepalive(o.keepaliveIntervalMs, o.keepaliveCount);
    this.#conn = conn;
    o.log?.('debug', 'libvirt: connected', { socket: o.socketPath, uri: o.uri });
    return conn;
  }

  async #handshake(c: Connection, signal: AbortSignal): Promise<void> {
    const o = this.#opts;
    const call = async <T>(procedure: number, write: (w: XdrWriter) => void, read: (r: XdrReader) => T): Promise<T> => {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(new LibvirtTimeoutError(procedure, o.timeoutMs)), o.timeoutMs);
      const onAbort = (): void => ctl.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const w = new XdrWriter();
        write(w);
        this.#count(procedure);
        return decodePayload(await c.call(procedure, w.bytes(), ctl.signal), read, `reply to procedure ${procedure}`);
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      }
    };
    const auth = await call(Procedure.AUTH_LIST, () => undefined, readAuthListRet);
    if (auth.length > 0 && !auth.includes(AuthType.NONE)) {
      throw new LibvirtConnectionError(`libvirt asks for authentication this client does not do (types ${auth.join(', ')})`);
    }
    await call(Procedure.CONNECT_OPEN, (w) => writeConnectOpenArgs(w, o.uri, o.readOnly ? CONNECT_RO : 0), () => undefined);
  }
}
