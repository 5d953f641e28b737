// One libvirt polling cycle (discover + poll) against a real libvirtd's test driver with
// N domains carrying Nova metadata: wall time and the agent's CPU time per cycle, the
// daemon's CPU time per cycle, and the calls made per cycle. The first cycle reads every
// domain's XML; the later ones read none (cached). libvirt 9's test driver answers the bulk
// statistics call with the state group only, so each later cycle is one bulk call plus the
// per-domain calls that fill the other groups for the running domains (5 per domain with
// one disk, 7 with two; see fallback.ts). With QEMU the bulk call alone does it.
//   LIBVIRT_SOCKET=... node packages/agent/dist/libvirt/pollster.bench.js [N ...]   (default 200 1000)
// scripts/agent-libvirt-test --bench starts the daemon and runs it.
//
// Measured on the shared 2-core development container (libvirt 9.0, Node 20, load average
// 4-5 from other work); later cycles, median of 10, the spread over several runs:
//   domains  wall        agent CPU   libvirtd CPU  calls per cycle
//   200      88-190 ms   54-86 ms    40-80 ms      1 list + 1 bulk + 946 per-domain (172 running)
//            (typically ~100 ms wall, ~70 ms CPU)
//   1000     315-600 ms  155-290 ms  260-380 ms    1 list + 1 bulk + 4718 per-domain (858 running)
//            (typically ~400 ms wall, ~200 ms CPU)
// For scale, the same cycles asking for power.state alone (the bulk call, no per-domain
// call) take 5-7 ms wall / 5 ms CPU for 200 domains and 17-21 ms / 12-15 ms for 1000.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PollContext } from '../pollster.js';
import { LibvirtPollster, parseLibvirtOptions } from './pollster.js';
import { Procedure } from './rpc.js';
import { LIBVIRT_SOCKET, SKIP_WITHOUT_DAEMON, nodeGenerator, tempDir } from './testing.js';

const STEADY_CYCLES = 10;

function daemonCpuMs(): number | null {
  try {
    const pid = readFileSync('/run/libvirtd.pid', 'utf8').trim();
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime, fields 14 and 15 of stat (11 and 12 after the command name), in ticks.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(n: number, dir: string): Promise<void> {
  const gen = await nodeGenerator();
  const file = path.join(dir, `node-${n}.xml`);
  writeFileSync(file, gen.makeNode(n));
  const p = new LibvirtPollster('libvirt', parseLibvirtOptions({ uri: `test://${file}`, socket: LIBVIRT_SOCKET }), { log: () => undefined });
  const ctx: PollContext = { signal: new AbortController().signal, log: () => undefined, wants: () => true };
  const one = async (): Promise<{ wallMs: number; cpuMs: number; daemonMs: number | null; samples: number }> => {
    const d0 = daemonCpuMs();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const samples = await p.poll(ctx, await p.discover(ctx));
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const d1 = daemonCpuMs();
    return { wallMs, cpuMs: (c.user + c.system) / 1000, daemonMs: d0 === null || d1 === null ? null : d1 - d0, samples: samples.length };
  };
  try {
    const cold = await one();
    const xmlCalls = p.client.callCount(Procedure.DOMAIN_GET_XML_DESC);
    const before = new Map(Object.values(Procedure).map((proc) => [proc, p.client.callCount(proc)]));
    const steady = [];
    for (let i = 0; i < STEADY_CYCLES; i++) steady.push(await one());
    const perCycle = Object.entries(Procedure)
      .map(([name, proc]) => [name, (p.client.callCount(proc) - (before.get(proc) ?? 0)) / STEADY_CYCLES] as const)
      .filter(([, n]) => n > 0);
    const f = (x: number): string => x.toFixed(1).padStart(7);
    console.log(`${String(n).padStart(5)} domains  first cycle: wall ${f(cold.wallMs)} ms  cpu ${f(cold.cpuMs)} ms  ` +
      `libvirtd ${cold.daemonMs === null ? '?' : f(cold.daemonMs)} ms  (${xmlCalls} XML reads)`);
    console.log(`${' '.repeat(14)}later cycles (median of ${STEADY_CYCLES}): wall ${f(median(steady.map((s) => s.wallMs)))} ms  ` +
      `cpu ${f(median(steady.map((s) => s.cpuMs)))} ms  libvirtd ${steady[0].daemonMs === null ? '?' : f(median(steady.map((s) => s.daemonMs ?? 0)))} ms  ` +
      `${steady[0].samples} samples`);
    console.log(`${' '.repeat(14)}calls per later cycle: ${perCycle.map(([name, k]) => `${name} ${k}`).join(', ')} ` +
      `(${perCycle.reduce((a, [, k]) => a + k, 0)} in all)`);
  } finally {
    await p.close();
  }
}

if (SKIP_WITHOUT_DAEMON) {
  console.log(`skipped: LIBVIRT_SOCKET is unset (scripts/agent-libvirt-test --bench starts libvirtd and runs this benchmark)`);
} else {
  const sizes = process.argv.slice(2).map(Number);
  const tmp = tempDir('tally-libvirt-bench-');
  try {
    for (const n of sizes.length > 0 ? sizes : [200, 1000]) await measure(n, tmp.dir);
  } finally {
    tmp.remove();
  }
}
