// @tally/timeseries: the pure timeseries engine (no I/O).
export * from './time.js';
export * from './policy.js';
export * from './pyfloat.js';
export * from './pyjson.js';
export * from './fnmatch.js';
export * from './aggregate.js';
export * from './engine/index.js';
export * from './ops/index.js';
export * from './calendar.js';
export * from './nanos64.js';
export { CorruptDataError, MAX_POINTS, blobAnatomy, type BlobAnatomy } from './chunkenc/index.js';
export {
  readVarint, writeVarint, varintSize, zigzag, unzigzag, MAX_VARINT_BYTES, VARINT_TOO_LARGE, VARINT_TRUNCATED, VARINT_TOO_LONG,
  type ByteCursor,
} from './chunkenc/varint.js';
