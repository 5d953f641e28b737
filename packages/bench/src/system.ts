// What the bench observes of the machine: folder sizes, memory of a process tree, ports.
import { lstat, opendir } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface DiskUsage {
  /** Sum of file sizes. */
  apparent: number;
  /** Blocks allocated (what `du` reports): includes the tail of each file's last block. */
  allocated: number;
  files: number;
}

/**
 * Size of a folder tree. Files whose name starts with one of `excludePrefixes` are left
 * out (the embedded SQLite index of Tally, whose counterpart in Gnocchi lives in
 * PostgreSQL, outside the folder). Files vanishing during the walk are skipped: the
 * target may be deleting processed measures meanwhile.
 */
export async function diskUsage(root: string, excludePrefixes: readonly string[] = []): Promise<DiskUsage> {
  const total: DiskUsage = { apparent: 0, allocated: 0, files: 0 };
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let handle;
    try {
      handle = await opendir(dir);
    } catch {
      continue;
    }
    for await (const ent of handle) {
      if (excludePrefixes.some((p) => ent.name.startsWith(p))) continue;
      const p = join(dir, ent.name);
      if (ent.isDirectory()) {
        stack.push(p);
        continue;
      }
      try {
        const st = await lstat(p);
        total.apparent += st.size;
        total.allocated += st.blocks * 512;
        total.files++;
      } catch {
        // deleted meanwhile
      }
    }
  }
  return total;
}

/** Parent of every process, from /proc (Linux only). */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name is in parentheses and may hold spaces: fields follow the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(name), Number(rest[1]));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The pid and all its descendants alive now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents()) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0 && out.length < 10_000) {
    const pid = stack.pop() as number;
    out.push(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out.filter((pid) => {
    try {
      readFileSync(`/proc/${pid}/stat`);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * CPU time (user + system, seconds) each process has used so far, from /proc/PID/stat;
 * processes gone are left out. Linux counts in clock ticks of 1/100 s (USER_HZ, fixed at
 * 100 for user space whatever the kernel's own HZ).
 */
export function cpuSeconds(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(rest[11]) + Number(rest[12])) / 100);
    } catch {
      // exited
    }
  }
  return out;
}

/** Start time of a process in clock ticks since boot (tells a pid from a reused one). */
export function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function statusKb(pid: number, field: string, file = 'status'): number {
  try {
    const text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples the resident memory of a process tree. `peakSum` is the largest sum of VmRSS
 * seen at one instant (what the machine had to hold); `hwmSum` adds up each process's own
 * peak (VmHWM), an upper bound that also catches spikes between two samples. Pages shared
 * between processes (forked Python workers) count once per process in RSS; `peakPss`
 * (proportional set size) splits them among the sharers instead.
 */
export class MemorySampler {
  private timer: NodeJS.Timeout | null = null;
  private hwm = new Map<number, number>();
  private peak = 0;
  private pss = 0;
  private windowPeak = 0;
  private last = 0;

  constructor(private readonly root: number, private readonly intervalMs = 250) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }

  /** Starts a new window for `windowPeakBytes` (e.g. the ingest phase alone). */
  resetWindow(): void {
    this.windowPeak = this.last;
  }

  sample(): void {
    let sum = 0;
    let pss = 0;
    for (const pid of processTree(this.root)) {
      const rss = statusKb(pid, 'VmRSS');
      if (rss === 0) continue; // kernel thread or gone
      sum += rss;
      pss += statusKb(pid, 'Pss', 'smaps_rollup');
      this.hwm.set(pid, Math.max(this.hwm.get(pid) ?? 0, statusKb(pid, 'VmHWM')));
    }
    this.last = sum * 1024;
    this.peak = Math.max(this.peak, this.last);
    this.pss = Math.max(this.pss, pss * 1024);
    this.windowPeak = Math.max(this.windowPeak, this.last);
  }

  get peakBytes(): number {
    return this.peak;
  }
  get peakPssBytes(): number {
    return this.pss;
  }
  get windowPeakBytes(): number {
    return this.windowPeak;
  }
  get hwmSumBytes(): number {
    let s = 0;
    for (const v of this.hwm.values()) s += v;
    return s * 1024;
  }
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Runs a full collection of the bench's own heap before a timed ingest window. The bench is
 * the client of every target and shares their two cores, and a batched cell's window on
 * Tally lasts 60-100 ms: a major collection of the bench falling inside it is a fifth of it
 * or more, charged to the faster target. After a reference's first group (its reads and
 * aggregates grow the bench's heap) one fell in Tally's next cold window every time it was
 * profiled (11 of 43-53 samples in the bench's collector); collected before the window,
 * none did. Not before the windows whose client allocates as it goes: before each round of
 * metric creations it cost 15-20 % of the rate (not profiled; the likely cause is the young
 * generation, which a forced collection leaves small, filling with the decoded answers).
 * `gc` is not exposed without --expose-gc; the flag set at run time exposes it in a new
 * context, so the bench needs no option of its own.
 */
export function collectBenchGarbage(): void {
  benchGc ??= exposeGc();
  benchGc();
}

let benchGc: (() => void) | undefined;

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('--expose-gc did not expose gc');
  return gc as () => void;
}
