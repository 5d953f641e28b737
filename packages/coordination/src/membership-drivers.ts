// Membership drivers by URL scheme, as drivers.ts does for locks: a deployment names one
// coordination URL and gets both locks and membership from the same backend.
import { driverFor } from './drivers.js';
import { fileMembershipDriver } from './local-membership.js';
import { etcdMembershipDriver } from './etcd.js';
import { postgresMembershipDriver } from './postgres.js';
import type { Membership } from './membership.js';

export interface MembershipDriver {
  open(url: string): Promise<Membership>;
}

/** Scheme (as URL.protocol gives it, with the colon) -> driver. */
// Redis' client library is imported when a URL names it (see drivers.ts).
const redisMembershipDriver: MembershipDriver = { open: async (url) => (await import('./redis.js')).redisMembershipDriver.open(url) };

const DRIVERS = new Map<string, MembershipDriver>([
  ['file:', fileMembershipDriver],
  ['etcd:', etcdMembershipDriver],
  ['postgresql:', postgresMembershipDriver], ['postgres:', postgresMembershipDriver],
  ['redis:', redisMembershipDriver],
  ['rediss:', redisMembershipDriver],
  ['redis+unix:', redisMembershipDriver],
]);

/** Opens the membership backend `url` names (`file:///var/lib/tally/locks`). */
export async function openMembership(url: string): Promise<Membership> {
  return driverFor(DRIVERS, url).open(url);
}
