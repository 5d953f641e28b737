// Incoming drivers by URL scheme. A driver is one file implementing IncomingStore; it is
// registered here under its scheme (see docs/ARCHITECTURE.md, "Adding a driver").
import { IncomingConfigError } from './errors.js';
import { fileIncomingDriver } from './file-store.js';
import type { IncomingStore } from './types.js';

export interface OpenIncomingOptions {
  /**
   * Sack count the store must have. A new store is created with it (default
   * DEFAULT_SACKS); an existing one with another count is refused (IncomingConfigError).
   */
  sacks?: number;
  /**
   * The store serves a thread that runs nothing else (a processing thread), which a driver
   * may block on local file reads rather than hand them to the thread pool.
   */
  dedicatedThread?: boolean;
}

export interface IncomingDriver {
  open(url: string, options: OpenIncomingOptions): Promise<IncomingStore>;
  /**
   * Changes the sack count of a store holding no measures, every process using it being
   * stopped (Gnocchi's change-sack-size). Absent when the driver cannot.
   */
  changeSackCount?(url: string, sacks: number): Promise<{ from: number; to: number }>;
}

// Drivers other than the embedded default are imported when a URL names them: their client
// libraries (the AWS SDK, ioredis) cost every process, and each of its processing threads,
// tens of megabytes of memory for nothing in a deployment that does not use them.
const redis = (): Promise<IncomingDriver> => import('./redis-store.js').then((m) => m.redisIncomingDriver);
const redisIncomingDriver: IncomingDriver = {
  open: async (url, options) => (await redis()).open(url, options),
  changeSackCount: async (url, sacks) => {
    const driver = await redis();
    if (!driver.changeSackCount) throw new IncomingConfigError(`incoming URL ${url}: its driver cannot change the sack count`);
    return driver.changeSackCount(url, sacks);
  },
};

/** Scheme (as URL.protocol gives it, with the colon) -> driver. */
const DRIVERS = new Map<string, IncomingDriver>([
  ['file:', fileIncomingDriver],
  ['redis:', redisIncomingDriver],
  ['rediss:', redisIncomingDriver],
  ['redis+unix:', redisIncomingDriver],
]);

function driverOf(url: string): IncomingDriver {
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new IncomingConfigError(`incoming URL ${JSON.stringify(url)} is not a URL (known schemes: ${known()})`);
  }
  const driver = DRIVERS.get(scheme);
  if (!driver) throw new IncomingConfigError(`incoming URL ${url}: unknown scheme ${scheme} (known schemes: ${known()})`);
  return driver;
}

function known(): string {
  return [...DRIVERS.keys()].map((s) => `${s}//`).join(', ');
}

/** Opens the incoming store `url` names (`file:///var/lib/tally/incoming`, `redis://host:6379/0`). */
export async function openIncoming(url: string, options: OpenIncomingOptions = {}): Promise<IncomingStore> {
  return driverOf(url).open(url, options);
}

/** `tally change-sack-size`: refused (IncomingConfigError) by drivers that cannot. */
export async function changeSackCount(url: string, sacks: number): Promise<{ from: number; to: number }> {
  const driver = driverOf(url);
  if (!driver.changeSackCount) {
    throw new IncomingConfigError(`incoming URL ${url}: its driver cannot change the sack count`);
  }
  return driver.changeSackCount(url, sacks);
}
