// Coordination drivers by URL scheme. A driver is one file implementing Coordinator; it is
// registered here under its scheme (see docs/ARCHITECTURE.md, "Adding a driver").
import { CoordinationConfigError } from './errors.js';
import { fileCoordinatorDriver } from './local.js';
import { etcdCoordinatorDriver } from './etcd.js';
import { postgresCoordinatorDriver } from './postgres.js';
import type { Coordinator } from './types.js';

export interface CoordinatorDriver {
  open(url: string): Promise<Coordinator>;
}

/** Scheme (as URL.protocol gives it, with the colon) -> driver. */
// Drivers other than the embedded default are imported when a URL names them: their client
// libraries (the AWS SDK, ioredis) cost every process, and each of its processing threads,
// tens of megabytes of memory for nothing in a deployment that does not use them.
const redisCoordinatorDriver: CoordinatorDriver = { open: async (url) => (await import('./redis.js')).redisCoordinatorDriver.open(url) };

const DRIVERS = new Map<string, CoordinatorDriver>([
  ['file:', fileCoordinatorDriver],
  ['etcd:', etcdCoordinatorDriver],
  ['postgresql:', postgresCoordinatorDriver], ['postgres:', postgresCoordinatorDriver],
  ['redis:', redisCoordinatorDriver],
  ['rediss:', redisCoordinatorDriver],
  ['redis+unix:', redisCoordinatorDriver],
]);

/** Opens the coordinator `url` names (`file:///var/lib/tally/locks`, `redis://host:6379/0`). */
export async function openCoordinator(url: string): Promise<Coordinator> {
  return driverFor(DRIVERS, url).open(url);
}

/**
 * The driver registered for the scheme of `url`; CoordinationConfigError naming the known
 * schemes otherwise. Shared by the registries of each coordination role.
 */
export function driverFor<D>(drivers: ReadonlyMap<string, D>, url: string): D {
  const known = [...drivers.keys()].map((s) => `${s}//`).join(', ');
  // The scheme alone, not WHATWG URL parsing: etcd's host lists (h1:2379,h2:2379) are not
  // valid URL authorities, and each driver parses its own URL.
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:)\/\//.exec(url);
  if (m === null) throw new CoordinationConfigError(`coordination URL ${JSON.stringify(url)} is not a URL (known schemes: ${known})`);
  const scheme = m[1].toLowerCase();
  const driver = drivers.get(scheme);
  if (!driver) throw new CoordinationConfigError(`coordination URL ${url}: unknown scheme ${scheme} (known schemes: ${known})`);
  return driver;
}
