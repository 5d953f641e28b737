/** Raised by `lock()` when the lock could not be taken within `timeoutMs`. */
export class LockTimeoutError extends Error {
  constructor(readonly lockName: string, readonly timeoutMs: number) {
    super(`could not acquire lock "${lockName}" within ${timeoutMs} ms`);
    this.name = 'LockTimeoutError';
  }
}

/** Raised when the coordinator is used after `close()`. */
export class CoordinatorClosedError extends Error {
  constructor() {
    super('coordinator is closed');
    this.name = 'CoordinatorClosedError';
  }
}

/** The coordination URL names no known driver, or a place the driver cannot use. */
export class CoordinationConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoordinationConfigError';
  }
}

/**
 * The coordination backend cannot be reached or cannot serve now (a server down, a
 * connection lost): the operation may succeed later.
 */
export class CoordinationUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoordinationUnavailableError';
  }
}
