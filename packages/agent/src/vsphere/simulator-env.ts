// What the vSphere tests share: where the simulator is (set by scripts/agent-vsphere-test),
// and a count of this process's sockets connected to it, read from the kernel's tables so
// that a socket the client forgot about is counted too.

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export const VSPHERE_URL = process.env.VSPHERE_URL;

/** `skip` for node:test when no simulator runs, saying which script runs these tests. */
export const SKIP: string | false = VSPHERE_URL
  ? false
  : 'VSPHERE_URL is unset: scripts/agent-vsphere-test starts the vSphere simulator and runs these tests';

/** The credentials the simulator accepts (any non-empty pair when it has none set). */
export function credentials(): { username: string; password: string; fixed: boolean } {
  const username = process.env.VSPHERE_USERNAME;
  const password = process.env.VSPHERE_PASSWORD;
  if (username && password !== undefined) return { username, password, fixed: true };
  return { username: 'tally', password: 'tally', fixed: false };
}

export function simulatorPort(): number {
  const u = new URL(VSPHERE_URL ?? 'https://127.0.0.1/');
  return Number(u.port || (u.protocol === 'https:' ? 443 : 80));
}

/** Established TCP connections of this process to `port` on any address. */
export function socketsTo(port: number): number {
  const inodes = new Set<string>();
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const remote = f[2] ?? '';
      const state = f[3];
      const remotePort = parseInt(remote.slice(remote.indexOf(':') + 1), 16);
      if (remotePort === port && state === '01') inodes.add(f[9] ?? '');
    }
  }
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m && inodes.has(m[1] ?? '')) n++;
    } catch {
      // closed while listing
    }
  }
  return n;
}

/** Lets handles closed in this turn finish closing. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}
