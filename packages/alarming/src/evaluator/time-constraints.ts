// Time constraints: an alarm is evaluated only inside one of its windows, each starting at
// the instants of a cron expression read in an IANA zone (daylight saving included: "0 9 *
// * *" in Europe/Paris is 08:00 UTC in winter and 07:00 UTC in summer) and lasting
// `duration` seconds of elapsed time. As in Aodh, matching is to the minute: an instant
// within a minute before a window's start counts as inside it.
import { CronExpressionParser } from 'cron-parser';
import type { TimeConstraint } from '../model.js';

/** Aodh compares cron instants to the minute. */
const MINUTE_MS = 60_000;

export class InvalidTimeConstraintError extends Error {
  constructor(readonly constraint: string, message: string) {
    super(`time constraint ${JSON.stringify(constraint)}: ${message}`);
    this.name = 'InvalidTimeConstraintError';
  }
}

function cron(tc: TimeConstraint, at: number): ReturnType<typeof CronExpressionParser.parse> {
  try {
    return CronExpressionParser.parse(tc.start, { currentDate: new Date(at), tz: tc.timezone || 'UTC' });
  } catch (err) {
    throw new InvalidTimeConstraintError(tc.name, (err as Error).message);
  }
}

/** Whether `nowMs` is inside `tc`'s window. */
export function withinTimeConstraint(tc: TimeConstraint, nowMs: number): boolean {
  // The first start at or after now (cron-parser's next() is strictly after its date).
  const next = cron(tc, nowMs - 1).next().getTime();
  if (next - nowMs < MINUTE_MS) return true;
  const latest = cron(tc, nowMs).prev().getTime();
  return latest <= nowMs && nowMs <= latest + tc.duration * 1000;
}

/** True when there is no constraint or `nowMs` is inside at least one. */
export function withinTimeConstraints(constraints: readonly TimeConstraint[], nowMs: number): boolean {
  return constraints.length === 0 || constraints.some((tc) => withinTimeConstraint(tc, nowMs));
}
