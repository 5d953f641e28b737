// Helpers of the tests and the benchmark that run against a real libvirtd: the real `virsh`
// for reference values, the node fixture generator, and a unix-socket relay that stands
// between the client and the daemon to cut, stall or refuse the connection on demand and
// to count the calls that really cross the wire.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { FrameDecoder, MessageType, REMOTE_PROGRAM, decodePacket } from './rpc.js';

const run = promisify(execFile);

/** Set by scripts/agent-libvirt-test (from scripts/libvirtd-server start). */
export const LIBVIRT_SOCKET = process.env.LIBVIRT_SOCKET ?? '';
export const SKIP_WITHOUT_DAEMON = LIBVIRT_SOCKET === ''
  ? 'LIBVIRT_SOCKET is unset: scripts/agent-libvirt-test starts libvirtd and runs these tests'
  : false;

export const FIXTURES = fileURLToPath(new URL('../../fixtures/libvirt/', import.meta.url));

/** The URI virsh needs to reach `uri` through the daemon on `socket`. */
export function viaDaemon(uri: string, socket: string): string {
  const m = /^([a-z0-9]+):\/\/(.*)$/.exec(uri);
  if (m === null) throw new Error(`not a libvirt URI: ${uri}`);
  return `${m[1]}+unix://${m[2]}${m[2].includes('?') ? '&' : '?'}socket=${encodeURIComponent(socket)}`;
}

export async function virsh(uri: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('virsh', ['-q', '-c', viaDaemon(uri, LIBVIRT_SOCKET), ...args], { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/** `virsh domstats --raw` by domain name: field -> value as virsh prints it. */
export async function virshDomstats(uri: string, ...args: string[]): Promise<Map<string, Map<string, string>>> {
  const out = await virsh(uri, 'domstats', '--raw', ...args);
  const result = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  for (const line of out.split('\n')) {
    const dom = /^Domain: '(.*)'$/.exec(line);
    if (dom !== null) {
      current = new Map();
      result.set(dom[1], current);
      continue;
    }
    const kv = /^\s+([^=]+)=(.*)$/.exec(line);
    if (kv !== null && current !== null) current.set(kv[1], kv[2]);
  }
  return result;
}

/**
 * Runs `commands` with a few virsh processes (a few hundred commands each, `;`-separated)
 * and returns what each printed on standard output; a failing command prints nothing there.
 */
export async function virshBatch(uri: string, commands: readonly string[]): Promise<string[]> {
  const out = new Array<string>(commands.length).fill('');
  const CHUNK = 400;
  for (let start = 0; start < commands.length; start += CHUNK) {
    const script = commands.slice(start, start + CHUNK).map((c, j) => `echo @@${start + j}@@; ${c}`).join('; ');
    const { stdout } = await run('virsh', ['-q', '-c', viaDaemon(uri, LIBVIRT_SOCKET), script], { maxBuffer: 64 * 1024 * 1024 })
      .catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const parts = stdout.split(/@@(\d+)@@/);
    for (let k = 1; k + 1 < parts.length; k += 2) out[Number(parts[k])] = parts[k + 1];
  }
  return out;
}

/** A running domain and the devices to ask virsh about. */
export interface VirshDomain {
  readonly name: string;
  /** Target devices of the disks with a source. */
  readonly disks: readonly string[];
  /** Target devices of the interfaces. */
  readonly interfaces: readonly string[];
}

/** "1796158044.5" seconds -> nanoseconds, exactly as printed. */
function secondsToNs(s: string): string {
  const [whole, frac = ''] = s.split('.');
  return String(BigInt(whole) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9)));
}

/**
 * What the real virsh reports through the per-domain commands (dominfo, dommemstat,
 * domblkstat, domblkinfo, domifstat), by domain name, under the names the bulk statistics
 * give the same values (cpu.time, vcpu.current, balloon.*, block.N.*, net.N.*), so that one
 * reference mapping serves both. cpu.time comes from dominfo's "CPU time", printed to a
 * tenth of a second.
 */
export async function virshPerDomain(uri: string, domains: readonly VirshDomain[]): Promise<Map<string, Map<string, string>>> {
  const cmds: string[] = [];
  for (const d of domains) {
    cmds.push(`dominfo ${d.name}`, `dommemstat ${d.name}`);
    for (const dev of d.disks) cmds.push(`domblkstat ${d.name} ${dev}`, `domblkinfo ${d.name} ${dev}`);
    for (const dev of d.interfaces) cmds.push(`domifstat ${d.name} ${dev}`);
  }
  const outs = await virshBatch(uri, cmds);
  const lines = (text: string): string[][] => text.split('\n').map((l) => l.trim().split(/\s+/)).filter((w) => w[0] !== '');
  const result = new Map<string, Map<string, string>>();
  let k = 0;
  for (const d of domains) {
    const f = new Map<string, string>();
    result.set(d.name, f);
    for (const w of lines(outs[k++])) {
      if (w[0] === 'CPU(s):') f.set('vcpu.current', w[1]);
      if (w[0] === 'CPU' && w[1] === 'time:') f.set('cpu.time', secondsToNs(w[2].replace(/s$/, '')));
    }
    const memory = new Map([['available', 'balloon.available'], ['usable', 'balloon.usable'], ['unused', 'balloon.unused'], ['rss', 'balloon.rss']]);
    for (const w of lines(outs[k++])) {
      const field = memory.get(w[0]);
      if (field !== undefined) f.set(field, w[1]);
    }
    f.set('block.count', String(d.disks.length));
    d.disks.forEach((dev, i) => {
      f.set(`block.${i}.name`, dev);
      f.set(`block.${i}.path`, dev);
      const io = new Map([['rd_req', 'rd.reqs'], ['rd_bytes', 'rd.bytes'], ['wr_req', 'wr.reqs'], ['wr_bytes', 'wr.bytes']]);
      for (const w of lines(outs[k++])) {
        const field = io.get(w[1]);
        if (w[0] === dev && field !== undefined) f.set(`block.${i}.${field}`, w[2]);
      }
      for (const w of lines(outs[k++])) {
        const field = ({ 'Capacity:': 'capacity', 'Allocation:': 'allocation', 'Physical:': 'physical' } as Record<string, string>)[w[0]];
        if (field !== undefined) f.set(`block.${i}.${field}`, w[1]);
      }
    });
    f.set('net.count', String(d.interfaces.length));
    d.interfaces.forEach((dev, i) => {
      f.set(`net.${i}.name`, dev);
      const names = new Map([
        ['rx_bytes', 'rx.bytes'], ['rx_packets', 'rx.pkts'], ['rx_errs', 'rx.errs'], ['rx_drop', 'rx.drop'],
        ['tx_bytes', 'tx.bytes'], ['tx_packets', 'tx.pkts'], ['tx_errs', 'tx.errs'], ['tx_drop', 'tx.drop'],
      ]);
      for (const w of lines(outs[k++])) {
        const field = names.get(w[1]);
        if (w[0] === dev && field !== undefined) f.set(`net.${i}.${field}`, w[2]);
      }
    });
  }
  return result;
}

/** name -> UUID of every domain, from `virsh list --all --uuid --name`. */
export async function virshUuids(uri: string): Promise<Map<string, string>> {
  const out = await virsh(uri, 'list', '--all', '--uuid', '--name');
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [uuid, name] = line.trim().split(/\s+/);
    if (uuid && name) m.set(name, uuid);
  }
  return m;
}

