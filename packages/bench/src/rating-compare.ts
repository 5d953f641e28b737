// The rating side by side: Debian's CloudKitty 17 processor and Tally's rating rate the same
// usage, read from the same Tally, with the same metrics.yml and hashmap rules; their totals
// per project and period must be equal as exact decimals (the number of rated points too).
import { Dec } from '@tally/rating';
import type { Totals } from './rating-stack.js';

export interface PeriodComparison {
  scope: string;
  period: string;
  tally: { total: string; points: number } | null;
  cloudkitty: { total: string; points: number } | null;
  same: boolean;
}

/** Every scope-period rated by either side, compared; a period only one side has is different. */
export function compareTotals(tally: Totals, cloudkitty: Totals): PeriodComparison[] {
  const keys = new Set<string>();
  for (const t of [tally, cloudkitty]) for (const [scope, per] of t) for (const p of per.keys()) keys.add(`${scope} ${p}`);
  return [...keys].sort().map((k) => {
    const [scope, period] = k.split(' ');
    const a = tally.get(scope)?.get(period) ?? null;
    const b = cloudkitty.get(scope)?.get(period) ?? null;
    const same = a !== null && b !== null && a.points === b.points && new Dec(a.total).eq(new Dec(b.total));
    return { scope, period, tally: a, cloudkitty: b, same };
  });
}

/** A summary line per scope, then every differing period. */
export function renderComparison(rows: readonly PeriodComparison[]): string {
  const out: string[] = [];
  const byScope = new Map<string, PeriodComparison[]>();
  for (const r of rows) (byScope.get(r.scope) ?? byScope.set(r.scope, []).get(r.scope) ?? []).push(r);
  out.push(`${'project'.padEnd(32)}  periods  same  ${'tally total'.padStart(24)}  ${'cloudkitty total'.padStart(24)}`);
  for (const [scope, rs] of byScope) {
    const sum = (f: (r: PeriodComparison) => string | undefined): string => rs.reduce((a, r) => a.plus(f(r) ?? '0'), new Dec(0)).toString();
    out.push(`${scope.padEnd(32)}  ${String(rs.length).padStart(7)}  ${String(rs.filter((r) => r.same).length).padStart(4)}  ${sum((r) => r.tally?.total).padStart(24)}  ${sum((r) => r.cloudkitty?.total).padStart(24)}`);
  }
  const diff = rows.filter((r) => !r.same);
  for (const r of diff.slice(0, 50)) {
    const f = (x: PeriodComparison['tally']): string => (x === null ? '(none)' : `${x.total} (${x.points} points)`);
    out.push(`DIFFERENT ${r.scope} ${r.period}: tally ${f(r.tally)}, cloudkitty ${f(r.cloudkitty)}`);
  }
  if (diff.length > 50) out.push(`... and ${diff.length - 50} more`);
  out.push(`${rows.length} project-periods: ${rows.length - diff.length} same, ${diff.length} different`);
  return `${out.join('\n')}\n`;
}
