// What the two file drivers (locks in local.ts, membership in local-membership.ts) share:
// the folder a file:// coordination URL names, and SQLite's "someone else holds it" codes.
import { errnoCode, fileUrlPath } from '@tally/files';
import { CoordinationConfigError } from './errors.js';

/** The folder of a `file:///path` coordination URL; CoordinationConfigError when it names none. */
export function coordinationFolder(url: string): string {
  try {
    return fileUrlPath(url);
  } catch (err) {
    throw new CoordinationConfigError(`coordination URL ${(err as Error).message}`);
  }
}

/** SQLite could not take the lock it needed now (another connection holds it). */
export function isBusy(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}