export interface DomainSpec {
  uuid: string;
  name: string;
  state: number;
  vcpus: number;
  memoryMb: number;
  nova: null | {
    namespace: string; prefix: string; displayName: string; flavorName: string; diskGb: number;
    projectId: string; userId: string; imageId: string | null;
  };
  disks: string[];
  cdrom: boolean;
  balloon: boolean;
  interface: { dev: string; mac: string; filter: string | null };
}

interface NodeGenerator {
  makeNode(n: number): string;
  domainSpec(i: number): DomainSpec;
}

export async function nodeGenerator(): Promise<NodeGenerator> {
  return (await import(pathToFileURL(path.join(FIXTURES, 'make-node.mjs')).href)) as NodeGenerator;
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A relay on its own unix socket to the daemon's. `stall` holds back everything the daemon
 * sends; `cutOnNextCall` closes both sides when the client's next call arrives; `stop`
 * closes the listener and every relayed connection (new ones are refused), `start` listens
 * again.
 */
export class Relay {
  readonly path: string;
  readonly #target: string;
  #server: net.Server | null = null;
  readonly #pairs = new Set<{ client: net.Socket; daemon: net.Socket; held: Buffer[] }>();
  #stall = false;
  cutOnNextCall = false;
  /** Calls (remote program) seen from clients, by procedure. */
  readonly calls = new Map<number, number>();
  /** Keepalive messages seen, by direction and procedure ("c1" = client PING, "d2" = daemon PONG). */
  readonly keepalive = new Map<string, number>();

  constructor(dir: string, target: string) {
    this.path = path.join(dir, 'relay.sock');
    this.#target = target;
  }

  get stall(): boolean {
    return this.#stall;
  }

  /** Holds back (true) or passes on (false, after what was held) what the daemon sends. */
  set stall(on: boolean) {
    this.#stall = on;
    if (on) return;
    for (const p of this.#pairs) for (const chunk of p.held.splice(0)) p.client.write(chunk);
  }

  callCount(procedure: number): number {
    return this.calls.get(procedure) ?? 0;
  }

  start(): Promise<void> {
    const server = net.createServer((client) => this.#relay(client));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const p of this.#pairs) {
      p.client.destroy();
      p.daemon.destroy();
    }
    this.#pairs.clear();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #relay(client: net.Socket): void {
    const daemon = net.createConnection({ path: this.#target });
    const pair = { client, daemon, held: [] as Buffer[] };
    this.#pairs.add(pair);
    const fromClient = new FrameDecoder();
    const fromDaemon = new FrameDecoder();
    const close = (): void => {
      client.destroy();
      daemon.destroy();
      this.#pairs.delete(pair);
    };
    client.on('data', (chunk: Buffer) => {
      for (const m of fromClient.push(chunk)) {
        const h = decodePacket(m).header;
        if (h.program === REMOTE_PROGRAM && h.type === MessageType.CALL) {
          if (this.cutOnNextCall) {
            this.cutOnNextCall = false;
            close();
            return;
          }
          this.calls.set(h.procedure, (this.calls.get(h.procedure) ?? 0) + 1);
        } else if (h.program !== REMOTE_PROGRAM) {
          this.keepalive.set(`c${h.procedure}`, (this.keepalive.get(`c${h.procedure}`) ?? 0) + 1);
        }
      }
      daemon.write(chunk);
    });
    daemon.on('data', (chunk: Buffer) => {
      for (const m of fromDaemon.push(chunk)) {
        const h = decodePacket(m).header;
        if (h.program !== REMOTE_PROGRAM) this.keepalive.set(`d${h.procedure}`, (this.keepalive.get(`d${h.procedure}`) ?? 0) + 1);
      }
      if (this.#stall) pair.held.push(chunk);
      else client.write(chunk);
    });
    client.on('error', close);
    daemon.on('error', close);
    client.on('close', close);
    daemon.on('close', close);
  }
}
