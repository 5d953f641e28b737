export type { Coordinator, Lock, LockOptions } from './types.js';
export { openCoordinator } from './drivers.js';
export type { CoordinatorDriver } from './drivers.js';
export { LocalCoordinator } from './local.js';
export type { LocalCoordinatorOptions } from './local.js';
export { LockTimeoutError, CoordinatorClosedError, CoordinationConfigError } from './errors.js';
