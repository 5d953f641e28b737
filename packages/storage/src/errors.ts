/** The file system refused the operation (disk full, read-only, I/O error): answer 503. */
export class StorageUnavailableError extends Error {
  readonly code: string | undefined;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
    this.code = errnoCode(options?.cause);
  }
}

/** A manifest or split file fails its checksum or layout checks. */
export class CorruptStorageError extends Error {
  constructor(readonly file: string, reason: string) {
    super(`corrupt storage file ${file}: ${reason}`);
    this.name = 'CorruptStorageError';
  }
}

export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isMissing(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT';
}

/** System errors (errno codes) become StorageUnavailableError; anything else is a bug, kept. */
export function asUnavailable(err: unknown, what: string): unknown {
  if (err instanceof StorageUnavailableError) return err;
  const code = errnoCode(err);
  if (code === undefined || !code.startsWith('E')) return err;
  return new StorageUnavailableError(`${what}: ${code}`, { cause: err });
}
