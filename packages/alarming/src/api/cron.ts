// Checks the start of a time constraint as Aodh does (Python's croniter, whose parser
// decides what Aodh accepts): five fields, or six with seconds last, or an @-alias. Only
// the syntax is checked here; when windows open is the evaluator's business (cron-parser).
// Hand-written because the API must accept exactly what croniter accepts, and cron-parser
// accepts a different set (a test compares this with croniter itself).

export class CronSyntaxError extends Error {
  override name = 'CronSyntaxError';
}

const ALIASES: Record<string, string> = {
  '@midnight': '0 0 * * *', '@hourly': '0 * * * *', '@daily': '0 0 * * *', '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *', '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *',
};

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec { min: number; max: number; names?: string[]; namesFrom?: number }
// minute, hour, day of month, month, day of week, second
const FIELDS: FieldSpec[] = [
  { min: 0, max: 59 }, { min: 0, max: 23 }, { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS, namesFrom: 1 }, { min: 0, max: 7, names: DAYS, namesFrom: 0 }, { min: 0, max: 59 },
];

function value(text: string, spec: FieldSpec, expr: string): number {
  const lower = text.toLowerCase();
  if (spec.names) {
    const i = spec.names.indexOf(lower);
    if (i >= 0) return i + (spec.namesFrom ?? 0);
  }
  if (!/^\d+$/.test(text)) throw new CronSyntaxError(`[${expr}] is not acceptable`);
  const n = Number(text);
  if (n < spec.min || n > spec.max) throw new CronSyntaxError(`[${expr}] is not acceptable, out of range`);
  return n;
}

function checkItem(item: string, field: number, expr: string): void {
  const spec = FIELDS[field];
  if (item === '') throw new CronSyntaxError(`[${expr}] is not acceptable`);
  if (/^h/i.test(item)) throw new CronSyntaxError('Hashed definitions must include hash_id');
  if (field === 2 && item.toUpperCase() === 'L') return; // last day of the month
  let body = item;
  const slash = item.indexOf('/');
  if (slash >= 0) {
    body = item.slice(0, slash);
    const step = item.slice(slash + 1);
    if (!/^\d+$/.test(step) || Number(step) === 0) throw new CronSyntaxError(`[${expr}] is not acceptable`);
  }
  if (body === '*') return;
  if (field === 4) {
    const nth = /^(\w+)#(\d)$/.exec(body); // e.g. 1#2: the second Monday
    if (nth) {
      value(nth[1], spec, expr);
      if (Number(nth[2]) < 1 || Number(nth[2]) > 5) throw new CronSyntaxError(`[${expr}] is not acceptable, out of range`);
      return;
    }
  }
  const dash = body.indexOf('-', 1);
  if (dash > 0) {
    const lo = value(body.slice(0, dash), spec, expr);
    const hi = value(body.slice(dash + 1), spec, expr);
    if (lo > hi && field !== 4) throw new CronSyntaxError(`[${expr}] is not acceptable`);
    return;
  }
  value(body, spec, expr);
}

/** Throws CronSyntaxError (with croniter's words) unless `expr` is a cron expression croniter reads. */
export function checkCron(expr: string): void {
  const trimmed = expr.trim();
  const expanded = ALIASES[trimmed.toLowerCase()] ?? trimmed;
  const fields = expanded.split(/\s+/).filter(Boolean);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new CronSyntaxError('Exactly 5 or 6 columns has to be specified for iterator expression.');
  }
  fields.forEach((f, i) => {
    for (const item of f.split(',')) checkItem(item, i, expr);
  });
}
