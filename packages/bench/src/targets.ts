// The endpoints measured: one already running (--target), or servers the bench starts on
// a fresh data folder and stops afterwards (Tally, and the reference Gnocchi 4.4.2).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, processTree, startTime } from './system.js';
import { benchClient } from './workload.js';

export type TargetKind = 'tally' | 'gnocchi' | 'external';

export interface Target {
  readonly kind: TargetKind;
  /** Column name in the report. */
  readonly name: string;
  readonly url: string;
  /** Folder whose size is divided by aggregate points; null when unknown. */
  readonly dataDir: string | null;
  /** Files left out of the size (see diskUsage). */
  readonly excludeFromSize: readonly string[];
  /** Folder of the aggregate storage alone (no incoming, no index); null when unknown. */
  readonly storageDir: string | null;
  /** Files of storageDir left out (another store sharing the folder). */
  readonly storageExclude: readonly string[];
  /** Root of the process tree whose memory is sampled; null when unknown. */
  readonly pid: number | null;
  /** Where the server logs go, to quote when it fails. */
  readonly log: string | null;
  stop(): Promise<void>;
}

export interface StartOptions {
  tallyBin: string;
  tallyMetricdWorkers: number;
  referenceScript: string;
  user: string;
  password: string;
  keepData: boolean;
  readyTimeoutMs: number;
  onLog: (message: string) => void;
  /** Also open Tally's alarm API (Aodh v2) on this port. */
  alarmPort?: number;
}

export function externalTarget(url: string, dataDir: string | null, pid: number | null): Target {
  return { kind: 'external', name: 'target', url, dataDir, excludeFromSize: [], storageDir: null, storageExclude: [], pid, log: null, stop: async () => {} };
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Waits until GET /v1/status answers 200, or the child exits, or the time is up; logs how
 * long after `launched` (performance.now() at the spawn) it answered: Tally warms up before
 * it opens its port (docs/CONFIGURATION.md, Start-up), which its cold cells do not see.
 */
async function waitReady(url: string, child: ChildProcess, opts: StartOptions, log: string, launched: number): Promise<void> {
  const client = benchClient(url, opts.user, opts.password, 1, 5_000);
  const deadline = Date.now() + opts.readyTimeoutMs;
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before answering; log ${log}:\n${tail(log)}`);
      }
      try {
        await client.status({ details: false });
        opts.onLog(`answering ${((performance.now() - launched) / 1000).toFixed(1)} s after its start (${url})`);
        return;
      } catch {
        // not listening yet, or not ready
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server did not answer within ${opts.readyTimeoutMs / 1000} s; log ${log}:\n${tail(log)}`);
  } finally {
    client.close();
  }
}

/**
 * Stops a server the bench started: SIGTERM to its root (the Gnocchi script's trap stops
 * metricd and uwsgi and drops its database), then SIGKILL to whatever of its tree is left
 * after a grace period. Only pids of the tree started by the bench are signalled.
 */
export async function stopTree(child: ChildProcess, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const tree = processTree(pid).map((p) => ({ pid: p, since: startTime(p) }));
  if (child.exitCode === null && child.signalCode === null) {
    let timer: NodeJS.Timeout | undefined;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, graceMs); })]);
    clearTimeout(timer); // or the bench would linger for the grace period at the end
  }
  for (const p of tree) {
    // Only the very process seen in the tree, not a later one that reused its pid.
    if (p.since === null || startTime(p.pid) !== p.since) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function freshFolder(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTally(opts: StartOptions): Promise<Target> {
  const base = freshFolder('tally-bench-');
  const dataDir = join(base, 'data');
  const log = join(base, 'tally.log');
  const port = await freePort();
  const fd = openSync(log, 'a');
  // The alarm API on the port asked for, else on any free one (never Aodh's 8042, which
  // a reference Aodh may hold).
  // TALLY_BENCH_NODE_ARGS: options for the server's node, e.g. `--cpu-prof --cpu-prof-dir=DIR`
  // to profile a cell (every thread writes its own profile when the server stops).
  const nodeArgs = (process.env.TALLY_BENCH_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
  const launched = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, opts.tallyBin, 'serve', '--data-dir', dataDir, '--port', String(port), '--host', '127.0.0.1',
    '--log-level', 'warn', '--metricd-workers', String(opts.tallyMetricdWorkers), '--alarm-port', String(opts.alarmPort ?? 0), '--rating-port', '0'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const target: Target = {
    kind: 'tally', name: 'tally', url, dataDir, excludeFromSize: ['index.sqlite'], storageDir: join(dataDir, 'storage'), storageExclude: [], pid: child.pid ?? null, log,
    stop: async () => {
      await stopTree(child, 10_000);
      if (!opts.keepData) rmSync(base, { recursive: true, force: true });
      else opts.onLog(`tally data kept in ${base}`);
    },
  };
  opts.onLog(`started tally (pid ${child.pid}) on ${url}, data ${dataDir}, ${opts.tallyMetricdWorkers} metricd workers`);
  try {
    await waitReady(url, child, opts, log, launched);
  } catch (e) {
    await target.stop();
    throw e;
  }
  return target;
}

/** Installs Debian's Gnocchi 4.4.2 and PostgreSQL through the reference script when missing. */
export function ensureReferenceInstalled(script: string, onLog: (m: string) => void): void {
  if (!existsSync(script)) throw new Error(`reference script not found: ${script} (see --reference-script)`);
  if (existsSync('/usr/bin/gnocchi-metricd') && existsSync('/usr/bin/uwsgi_python3')) return;
  onLog(`installing the reference Gnocchi: ${script} --install`);
  const r = spawnSync('bash', [script, '--install'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
  if (r.status !== 0) throw new Error(`${script} --install failed (${r.status ?? r.signal})`);
}

export async function startGnocchi(opts: StartOptions): Promise<Target> {
  ensureReferenceInstalled(opts.referenceScript, opts.onLog);
  const base = freshFolder('gnocchi-bench-');
  const dataDir = join(base, 'data');
  const log = join(base, 'server.log');
  const port = await freePort();
  const fd = openSync(log, 'a');
  // The reference setup the benchmark compares with: stock limits, 2 API processes, 2 metricd workers.
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DATA_DIR: dataDir, PROFILE: 'default', PROCS: '2', METRICD_WORKERS: '2' };
  delete env.SUITE_PROFILE;
  const launched = performance.now();
  const child = spawn('bash', [opts.referenceScript], { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const target: Target = {
    kind: 'gnocchi', name: 'gnocchi', url, dataDir: join(dataDir, 'storage'), excludeFromSize: [],
    // The file drivers of incoming and storage share the folder: sacks are incoming*, and
    // both keep temporary files in tmp.
    storageDir: join(dataDir, 'storage'), storageExclude: ['incoming', 'tmp'], pid: child.pid ?? null, log,
    stop: async () => {
      await stopTree(child, 20_000);
      if (!opts.keepData) rmSync(base, { recursive: true, force: true });
      else opts.onLog(`gnocchi data kept in ${base}`);
    },
  };
  opts.onLog(`started gnocchi 4.4.2 (pid ${child.pid}) on ${url}, data ${dataDir} (PROFILE=default PROCS=2 METRICD_WORKERS=2)`);
  try {
    await waitReady(url, child, opts, log, launched);
  } catch (e) {
    await target.stop();
    throw e;
  }
  return target;
}
