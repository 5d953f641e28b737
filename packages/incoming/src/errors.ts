/**
 * The store cannot accept writes right now (disk full, read-only or failing file
 * system, out of descriptors). The API answers 503; nothing of the failed add is visible.
 */
export class IncomingUnavailableError extends Error {
  readonly code: string | undefined;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IncomingUnavailableError';
    this.code = errnoCode(options?.cause);
  }
}

/** The folder was created with another sack count (or another format). */
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

export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** System errors (errno codes) on the write path mean the storage, not the request, failed. */
export function asUnavailable(err: unknown, what: string): unknown {
  if (err instanceof IncomingUnavailableError) return err;
  const code = errnoCode(err);
  if (code === undefined || !code.startsWith('E')) return err;
  return new IncomingUnavailableError(`${what}: ${code}`, { cause: err });
}
