export type { AggregateStorage, CommitChange, MetricRecord } from './types.js';
export { FileAggregateStorage } from './file-storage.js';
export type { FileAggregateStorageOptions } from './file-storage.js';
export { StorageUnavailableError, CorruptStorageError } from './errors.js';
