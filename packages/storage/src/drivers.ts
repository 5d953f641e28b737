// Aggregate storage drivers by URL scheme. A driver is one file implementing
// AggregateStorage; it is registered here under its scheme (see docs/ARCHITECTURE.md,
// "Adding a driver").
import { StorageConfigError } from './errors.js';
import { fileStorageDriver } from './file-storage.js';
import type { AggregateStorage } from './types.js';

export interface StorageOpenOptions {
  /**
   * The storage serves a thread that runs nothing else (a processing thread), which a
   * driver may block on local file operations rather than hand them to the thread pool.
   */
  dedicatedThread?: boolean;
}

export interface StorageDriver {
  open(url: string, options?: StorageOpenOptions): Promise<AggregateStorage>;
}

// Drivers other than the embedded default are imported when a URL names them: their client
// libraries (the AWS SDK, ioredis) cost every process, and each of its processing threads,
// tens of megabytes of memory for nothing in a deployment that does not use them.
const s3: StorageDriver = { open: async (url, options) => (await import('./s3-storage.js')).s3StorageDriver.open(url, options) };

/** Scheme (as URL.protocol gives it, with the colon) -> driver. */
const DRIVERS = new Map<string, StorageDriver>([
  ['file:', fileStorageDriver],
  ['s3:', s3],
]);

/**
 * Opens the aggregate storage `url` names (`file:///var/lib/tally/storage`,
 * `s3://KEY:SECRET@host:port/bucket?region=...&tls=false&prefix=...`).
 */
export async function openStorage(url: string, options: StorageOpenOptions = {}): Promise<AggregateStorage> {
  const known = [...DRIVERS.keys()].map((s) => `${s}//`).join(', ');
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new StorageConfigError(`storage URL ${JSON.stringify(url)} is not a URL (known schemes: ${known})`);
  }
  const driver = DRIVERS.get(scheme);
  if (!driver) throw new StorageConfigError(`storage URL ${url}: unknown scheme ${scheme} (known schemes: ${known})`);
  return driver.open(url, options);
}
