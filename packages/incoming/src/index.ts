export type { Measures, Backlog, BacklogOptions, IncomingStore } from './types.js';
export { FileIncomingStore, changeSackCount, DEFAULT_SACKS } from './file-store.js';
export type { FileIncomingStoreOptions } from './file-store.js';
export { IncomingUnavailableError, IncomingConfigError, IncomingClosedError } from './errors.js';
export { CorruptBatchError } from './batch-format.js';
export { sackFor } from './ids.js';
