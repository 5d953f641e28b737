// Timestamps as Aodh writes them: naive UTC with microseconds. Stored with a fixed
// six-digit fraction (so text order is time order); answered as Python's isoformat(),
// which leaves the fraction out when it is zero.
import { parseTimestamp } from '@tally/timeseries';

let lastIssued = 0n;

/**
 * Microseconds since the epoch, strictly increasing within the process: two changes made
 * one after the other (a creation, then its first update) never share a timestamp, so
 * history sorted by time keeps their order.
 */
export function nowMicros(): bigint {
  const wall = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
  lastIssued = wall > lastIssued ? wall : lastIssued + 1n;
  return lastIssued;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The stored form: `YYYY-MM-DDTHH:MM:SS.ffffff`. */
export function storedTimestamp(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const d = new Date(ms);
  const frac = Number(((micros % 1_000_000n) + 1_000_000n) % 1_000_000n);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(frac, 6)}`;
}

/** Microseconds since the epoch of a stored timestamp. */
export function microsFromStored(stored: string): bigint {
  const [whole, frac] = stored.split('.');
  return BigInt(Date.parse(`${whole}Z`)) * 1000n + BigInt(frac ?? '0');
}

export const nowStored = (): string => storedTimestamp(nowMicros());

/** Python's datetime.isoformat() of a stored timestamp. */
export function isoFromStored(stored: string): string {
  return stored.endsWith('.000000') ? stored.slice(0, -7) : stored;
}

// Date, then optionally a time with an optional fraction and zone: the ISO 8601 forms
// Aodh's parse_isotime reads.
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** An ISO 8601 timestamp given by a client, in the stored form (UTC); null when it is not one. */
export function storedFromIso(input: string): string | null {
  if (!ISO.test(input.trim())) return null;
  let ns: bigint;
  try {
    ns = parseTimestamp(input.trim());
  } catch {
    return null;
  }
  return storedTimestamp(ns / 1000n);
}
