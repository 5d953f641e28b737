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
