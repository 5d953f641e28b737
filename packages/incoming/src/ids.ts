import { randomBytes } from 'node:crypto';
import type { ParkedEntry } from './types.js';

// Batch id: <ms since epoch, 12 hex>-<per-process counter, 8 hex>-<pid 8 hex + random 4 hex>.
// Lexicographic order is time order (the counter orders ids of the same millisecond within
// a process); the last part keeps ids unique across processes and hosts sharing the folder.
export const BATCH_ID = /^[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{12}$/;

const instance =
  process.pid.toString(16).padStart(8, '0').slice(-8) + randomBytes(2).toString('hex');
let counter = 0;
let lastMs = 0;

export function nextBatchId(): string {
  // Never go back in time within a process, even if the wall clock does.
  lastMs = Math.max(lastMs, Date.now());
  counter = (counter + 1) % 0x100000000;
  const ms = lastMs.toString(16).padStart(12, '0');
  return `${ms}-${counter.toString(16).padStart(8, '0')}-${instance}`;
}

/** Length of every batch id. */
const BATCH_ID_LENGTH = 34;

/** A parked entry's name in every driver: "<batch id>.<metric id>". */
export function parkedName(entry: ParkedEntry): string {
  if (!BATCH_ID.test(entry.batchId)) throw new RangeError(`invalid batch id ${JSON.stringify(entry.batchId)}`);
  if (entry.metricId.length === 0) throw new RangeError('empty metric id');
  return `${entry.batchId}.${entry.metricId}`;
}

/** The entry a parkedName names; null for another name (a temp file). */
export function parkedEntryOf(name: string): ParkedEntry | null {
  const batchId = name.slice(0, BATCH_ID_LENGTH);
  if (name[BATCH_ID_LENGTH] !== '.' || name.length === BATCH_ID_LENGTH + 1 || !BATCH_ID.test(batchId)) return null;
  return { batchId, metricId: name.slice(BATCH_ID_LENGTH + 1) };
}

/** Process id encoded in a batch id (used to tell a crashed writer's temp file from a live one). */
export function pidOfBatchId(id: string): number {
  return parseInt(id.slice(22, 30), 16);
}

/**
 * The canonical UUID form metric ids have once the indexer has them (parseUuid in
 * @tally/indexer reads the other spellings): only that form is placed by its number.
 */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Sack of a metric. For UUIDs this is Gnocchi's `uuid.int % sacks` (computed digit by
 * digit, exact for any sack count below 2^48) so both place metrics alike; other ids use FNV-1a.
 */
export function sackFor(metricId: string, sacks: number): number {
  if (CANONICAL_UUID.test(metricId)) {
    let r = 0;
    for (const ch of metricId) {
      if (ch !== '-') r = (r * 16 + parseInt(ch, 16)) % sacks;
    }
    return r;
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < metricId.length; i++) {
    h = Math.imul(h ^ metricId.charCodeAt(i), 0x01000193);
  }
  return (h >>> 0) % sacks;
}
