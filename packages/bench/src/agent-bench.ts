// The agent scenario (`--scenario agent`): a metering agent polling a libvirtd that holds N
// test-driver domains with Nova metadata, publishing to a Tally this bench starts, measured
// per polling cycle. Any agent is one `AgentSide`: a command line (with the Gnocchi URL,
// libvirt URI and interval substituted) whose whole process tree is measured the same way,
// so Debian's Ceilometer and Tally's own agent sit side by side in one table.
//
// Per cycle (from one cycle's start to the next, so idle time between cycles counts too):
// CPU seconds of the process tree from /proc/PID/stat, split into components by command line
// (Ceilometer's broker apart from its agents); peak RSS; duration (cycle start to the last
// response Tally sent in the cycle); requests and bytes as Tally received them, counted by
// an HTTP proxy in this process in front of Tally; measures in the batch requests Tally
// accepted; and measures Tally processed (the delta of metricd's counter in /v1/status).
// A cycle starts at a line of the agent's log matching `cycleStart` seen after a quiet
// spell; without one, at the first request to Tally after a quiet spell.
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeXml } from './agent-bench-fixtures.js';
import { median } from './stats.js';
import { cpuSeconds, freePort, processTree } from './system.js';
import { startTally, stopTree, type StartOptions, type Target } from './targets.js';
import type { Progress } from './progress.js';

export interface AgentSide {
  /** Column name in the report. */
  name: string;
  /**
   * The command and its arguments; `{gnocchi_url}`, `{libvirt_uri}`, `{interval}` and
   * `{work}` (a fresh folder of its own) are replaced in each argument.
   */
  command: string[];
  /** Processes of the tree whose command line matches, counted apart (e.g. a broker); the rest is 'other'. */
  components?: Readonly<Record<string, RegExp>>;
  /** A log file (may hold `{work}`) and the line that marks the start of a polling cycle. */
  log?: { file: string; cycleStart: RegExp };
}

export interface AgentBenchConfig {
  domains: number;
  intervalS: number;
  /** Cycles measured after the first (which creates the resources). */
  cycles: number;
  /** Socket of the libvirtd to poll through; null: the test driver inside the agent's process. */
  libvirtSocket: string | null;
  /** Also measure this command (words split on spaces, placeholders as in AgentSide). */
  agentCommand: string | null;
  /** Measure Tally's own agent (`tally agent` with a libvirt source on the same node and daemon). */
  tallyAgent: boolean;
  /** Leave Debian's Ceilometer out (a run of Tally's agent alone). */
  skipCeilometer: boolean;
  repoRoot: string;
  /** Longest wait for the first cycle, seconds (Ceilometer starts a broker, creates types). */
  startTimeoutS: number;
  ceilometerScript: string;
  /** Ceilometer's publisher with its resource-attribute cache (see scripts/ceilometer-polling-run). */
  ceilometerResourceCache: boolean;
}

export const AGENT_BENCH_OPTIONS = {
  domains: { type: 'string' }, interval: { type: 'string' }, cycles: { type: 'string' },
  'libvirt-socket': { type: 'string' }, 'agent-command': { type: 'string' }, 'agent-start-timeout': { type: 'string' },
  'ceilometer-script': { type: 'string' }, 'ceilometer-resource-cache': { type: 'boolean' },
  'tally-agent': { type: 'boolean' }, 'skip-ceilometer': { type: 'boolean' },
} as const;

export const AGENT_BENCH_HELP = `Agent (--scenario agent; starts Tally, polls a libvirt test node of N domains with Nova metadata):
  --domains N              domains of the node (100)
  --interval S             polling interval of every agent (60)
  --cycles N               cycles measured after the first, which creates the resources (2)
  --libvirt-socket PATH    poll through the libvirtd listening there (test+unix:///node.xml?socket=PATH);
                           without it each agent opens the test driver in its own process (test:///node.xml)
  --agent-command CMD      also measure this agent, e.g. "bin/tally agent --config F --gnocchi-url {gnocchi_url}"
                           ({gnocchi_url}, {libvirt_uri}, {interval}, {work} are replaced)
  --tally-agent            also measure Tally's own agent (tally agent, a libvirt source on the same node
                           through the same daemon: needs --libvirt-socket; its health metrics off)
  --skip-ceilometer        leave Debian's Ceilometer out
  --agent-start-timeout S  longest wait for an agent's first cycle (300)
  --ceilometer-script FILE (REPO/scripts/ceilometer-polling-run)
  --ceilometer-resource-cache  Ceilometer's publisher caches resource attributes (oslo.cache) instead of
                           PATCHing every resource after every batch (its default)
`;

