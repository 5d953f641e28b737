import { systemErrorCode } from '@tally/files';

/** The file system refused the operation (disk full, read-only, I/O error): answer 503. */
export class StorageUnavailableError extends Error {
  readonly code: string | undefined;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
    this.code = systemErrorCode(options?.cause);
  }
}

/** A manifest or split file fails its checksum or layout checks. */
export class CorruptStorageError extends Error {
  constructor(readonly file: string, reason: string) {
    super(`corrupt storage file ${file}: ${reason}`);
    this.name = 'CorruptStorageError';
  }
}

/** The storage URL names no known driver, or a place the driver cannot use. */
export class StorageConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageConfigError';
  }
}

/** System errors (errno codes) become StorageUnavailableError; anything else is a bug, kept. */
export function asUnavailable(err: unknown, what: string): unknown {
  if (err instanceof StorageUnavailableError) return err;
  const code = systemErrorCode(err);
  if (code === undefined) return err;
  return new StorageUnavailableError(`${what}: ${code}`, { cause: err });
}
