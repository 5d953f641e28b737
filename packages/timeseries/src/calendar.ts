// Calendar resampling: Gnocchi's calendar groupings (year, half-year, quarter, month,
// week starting on Sunday) evaluated in a time zone. Gnocchi groups in UTC; Tally also
// groups in any IANA zone (via Intl), so that a month in Europe/Paris starts at local
// midnight on the 1st, whatever the offset is that day.
//
// Everything stays columnar: bucket boundaries are computed once per bucket (not per
// point), and offsets are looked up through a per-zone cache of one entry per UTC day.

import { lowerBound, reduceBuckets, type Buckets, type Series } from './aggregate.js';
import { formatTimestamp, NS_PER_SECOND, type Nanos } from './time.js';

/** Gnocchi's calendar.GROUPINGS names: year, half-year, quarter, month, week (from Sunday). */
export type CalendarUnit = 'Y' | 'H' | 'Q' | 'M' | 'W';

export const CALENDAR_UNITS: readonly CalendarUnit[] = ['Y', 'H', 'Q', 'M', 'W'];

/** True for the exact names Gnocchi accepts (case-sensitive: "y" is no grouping). */
export function isCalendarUnit(text: string): text is CalendarUnit {
  return (CALENDAR_UNITS as readonly string[]).includes(text);
}

/** A calendar resampling: a grouping evaluated in a time zone. */
export interface CalendarSampling {
  unit: CalendarUnit;
  zone: TimeZone;
}

export class UnknownTimeZoneError extends Error {
  override name = 'UnknownTimeZoneError';
  constructor(readonly zoneName: string) {
    super(`Unknown time zone: ${zoneName}`);
  }
}

/** Rates cannot be grouped by calendar (Gnocchi's carbonara refuses it too). */
export class CalendarDeriveError extends Error {
  override name = 'CalendarDeriveError';
  constructor() {
    super('Cannot derive aggregates on calendar granularities.');
  }
}

// ------------------------------------------------------------ civil dates

const SECONDS_PER_DAY = 86_400;

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, may overflow). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y0 = year + Math.floor((month - 1) / 12);
  const m = ((((month - 1) % 12) + 12) % 12) + 1;
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Inverse of daysFromCivil. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** First local day of the calendar bucket holding local day `days`, and of the next one. */
export function calendarDays(days: number, unit: CalendarUnit): { first: number; next: number } {
  if (unit === 'W') {
    // 1970-01-01 was a Thursday: Sunday-based weekday is (days + 4) mod 7.
    const first = days - ((((days + 4) % 7) + 7) % 7);
    return { first, next: first + 7 };
  }
  const { year, month } = civilFromDays(days);
  const span = unit === 'Y' ? 12 : unit === 'H' ? 6 : unit === 'Q' ? 3 : 1;
  const firstMonth = Math.floor((month - 1) / span) * span + 1;
  return { first: daysFromCivil(year, firstMonth, 1), next: daysFromCivil(year, firstMonth + span, 1) };
}

// ------------------------------------------------------------ time zones

interface DayOffsets {
  /** Offset (seconds east of UTC) at the start of the UTC day. */
  atStart: number;
  /** When the offset changes within the day: the first second with `after`. */
  change: number | null;
  after: number;
}

const CACHE_LIMIT = 8192;

/**
 * An IANA time zone. Offsets come from Intl (the tz database Node ships); a zone is
 * assumed to change its offset at most once within one UTC day, which holds for the
 * whole tz database.
 */
export class TimeZone {
  static readonly UTC = new TimeZone('UTC', null);
  private static readonly known = new Map<string, TimeZone>();

  private readonly days = new Map<number, DayOffsets>();

  private constructor(
    /** Canonical IANA name ("Europe/Paris"). */
    readonly name: string,
    private readonly format: Intl.DateTimeFormat | null,
  ) {}