type Raw = Partial<Record<keyof typeof AGENT_BENCH_OPTIONS, string | boolean>>;

export function agentBenchConfig(v: Raw, int: (name: string, raw: string | undefined, dflt: number, min?: number) => number, repoRoot: string): AgentBenchConfig {
  const str = (x: string | boolean | undefined): string | undefined => (typeof x === 'string' ? x : undefined);
  return {
    domains: int('domains', str(v.domains), 100, 1),
    intervalS: int('interval', str(v.interval), 60, 1),
    cycles: int('cycles', str(v.cycles), 2, 1),
    libvirtSocket: str(v['libvirt-socket']) ?? null,
    agentCommand: str(v['agent-command']) ?? null,
    tallyAgent: v['tally-agent'] === true,
    skipCeilometer: v['skip-ceilometer'] === true,
    repoRoot,
    startTimeoutS: int('agent-start-timeout', str(v['agent-start-timeout']), 300, 10),
    ceilometerScript: str(v['ceilometer-script']) ?? `${repoRoot}scripts/ceilometer-polling-run`,
    ceilometerResourceCache: v['ceilometer-resource-cache'] === true,
  };
}

/** Debian's Ceilometer 19 (polling agent, notification agent, RabbitMQ) as the script runs it. */
export function ceilometerSide(cfg: AgentBenchConfig): AgentSide {
  return {
    name: 'ceilometer 19',
    command: ['bash', cfg.ceilometerScript, 'run', '--work', '{work}', '--libvirt-uri', '{libvirt_uri}', '--gnocchi-url', '{gnocchi_url}',
      '--interval', '{interval}', ...(cfg.ceilometerResourceCache ? ['--resource-cache'] : [])],
    components: {
      polling: /ceilometer-polling(?!-run)/, notification: /ceilometer-agent-notification/,
      broker: /beam\.smp|\bepmd\b|rabbitmq/, 'openstack-404': /python3 - \d+$/,
    },
    // Every pollster logs this line as the cycle runs it; the first of a burst starts the cycle.
    log: { file: '{work}/log/ceilometer-polling.log', cycleStart: /INFO ceilometer\.polling\.manager .*Polling pollster/ },
  };
}

/**
 * Tally's agent with one libvirt source on the bench's node, through the daemon at
 * `socket`. Its own health metrics are off: Ceilometer publishes none, and the table
 * compares what polling the domains costs.
 */
export function tallySide(cfg: AgentBenchConfig, nodeFile: string, socket: string, configFile: string): AgentSide {
  const config = [
    'sources:',
    '  - name: libvirt',
    `    interval: ${cfg.intervalS}`,
    '    pollster: libvirt',
    '    meters: ["*"]',
    '    options:',
    `      uri: ${JSON.stringify(`test://${nodeFile}`)}`,
    `      socket: ${JSON.stringify(socket)}`,
    'health_interval: 0',
    '',
  ].join('\n');
  writeFileSync(configFile, config);
  return {
    name: 'tally agent',
    command: [process.execPath, join(cfg.repoRoot, 'bin', 'tally'), 'agent', '--config', configFile, '--gnocchi-url', '{gnocchi_url}',
      '--data-dir', '{work}/agent', '--name', 'bench', '--log-level', 'debug'],
    // Its debug log marks each cycle's start (stdout, which the harness keeps in agent.out).
    log: { file: '{work}/agent.out', cycleStart: /"msg":"cycle started"/ },
  };
}

// ---------------------------------------------------------------------------------------
// The counting proxy in front of Tally.

interface RequestRecord {
  at: number;
  end: number;
  method: string;
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  /** Measures in the body of a batch or measures POST, else 0. */
  measures: number;
}

const BATCH = /^\/v1\/batch\/(resources\/metrics|metrics)\/measures/;
const MEASURES = /^\/v1\/(metric\/[^/]+|resource\/[^/]+\/[^/]+\/metric\/[^/]+)\/measures/;

