// `scripts/rating-side-by-side`: one Tally with generated usage, rated by Tally's rating and by
// Debian's CloudKitty 17 processor with the same metrics.yml and rules; prints the totals per
// project and every differing period; exits 1 on any difference.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { compareTotals, renderComparison } from './rating-compare.js';
import { openRatingStack, rateWithCloudKitty, rateWithTally, tallyTotals } from './rating-stack.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const USAGE = `usage: scripts/rating-side-by-side [--projects N] [--resources N] [--hours N] [--seed N] [--storage exact|sqlalchemy] [--db postgresql|sqlite]
  --projects N   projects (scopes) (3)
  --resources N  VMs, spread over the projects round robin (12)
  --hours N      hours of usage, ending at the last hour boundary (6)
  --seed N       seed of the generated usage (1)
  --storage S    CloudKitty's storage: exact (prices as decimal strings, default) or sqlalchemy
                 (its v1 storage, whose price column is a binary float: totals then differ in
                 the last digits)
  --db D         CloudKitty's database: postgresql (a private server, default) or sqlite (its
                 costs are then kept as binary floats: prices differ in the last digits)
`;

export async function sideBySideMain(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({ args: argv, strict: true, options: {
      projects: { type: 'string' }, resources: { type: 'string' }, hours: { type: 'string' }, seed: { type: 'string' },
      storage: { type: 'string' }, db: { type: 'string' }, help: { type: 'boolean' },
    } }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (v.help) { process.stdout.write(USAGE); return 0; }
  const int = (raw: string | undefined, d: number): number => {
    const n = raw === undefined ? d : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`expected an integer >= 1, got ${raw}`);
    return n;
  };
  const storage = v.storage ?? 'exact';
  if (storage !== 'exact' && storage !== 'sqlalchemy') { process.stderr.write(`--storage: exact or sqlalchemy\n${USAGE}`); return 2; }
  const db = v.db ?? 'postgresql';
  if (db !== 'postgresql' && db !== 'sqlite') { process.stderr.write(`--db: postgresql or sqlite\n${USAGE}`); return 2; }
  const log = (m: string): void => { process.stderr.write(`${m}\n`); };
  const stack = await openRatingStack({ projects: int(v.projects, 3), resources: int(v.resources, 12), hours: int(v.hours, 6), seed: int(v.seed, 1) }, log);
  try {
    const tallyS = await rateWithTally(stack);
    log(`tally: rated ${stack.scopes.length} projects x ${Number((stack.end - stack.begin) / 3_600_000_000_000n)} h in ${tallyS.toFixed(2)} s`);
    const ck = await rateWithCloudKitty(stack, REPO_ROOT, { storage, db, log });
    log(`cloudkitty: rated in ${ck.elapsedS.toFixed(2)} s (startup ${ck.startupS?.toFixed(2) ?? '?'} s)`);
    const rows = compareTotals(await tallyTotals(stack), ck.totals);
    process.stdout.write(renderComparison(rows));
    return rows.length > 0 && rows.every((r) => r.same) ? 0 : 1;
  } finally {
    await stack.close();
  }
}
