// Parsers of the Linux files the host pollster reads, from their text: pure functions, so
// that each format is checked on its own. Formats are the kernel's (Documentation/
// filesystems/proc.rst, admin-guide/iostats.rst).

/** Jiffies per second of /proc/stat: USER_HZ, which the kernel exports as 100 on every common architecture. */
export const USER_HZ = 100;
/** /proc/diskstats counts sectors of 512 bytes whatever the device's own sector size. */
export const DISKSTAT_SECTOR_BYTES = 512;

export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
export type CpuMode = (typeof CPU_MODES)[number];
export type CpuTimes = Record<CpuMode, number>;

/** The aggregate `cpu` line of /proc/stat, in jiffies per mode (guest time is within user and nice). */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error('/proc/stat: no cpu line');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const t = {} as CpuTimes;
  CPU_MODES.forEach((m, i) => (t[m] = f[i] ?? 0));
  return t;
}

export interface LoadAverage { one: number; five: number; fifteen: number }

export function parseLoadavg(text: string): LoadAverage {
  const [one, five, fifteen] = text.trim().split(/\s+/).map(Number);
  if (![one, five, fifteen].every(Number.isFinite)) throw new Error(`/proc/loadavg: unexpected ${JSON.stringify(text)}`);
  return { one, five, fifteen };
}

/** /proc/meminfo: field name to its value in kB (the kernel's unit for every sized field). */
export function parseMeminfo(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const r = /^([^:]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (r) m.set(r[1], Number(r[2]));
  }
  return m;
}

export interface DiskStats {
  device: string;
  readsCompleted: number;
  sectorsRead: number;
  writesCompleted: number;
  sectorsWritten: number;
}

/** /proc/diskstats: one entry per block device and partition. */
export function parseDiskstats(text: string): DiskStats[] {
  const out: DiskStats[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    out.push({
      device: f[2],
      readsCompleted: Number(f[3]),
      sectorsRead: Number(f[5]),
      writesCompleted: Number(f[7]),
      sectorsWritten: Number(f[9]),
    });
  }
  return out;
}

export interface InterfaceStats {
  name: string;
  rxBytes: number; rxPackets: number; rxErrors: number; rxDrop: number;
  txBytes: number; txPackets: number; txErrors: number; txDrop: number;
}

/** /proc/net/dev: counters per interface (two header lines, then `name: 8 receive and 8 transmit fields`). */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16) continue;
    out.push({
      name: line.slice(0, colon).trim(),
      rxBytes: f[0], rxPackets: f[1], rxErrors: f[2], rxDrop: f[3],
      txBytes: f[8], txPackets: f[9], txErrors: f[10], txDrop: f[11],
    });
  }
  return out;
}

/** One protocol's counters of /proc/net/snmp (a line of names, then a line of values). */
export function parseNetSnmp(text: string, protocol: string): Map<string, number> {
  const lines = text.split('\n').filter((l) => l.startsWith(`${protocol}:`));
  const m = new Map<string, number>();
  if (lines.length < 2) return m;
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  names.forEach((n, i) => m.set(n, values[i]));
  return m;
}

export interface Mount { device: string; mountPoint: string; fsType: string }

/** Octal escapes (\040 for a space) of /proc/self/mounts. */
const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/**
 * Mounts of block devices (the device is a path under /dev), one per device: the first
 * mount of a device stands for it, as df lists a device once.
 */
export function parseMounts(text: string): Mount[] {
  const seen = new Set<string>();
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 3) continue;
    const device = unescapeMount(f[0]);
    if (!device.startsWith('/dev/') || seen.has(device)) continue;
    seen.add(device);
    out.push({ device, mountPoint: unescapeMount(f[1]), fsType: f[2] });
  }
  return out;
}