/** How many measures a batch or measures body holds (0 when it is not one of those). */
export function countMeasures(path: string, body: Buffer): number {
  if (body.length === 0) return 0;
  const p = path.split('?')[0];
  try {
    if (BATCH.test(p)) {
      const doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      let n = 0;
      const count = (v: unknown): void => {
        if (Array.isArray(v)) n += v.length;
        else if (v && typeof v === 'object') {
          const m = (v as { measures?: unknown }).measures;
          if (Array.isArray(m)) n += m.length;
          else for (const x of Object.values(v)) count(x);
        }
      };
      for (const v of Object.values(doc)) count(v);
      return n;
    }
    if (MEASURES.test(p)) {
      const doc = JSON.parse(body.toString('utf8')) as unknown;
      return Array.isArray(doc) ? doc.length : 0;
    }
  } catch {
    // not JSON: Tally will refuse it, and it counts as no measures
  }
  return 0;
}

export class CountingProxy {
  readonly records: RequestRecord[] = [];
  readonly #target: URL;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  readonly #server: http.Server;

  constructor(targetUrl: string) {
    this.#target = new URL(targetUrl);
    this.#server = http.createServer((req, res) => {
      const at = performance.now();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const path = req.url ?? '/';
        const up = http.request({
          host: this.#target.hostname, port: this.#target.port, method: req.method, path, headers: req.headers, agent: this.#agent,
        }, (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          let out = 0;
          upRes.on('data', (c: Buffer) => {
            out += c.length;
            res.write(c);
          });
          upRes.on('end', () => {
            res.end();
            const status = upRes.statusCode ?? 0;
            this.records.push({
              at, end: performance.now(), method: req.method ?? '', path, status, bytesIn: body.length, bytesOut: out,
              measures: status >= 200 && status < 300 ? countMeasures(path, body) : 0,
            });
          });
        });
        up.on('error', (e) => {
          res.writeHead(502).end(String(e));
          this.records.push({ at, end: performance.now(), method: req.method ?? '', path, status: 502, bytesIn: body.length, bytesOut: 0, measures: 0 });
        });
        up.end(body);
      });
    });
  }

  async listen(): Promise<string> {
    const port = await freePort();
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    this.#agent.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------
// Measuring one side.

export interface CycleFigures {
  /** CPU seconds of the whole tree over the cycle, and per component ('agent' is the rest). */
  cpu: number;
  cpuByComponent: Record<string, number>;
  /** Peak RSS of the tree during the cycle, MiB, and per component. */
  rssMiB: number;
  rssByComponent: Record<string, number>;
  durationS: number;
  requests: number;
  requestsByKind: Record<string, number>;
  failedRequests: number;
  bytesIn: number;
  bytesOut: number;
  measuresPosted: number;
  measuresProcessed: number | null;
}

export interface SideResult {
  name: string;
  cycles: CycleFigures[];
  notes: string[];
  resources: Record<string, number>;
  metrics: number | null;
}

function fill(s: string, vars: Record<string, string>): string {
  return s.replace(/\{(gnocchi_url|libvirt_uri|interval|work)\}/g, (_, k: string) => vars[k] ?? '');
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** What kind of request to Tally this is, for the per-kind counts. */
export function requestKind(method: string, path: string): string {
  const p = path.split('?')[0];
  if (BATCH.test(p)) return 'batch';
  if (MEASURES.test(p)) return 'measures';
  if (/^\/v1\/resource\/[^/]+\/[^/]+/.test(p) && method === 'PATCH') return 'resource update';
  if (/^\/v1\/resource\/[^/]+$/.test(p) && method === 'POST') return 'resource create';
  return 'other';
}

/** Reads lines appended to a file since the last call. */
class LogTail {
  #pos = 0;
  #rest = '';
  constructor(private readonly file: string) {}

  lines(): string[] {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return [];
    }
    if (size < this.#pos) this.#pos = 0;
    if (size === this.#pos) return [];
    const fd = openSync(this.file, 'r');
    try {
      const buf = Buffer.alloc(size - this.#pos);
      readSync(fd, buf, 0, buf.length, this.#pos);
      this.#pos = size;
      const text = this.#rest + buf.toString('utf8');
      const parts = text.split('\n');
      this.#rest = parts.pop() ?? '';
      return parts;
    } finally {
      closeSync(fd);
    }
  }
}

interface Tick {
  at: number;
  cpu: Record<string, number>;
  rss: Record<string, number>;
}

async function measuresProcessed(tallyUrl: string): Promise<number | null> {
  try {
    const res = await fetch(`${tallyUrl}/v1/status`, { headers: { authorization: `Basic ${Buffer.from('admin:').toString('base64')}` } });
    const doc = (await res.json()) as { metricd?: { statistics?: Record<string, number> } };
    return doc.metricd?.statistics?.['measures processed'] ?? null;
  } catch {
    return null;
  }
}

async function storedShape(tallyUrl: string): Promise<{ resources: Record<string, number>; metrics: number | null }> {
  const headers = { authorization: `Basic ${Buffer.from('admin:').toString('base64')}` };
  const resources: Record<string, number> = {};
  let metrics = 0;
  for (const type of ['instance', 'instance_disk', 'instance_network_interface']) {
    let marker: string | null = null;
    let n = 0;
    for (;;) {
      const q: string = `limit=1000${marker ? `&marker=${marker}` : ''}`;
      const res = await fetch(`${tallyUrl}/v1/resource/${type}?${q}`, { headers });
      if (!res.ok) break;
      const page = (await res.json()) as { id: string; metrics: Record<string, string> }[];
      n += page.length;
      for (const r of page) metrics += Object.keys(r.metrics).length;
      if (page.length < 1000) break;
      marker = page[page.length - 1].id;
    }
    resources[type] = n;
  }
  return { resources, metrics };
}

/**
 * Runs `side` against `tallyUrl` (through a counting proxy) polling `libvirtUri`, and
 * measures its first cycle and `cycles` more.
 */
export async function measureAgent(side: AgentSide, tallyUrl: string, libvirtUri: string, cfg: AgentBenchConfig, p: Progress, keepWork = false): Promise<SideResult> {
  const work = mkdtempSync(join(tmpdir(), 'agent-bench-'));
  const proxy = new CountingProxy(tallyUrl);
  const proxyUrl = await proxy.listen();
  const vars = { gnocchi_url: proxyUrl, libvirt_uri: libvirtUri, interval: String(cfg.intervalS), work };
  const argv = side.command.map((a) => fill(a, vars));
  const logFile = side.log ? fill(side.log.file, vars) : null;
  const notes: string[] = [];
  const outLog = join(work, 'agent.out');
  const fd = openSync(outLog, 'a');
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  p.log(`${side.name}: started ${argv.join(' ')} (pid ${child.pid})`);

  const components = Object.entries(side.components ?? {});
  const classify = (pid: number): string => {
    const c = cmdline(pid);
    for (const [name, re] of components) if (re.test(c)) return name;
    return 'other';
  };
  const kinds = new Map<number, string>();
  const gone = new Map<string, number>(); // CPU of processes that exited, by component
  const lastCpu = new Map<number, number>();
  const tick = (): Tick => {
    const pids = child.pid === undefined ? [] : processTree(child.pid);
    const cpu = cpuSeconds(pids);
    for (const [pid, v] of lastCpu) {
      if (!cpu.has(pid)) {
        const k = kinds.get(pid) ?? 'other';
        gone.set(k, (gone.get(k) ?? 0) + v);
        lastCpu.delete(pid);
      }
    }
    const byCpu: Record<string, number> = Object.fromEntries(gone);
    const byRss: Record<string, number> = {};
    for (const [pid, v] of cpu) {
      if (!kinds.has(pid)) kinds.set(pid, classify(pid));
      const k = kinds.get(pid) ?? 'other';
      lastCpu.set(pid, v);
      byCpu[k] = (byCpu[k] ?? 0) + v;
      byRss[k] = (byRss[k] ?? 0) + rssKb(pid) / 1024;
    }
    return { at: performance.now(), cpu: byCpu, rss: byRss };
  };

  const tail = logFile ? new LogTail(logFile) : null;
  // Cycles begin an interval apart; a marker less than 3/4 of one after the last start
  // belongs to the same cycle (a cycle longer than that is reported as overrunning).
  const quietMs = cfg.intervalS * 750;
  const starts: { at: number; tick: Tick; processed: number | null }[] = [];
  const ticks: Tick[] = [];
  let lastStart = -Infinity;
  const started = performance.now();
  let requestCursor = 0;
  try {
    while (starts.length < cfg.cycles + 2) {
      await new Promise((r) => setTimeout(r, 100));
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${side.name} exited (${child.exitCode ?? child.signalCode}); see ${outLog}`);
      const t = tick();
      ticks.push(t);
      let startNow = false;
      if (tail && side.log) {
        for (const line of tail.lines()) if (side.log.cycleStart.test(line) && t.at - lastStart > quietMs) startNow = true;
      } else {
        for (; requestCursor < proxy.records.length; requestCursor++) {
          const r = proxy.records[requestCursor];
          if (r.at - lastStart > quietMs) startNow = true;
        }
      }
      if (startNow) {
        lastStart = t.at;
        starts.push({ at: t.at, tick: t, processed: await measuresProcessed(tallyUrl) });
        if (starts.length > 1) p.log(`${side.name}: cycle ${starts.length - 1} ended after ${((t.at - starts[starts.length - 2].at) / 1000).toFixed(1)} s`);
        else p.log(`${side.name}: first cycle began ${((t.at - started) / 1000).toFixed(1)} s after start`);
      }
      if (starts.length === 0 && t.at - started > cfg.startTimeoutS * 1000) throw new Error(`${side.name}: no cycle began within ${cfg.startTimeoutS} s; see ${work}`);
    }
  } finally {
    await stopTree(child, 15_000);
  }

  const cycles: CycleFigures[] = [];
  for (let k = 0; k + 1 < starts.length; k++) {
    const a = starts[k];
    const b = starts[k + 1];
    const reqs = proxy.records.filter((r) => r.at >= a.at && r.at < b.at);
    const window = ticks.filter((t) => t.at >= a.at && t.at <= b.at);
    const names = new Set([...Object.keys(a.tick.cpu), ...Object.keys(b.tick.cpu)]);
    const cpuBy: Record<string, number> = {};
    for (const n of names) cpuBy[n] = (b.tick.cpu[n] ?? 0) - (a.tick.cpu[n] ?? 0);
    const rssBy: Record<string, number> = {};
    let rss = 0;
    for (const t of window) {
      let sum = 0;
      for (const [n, v] of Object.entries(t.rss)) {
        rssBy[n] = Math.max(rssBy[n] ?? 0, v);
        sum += v;
      }
      rss = Math.max(rss, sum);
    }
    const byKind: Record<string, number> = {};
    for (const r of reqs) byKind[requestKind(r.method, r.path)] = (byKind[requestKind(r.method, r.path)] ?? 0) + 1;
    const lastEnd = reqs.reduce((m, r) => Math.max(m, r.end), a.at);
    cycles.push({
      cpu: Object.values(cpuBy).reduce((s, v) => s + v, 0), cpuByComponent: cpuBy, rssMiB: rss, rssByComponent: rssBy,
      durationS: (lastEnd - a.at) / 1000, requests: reqs.length, requestsByKind: byKind, failedRequests: reqs.filter((r) => r.status >= 400).length,
      bytesIn: reqs.reduce((s, r) => s + r.bytesIn, 0), bytesOut: reqs.reduce((s, r) => s + r.bytesOut, 0),
      measuresPosted: reqs.reduce((s, r) => s + r.measures, 0),
      measuresProcessed: a.processed !== null && b.processed !== null ? b.processed - a.processed : null,
    });
    if (lastEnd > b.at - 1000 && reqs.length > 0) notes.push(`${side.name}: cycle ${k + 1} was still sending when the next began: raise --interval`);
  }
  await proxy.close();
  const shape = await storedShape(tallyUrl);
  if (keepWork) p.log(`${side.name}: its folder and logs kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
  return { name: side.name, cycles, notes, ...shape };
}

// ---------------------------------------------------------------------------------------
// The scenario.

export interface AgentBenchResult {
  domains: number;
  intervalS: number;
  libvirtUri: string;
  sides: SideResult[];
  notes: string[];
}

export async function runAgentBench(start: StartOptions, cfg: AgentBenchConfig, p: Progress): Promise<AgentBenchResult> {
  const base = mkdtempSync(join(tmpdir(), 'agent-bench-node-'));
  // The daemon may run as another user: the node must be readable by it.
  chmodSync(base, 0o755);
  const nodeFile = join(base, 'node.xml');
  writeFileSync(nodeFile, nodeXml({ domains: cfg.domains }), { mode: 0o644 });
  const libvirtUri = cfg.libvirtSocket ? `test+unix://${nodeFile}?socket=${cfg.libvirtSocket}` : `test://${nodeFile}`;
  const notes: string[] = [];
  if (!cfg.libvirtSocket) notes.push('no --libvirt-socket: each agent opened the test driver in its own process, not through a libvirtd');
  const sides: AgentSide[] = cfg.skipCeilometer ? [] : [ceilometerSide(cfg)];
  if (cfg.tallyAgent) {
    if (cfg.libvirtSocket) sides.push(tallySide(cfg, nodeFile, cfg.libvirtSocket, join(base, 'tally-agent.yaml')));
    else notes.push("tally agent: not measured without --libvirt-socket (its libvirt client speaks to a daemon, it has no driver of its own)");
  }
  if (cfg.agentCommand) sides.push({ name: 'command', command: cfg.agentCommand.split(/\s+/).filter(Boolean) });
  const results: SideResult[] = [];
  try {
    for (const side of sides) {
      // A fresh Tally per side: both start from an empty store and create their resources.
      let tally: Target | null = null;
      try {
        tally = await startTally({ ...start, tallyMetricdWorkers: 1, onLog: (m) => p.log(m) });
        results.push(await measureAgent(side, tally.url, libvirtUri, cfg, p, start.keepData));
      } catch (e) {
        notes.push(`${side.name}: ${(e as Error).message}`);
      } finally {
        await tally?.stop();
      }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  return { domains: cfg.domains, intervalS: cfg.intervalS, libvirtUri, sides: results, notes };
}

function fmt(v: number | null | undefined, digits: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return Math.abs(v) >= 10_000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits);
}

/** The side-by-side table: the first cycle, then the median of the steady ones. */
export function renderAgentFigures(r: AgentBenchResult): string {
  const componentNames = [...new Set(r.sides.flatMap((s) => s.cycles.flatMap((c) => Object.keys(c.cpuByComponent))))].sort();
  const kindNames = [...new Set(r.sides.flatMap((s) => s.cycles.flatMap((c) => Object.keys(c.requestsByKind))))].sort();
  type Row = [string, string, (c: CycleFigures) => number | null, number];
  const rows: Row[] = [
    ['CPU per cycle, whole process tree', 'CPU s', (c) => c.cpu, 2],
    ...componentNames.map((n): Row => [`  ${n}`, 'CPU s', (c) => c.cpuByComponent[n] ?? null, 2]),
    ['peak RSS during the cycle, whole tree', 'MiB', (c) => c.rssMiB, 1],
    ...componentNames.map((n): Row => [`  ${n}`, 'MiB', (c) => c.rssByComponent[n] ?? null, 1]),
    ['cycle duration (start to last response)', 's', (c) => c.durationS, 2],
    ['requests to the store per cycle', 'requests', (c) => c.requests, 0],
    ...kindNames.map((n): Row => [`  ${n}`, 'requests', (c) => c.requestsByKind[n] ?? 0, 0]),
    ['  refused (status >= 400)', 'requests', (c) => c.failedRequests, 0],
    ['bytes sent to the store per cycle', 'KiB', (c) => c.bytesIn / 1024, 1],
    ['bytes received from the store per cycle', 'KiB', (c) => c.bytesOut / 1024, 1],
    ['measures posted and accepted per cycle', 'measures', (c) => c.measuresPosted, 0],
    ['measures processed by Tally per cycle', 'measures', (c) => c.measuresProcessed, 0],
  ];
  const header = ['figure', 'unit', ...r.sides.flatMap((s) => [`${s.name} first`, `${s.name} steady`])];
  const table: string[][] = [header];
  for (const [label, unit, get, digits] of rows) {
    const cells = r.sides.flatMap((s) => {
      const first = s.cycles[0] ? get(s.cycles[0]) : null;
      const steady = s.cycles.slice(1).map(get).filter((v): v is number => v !== null);
      return [fmt(first, digits), fmt(steady.length ? median(steady) : null, digits)];
    });
    table.push([label, unit, ...cells]);
  }
  const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const out = [line(table[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...table.slice(1).map(line)];
  out.push(`(${r.domains} domains, interval ${r.intervalS} s, ${r.libvirtUri}; "first" creates the resources, "steady" is the median of ${Math.max(0, (r.sides[0]?.cycles.length ?? 1) - 1)} later cycles)`);
  for (const s of r.sides) {
    out.push(`${s.name}: stored ${Object.entries(s.resources).map(([t, n]) => `${n} ${t}`).join(', ')}, ${s.metrics ?? 'n/a'} metrics`);
    for (const n of s.notes) out.push(n);
  }
  for (const n of r.notes) out.push(n);
  return `${out.join('\n')}\n`;
}
