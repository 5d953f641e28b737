// Judging Tally's alarms against Aodh's, case by case: the same alarm created in both, each
// evaluated by its own evaluator over the same measures. A case passes when state and
// state_reason are equal and the state is the one the case was built for; a documented
// difference passes only in its documented form.

export interface Observed {
  state: string;
  state_reason: string;
}

/** A difference Tally keeps on purpose, and the exact form each side must then take. */
export interface ExpectedDifference {
  why: string;
  tally(o: Observed): boolean;
  aodh(o: Observed): boolean;
}

export interface CaseOutcome {
  name: string;
  /** What the case exercises. */
  what: string;
  tally: Observed | null;
  aodh: Observed | null;
  /** The state the case's data should lead to (Tally's, for a documented difference); null: not asserted. */
  want: string | null;
  expected?: ExpectedDifference;
}

export type Verdict = 'same' | 'expected difference' | 'DIFFERENT' | 'UNEXPECTED STATE' | 'MISSING';

export function judge(c: CaseOutcome): Verdict {
  if (c.tally === null || c.aodh === null) return 'MISSING';
  if (c.expected) {
    return c.expected.tally(c.tally) && c.expected.aodh(c.aodh) && (c.want === null || c.tally.state === c.want)
      ? 'expected difference' : 'DIFFERENT';
  }
  if (c.tally.state !== c.aodh.state || c.tally.state_reason !== c.aodh.state_reason) return 'DIFFERENT';
  if (c.want !== null && c.tally.state !== c.want) return 'UNEXPECTED STATE';
  return 'same';
}

export function passed(v: Verdict): boolean {
  return v === 'same' || v === 'expected difference';
}

const STATE_ABBREV: Record<string, string> = { 'insufficient data': 'insufficient' };

function cell(o: Observed | null): string {
  return o === null ? '(missing)' : STATE_ABBREV[o.state] ?? o.state;
}

/**
 * The table: one line per case (name, states, verdict), then the reason on a line of its
 * own (one line when both sides agree, one per side otherwise), then the documented
 * differences met.
 */
export function renderComparison(cases: readonly CaseOutcome[]): string {
  const rows = cases.map((c) => ({ c, v: judge(c) }));
  const w = (f: (r: (typeof rows)[number]) => string, title: string) => Math.max(title.length, ...rows.map((r) => f(r).length));
  const wn = w((r) => r.c.name, 'case');
  const wt = w((r) => cell(r.c.tally), 'tally');
  const wa = w((r) => cell(r.c.aodh), 'aodh 15');
  const out = [`${'case'.padEnd(wn)}  ${'tally'.padEnd(wt)}  ${'aodh 15'.padEnd(wa)}  verdict`, `${'-'.repeat(wn)}  ${'-'.repeat(wt)}  ${'-'.repeat(wa)}  -------`];
  for (const { c, v } of rows) {
    out.push(`${c.name.padEnd(wn)}  ${cell(c.tally).padEnd(wt)}  ${cell(c.aodh).padEnd(wa)}  ${v}${c.want !== null && v !== 'same' && v !== 'expected difference' ? ` (built for: ${c.want})` : ''}`);
    out.push(`    ${c.what}`);
    if (c.tally !== null && c.aodh !== null && c.tally.state_reason === c.aodh.state_reason) out.push(`    reason: ${c.tally.state_reason}`);
    else {
      out.push(`    tally:  ${c.tally?.state_reason ?? '(missing)'}`);
      out.push(`    aodh:   ${c.aodh?.state_reason ?? '(missing)'}`);
    }
  }
  const expected = rows.filter((r) => r.c.expected && r.v === 'expected difference');
  if (expected.length) {
    out.push('', 'documented differences:');
    for (const { c } of expected) out.push(`  ${c.name}: ${c.expected?.why ?? ''}`);
  }
  const failed = rows.filter((r) => !passed(r.v)).length;
  out.push('', `${rows.length} cases: ${rows.length - failed} pass, ${failed} fail`);
  return `${out.join('\n')}\n`;
}
