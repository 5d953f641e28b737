export type { Measures, Backlog, BacklogOptions, IncomingStore, ParkedEntry } from './types.js';
export { openIncoming, changeSackCount } from './drivers.js';
export type { IncomingDriver, OpenIncomingOptions } from './drivers.js';
export { FileIncomingStore, DEFAULT_SACKS } from './file-store.js';
export type { FileIncomingStoreOptions } from './file-store.js';
export type { RedisIncomingStore } from './redis-store.js';
export { IncomingUnavailableError, IncomingConfigError, IncomingClosedError } from './errors.js';
export { CorruptBatchError } from './batch-format.js';
export { sackFor } from './ids.js';
