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
 * The coordination backend (a server) could not be reached or answered with a failure,
 * after the driver's bounded retries. Nothing is known to have changed: a lock asked for is
 * not held, a release may not have happened (the lock then goes with the holder's lease or
 * session).
 */
export class CoordinationUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoordinationUnavailableError';
  }
}

/** The reason a lock's `signal` aborts with: the holder can no longer count on holding it. */
export class LockLostError extends Error {
  constructor(readonly lockName: string, why: string) {
    super(`lock "${lockName}" lost: ${why}`);
    this.name = 'LockLostError';
  }
}
