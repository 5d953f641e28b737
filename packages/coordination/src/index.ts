export type { Coordinator, Lock, LockOptions } from './types.js';
export { openCoordinator } from './drivers.js';
export type { CoordinatorDriver } from './drivers.js';
export { LocalCoordinator } from './local.js';
export type { LocalCoordinatorOptions } from './local.js';
export {
  LockTimeoutError, CoordinatorClosedError, CoordinationConfigError, CoordinationUnavailableError, LockLostError,
} from './errors.js';
export type { RedisCoordinator, RedisMembership } from './redis.js';
export type { GroupMember, JoinOptions, Membership, MembershipChange, MembershipWatch } from './membership.js';
export { MemberExistsError, MembershipClosedError, diffMembers, pollingWatch } from './membership.js';
export { openMembership } from './membership-drivers.js';
export type { MembershipDriver } from './membership-drivers.js';
export { LocalMembership, MEMBERSHIP_FILE } from './local-membership.js';
export type { LocalMembershipOptions } from './local-membership.js';
export { HashRing, ringPosition, DEFAULT_VIRTUAL_NODES } from './hash-ring.js';
export type { HashRingOptions } from './hash-ring.js';
export { RingPartition } from './partition.js';
export type { RingPartitionOptions } from './partition.js';
export { Leadership } from './leader.js';
export type { LeadershipOptions } from './leader.js';