  /** The zone named `name` (IANA, case-insensitive); throws UnknownTimeZoneError. */
  static of(name: string): TimeZone {
    const cached = TimeZone.known.get(name);
    if (cached !== undefined) return cached;
    let format: Intl.DateTimeFormat;
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
        hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short',
      });
    } catch {
      throw new UnknownTimeZoneError(name);
    }
    const canonical = format.resolvedOptions().timeZone;
    const zone = canonical === 'UTC' || canonical === 'Etc/UTC' ? TimeZone.UTC : new TimeZone(canonical, format);
    if (TimeZone.known.size < CACHE_LIMIT) TimeZone.known.set(name, zone);
    return zone;
  }

  get isUtc(): boolean {
    return this.format === null;
  }

  /** Offset from Intl at a whole second since the epoch. */
  private rawOffset(second: number): number {
    const parts = this.format!.formatToParts(new Date(second * 1000));
    const f: Record<string, string> = {};
    for (const p of parts) f[p.type] = p.value;
    let year = Number(f.year);
    if (f.era === 'BC' || f.era === 'B') year = 1 - year;
    const local = daysFromCivil(year, Number(f.month), Number(f.day)) * SECONDS_PER_DAY +
      Number(f.hour) * 3600 + Number(f.minute) * 60 + Number(f.second);
    return local - second;
  }

  private dayOffsets(day: number): DayOffsets {
    let d = this.days.get(day);
    if (d !== undefined) return d;
    const start = day * SECONDS_PER_DAY;
    const atStart = this.rawOffset(start);
    const after = this.rawOffset(start + SECONDS_PER_DAY);
    let change: number | null = null;
    if (after !== atStart) {
      // First second of the day whose offset is no longer atStart.
      let lo = start;
      let hi = start + SECONDS_PER_DAY;
      while (hi - lo > 1) {
        const mid = lo + Math.floor((hi - lo) / 2);
        if (this.rawOffset(mid) === atStart) lo = mid;
        else hi = mid;
      }
      change = hi;
    }
    d = { atStart, change, after };
    if (this.days.size >= CACHE_LIMIT) this.days.clear();
    this.days.set(day, d);
    return d;
  }

  /** Offset in seconds east of UTC at a second since the epoch. */
  offsetAtSecond(second: number): number {
    if (this.format === null) return 0;
    const d = this.dayOffsets(Math.floor(second / SECONDS_PER_DAY));
    return d.change !== null && second >= d.change ? d.after : d.atStart;
  }

  /** Offset in seconds east of UTC at `t`. */
  offsetAt(t: Nanos): number {
    if (this.format === null) return 0;
    return this.offsetAtSecond(Number(floorSeconds(t)));
  }

  /** The local day (days since 1970-01-01 on the local calendar) holding `t`. */
  localDay(t: Nanos): number {
    const s = Number(floorSeconds(t));
    return Math.floor((s + this.offsetAtSecond(s)) / SECONDS_PER_DAY);
  }

  /**
   * First instant (in seconds) of local day `day`: local midnight, or when midnight does
   * not exist (clocks jumped over it), the instant of the jump; when midnight happens
   * twice, the first one.
   */
  startOfDaySecond(day: number): number {
    const local = day * SECONDS_PER_DAY;
    if (this.format === null) return local;
    const before = this.offsetAtSecond(local - 2 * SECONDS_PER_DAY);
    const after = this.offsetAtSecond(local + 2 * SECONDS_PER_DAY);
    const valid = [before, after].map((o) => local - o).filter((s) => this.offsetAtSecond(s) === local - s);
    if (valid.length > 0) return Math.min(...valid);
    // In a gap: the first second whose local time is past midnight.
    let lo = local - Math.max(before, after);
    let hi = local - Math.min(before, after);
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (mid + this.offsetAtSecond(mid) >= local) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  startOfDay(day: number): Nanos {
    return BigInt(this.startOfDaySecond(day)) * NS_PER_SECOND;
  }
}

function floorSeconds(t: Nanos): bigint {
  const s = t / NS_PER_SECOND;
  return t < 0n && t % NS_PER_SECOND !== 0n ? s - 1n : s;
}

/** "+01:00", "-03:30", or "+00:09:21" for offsets with seconds (as Python prints them). */
export function formatOffset(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const a = Math.abs(offsetSeconds);
  const hh = String(Math.floor(a / 3600)).padStart(2, '0');
  const mm = String(Math.floor((a % 3600) / 60)).padStart(2, '0');
  const ss = a % 60;
  return `${sign}${hh}:${mm}${ss === 0 ? '' : ':' + String(ss).padStart(2, '0')}`;
}

/** formatTimestamp, written as the local time of `zone` with that zone's offset. */
export function formatTimestampIn(t: Nanos, zone: TimeZone): string {
  if (zone.isUtc) return formatTimestamp(t);
  const offset = zone.offsetAt(t);
  const text = formatTimestamp(t + BigInt(offset) * NS_PER_SECOND);
  return text.slice(0, -6) + formatOffset(offset);
}

// ------------------------------------------------------------ grouping

/** The calendar bucket holding `t`: [start, next). */
export function calendarBucket(t: Nanos, sampling: CalendarSampling): { start: Nanos; next: Nanos } {
  const { zone, unit } = sampling;
  let { first, next } = calendarDays(zone.localDay(t), unit);
  let start = zone.startOfDay(first);
  let end = zone.startOfDay(next);
  // Clocks set back over a bucket boundary show the previous bucket's dates again; those
  // instants belong to the bucket that had already begun (boundaries stay increasing).
  while (t >= end) {
    first = next;
    next = calendarDays(first, unit).next;
    start = end;
    end = zone.startOfDay(next);
  }
  return { start, next: end };
}

/** Group sorted timestamps ts[from..) into calendar buckets (one boundary computation per bucket). */
export function calendarBuckets(ts: BigInt64Array, sampling: CalendarSampling, from = 0): Buckets {
  const starts: bigint[] = [];
  const bounds: number[] = [];
  let i = from;
  while (i < ts.length) {
    const { start, next } = calendarBucket(ts[i], sampling);
    starts.push(start);
    bounds.push(i);
    i = lowerBound(ts, next, i + 1);
  }
  bounds.push(ts.length);
  return { starts: BigInt64Array.from(starts), bounds: Int32Array.from(bounds) };
}

/**
 * Re-aggregate a sorted series into calendar buckets with `method` (as Gnocchi's
 * resample does with a calendar grouping). Rate methods throw CalendarDeriveError.
 */
export function resampleCalendar(series: Series, sampling: CalendarSampling, method: string): Series {
  if (method.startsWith('rate:')) throw new CalendarDeriveError();
  return reduceBuckets(series, calendarBuckets(series.ts, sampling), 0, method);
}
