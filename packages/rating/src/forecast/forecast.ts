// The forecast of a month's cost from the rated points of the month to date, and the cost
// of each resource over time.
//
// Method (linear extrapolation of the run rate, per metric type): over the part of the
// month already rated, from the month's start to the end of the last rated period, each
// type's cost is summed; its cost per second of rated time, times the seconds left in the
// month, is added to it. Periods not rated yet (the processor lags behind the clock) count
// as the future, not as zero spending. A type that appeared mid-month is extrapolated from
// the month's start like the others: it is taken as a run rate of the whole rated span,
// which under-forecasts a resource created late and is the documented trade-off of a method
// that needs no resource lifetimes.
import { Decimal } from 'decimal.js';
import type { RatedPoint, ScopePeriod } from '../model.js';

const NS_PER_MS = 1_000_000n;

/** The UTC calendar month holding `atNs`: inclusive start, exclusive end (ns). */
export function monthOf(atNs: bigint): { begin: bigint; end: bigint } {
  const d = new Date(Number(atNs / NS_PER_MS));
  const begin = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return { begin: BigInt(begin) * NS_PER_MS, end: BigInt(end) * NS_PER_MS };
}

export type RatedPeriods = readonly { period: ScopePeriod; points: readonly RatedPoint[] }[];

export interface TypeForecast {
  type: string;
  /** Decimal strings. */
  spent: string;
  forecast: string;
}

export interface MonthForecast {
  scope_id: string;
  month_begin: bigint;
  month_end: bigint;
  /** End of the last rated period of the month (the month's start when none). */
  rated_until: bigint;
  spent: string;
  forecast: string;
  types: TypeForecast[];
}

/**
 * The forecast of the month holding `atNs` for one scope, from its rated periods (those
 * outside the month are ignored). With nothing rated yet, spent and forecast are 0.
 */
export function forecastMonth(scopeId: string, periods: RatedPeriods, atNs: bigint): MonthForecast {
  const { begin, end } = monthOf(atNs);
  const spentByType = new Map<string, Decimal>();
  let ratedUntil = begin;
  for (const { period, points } of periods) {
    if (period.begin < begin || period.end > end) continue;
    if (period.end > ratedUntil) ratedUntil = period.end;
    for (const p of points) spentByType.set(p.type, (spentByType.get(p.type) ?? new Decimal(0)).plus(p.price));
  }
  const elapsed = new Decimal((ratedUntil - begin).toString());
  const whole = new Decimal((end - begin).toString());
  const types = [...spentByType.keys()].sort().map((type): TypeForecast => {
    const spent = spentByType.get(type) ?? new Decimal(0);
    const forecast = elapsed.isZero() ? spent : spent.times(whole).dividedBy(elapsed);
    return { type, spent: spent.toString(), forecast: forecast.toDecimalPlaces(8).toString() };
  });
  const sum = (k: 'spent' | 'forecast'): string => types.reduce((a, t) => a.plus(t[k]), new Decimal(0)).toString();
  return { scope_id: scopeId, month_begin: begin, month_end: end, rated_until: ratedUntil, spent: sum('spent'), forecast: sum('forecast'), types };
}
