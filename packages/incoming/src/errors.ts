import { systemErrorCode } from '@tally/files';

/**
 * The store cannot accept writes right now (disk full, read-only or failing file
 * system, out of descriptors). The API answers 503; nothing of the failed add is visible.
 */
export class IncomingUnavailableError extends Error {
  readonly code: string | undefined;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IncomingUnavailableError';
    this.code = systemErrorCode(options?.cause);
  }
}

/**
 * The store's configuration is not usable: a folder created with another sack count or
 * format, an unknown URL scheme, an operation its driver does not support.
 */
export class IncomingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IncomingConfigError';
  }
}

export class IncomingClosedError extends Error {
  constructor() {
    super('incoming store is closed');
    this.name = 'IncomingClosedError';
  }
}

/** System errors (errno codes) on the write path mean the storage, not the request, failed. */
export function asUnavailable(err: unknown, what: string): unknown {
  if (err instanceof IncomingUnavailableError) return err;
  const code = systemErrorCode(err);
  if (code === undefined) return err;
  return new IncomingUnavailableError(`${what}: ${code}`, { cause: err });
}
