export type { Coordinator, Lock, LockOptions } from './types.js';
export {
  LocalCoordinator,
  LockTimeoutError,
  CoordinatorClosedError,
  lockFileName,
} from './local.js';
export type { LocalCoordinatorOptions } from './local.js';
export { FileMembership } from './membership.js';
export type { FileMembershipOptions, Member } from './membership.js';
