export type { AggregateStorage, CommitChange, MetricRecord, MetricSnapshot, MetricUpdate } from './types.js';
export { openStorage } from './drivers.js';
export type { StorageDriver, StorageOpenOptions } from './drivers.js';
export { FileAggregateStorage } from './file-storage.js';
export type { FileAggregateStorageOptions } from './file-storage.js';
export type { S3AggregateStorage, S3AggregateStorageOptions } from './s3-storage.js';
export { StorageUnavailableError, CorruptStorageError, StorageConfigError } from './errors.js';
