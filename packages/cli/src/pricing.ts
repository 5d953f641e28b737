// What `tally pricing update|show` run (pricing-command.ts defines them): installs a new
// pricing file and shows the prices in force with where each came from (the bundled file,
// the installed update, the user's override).
import { readFile } from 'node:fs/promises';
import {
  PricingError, PricingInstallError, downloadPricing, installPricing, installedPricingPath, loadPriceBook, overridePricingPath,
  type PricingPaths,
} from '@tally/rating';

export interface PricingFlags {
  pricingFile?: string;
  pricingOverride?: string;
}

/** Where the prices in force are read from (the rating processor reads the same). */
export const paths = (f: PricingFlags): PricingPaths => ({
  installed: f.pricingFile ?? installedPricingPath(),
  override: f.pricingOverride ?? process.env.TALLY_PRICING_OVERRIDE ?? overridePricingPath(),
});

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

/** Domain failures exit 1 with their message (what was done and what was not); anything else is thrown on. */
function run<A extends unknown[]>(role: string, fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof PricingError || err instanceof PricingInstallError) {
        process.stderr.write(`tally ${role}: ${err.message}\n`);
        process.exit(1);
      }
      throw err;
    }
  };
}

/** `tally pricing update`. */
export const update = run('pricing update', async (flags: PricingFlags & { url?: string; file?: string; maxBytes: string }) => {
  if ((flags.url === undefined) === (flags.file === undefined)) throw new PricingError('give exactly one of --url and --file');
  const maxBytes = Number(flags.maxBytes);
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new PricingError(`--max-bytes: expected a positive integer, got ${flags.maxBytes}`);
  let text: string;
  try {
    text = flags.url !== undefined ? await downloadPricing(flags.url, { maxBytes }) : await readFile(flags.file ?? '', 'utf8');
  } catch (err) {
    throw new PricingError(`nothing installed, the previous pricing file stays in force: ${(err as Error).message}`);
  }
  const target = paths(flags).installed ?? installedPricingPath();
  const r = await installPricing(text, target);
  const leftovers = r.removedLeftovers.length > 0 ? ` (removed ${r.removedLeftovers.length} temporary file(s) of an interrupted update)` : '';
  process.stdout.write(`installed ${r.entries} price entries in ${r.target}${leftovers}\n`);
});

/** `tally pricing show`. */
export const show = run('pricing show', async (flags: PricingFlags & { provider?: string; format: string }) => {
  if (flags.format !== 'table' && flags.format !== 'json') throw new PricingError(`--format: expected table or json, got ${flags.format}`);
  const { book, files } = await loadPriceBook(paths(flags));
  const entries = book.entries({ provider: flags.provider });
  if (flags.format === 'json') {
    process.stdout.write(`${JSON.stringify({ files, entries }, null, 2)}\n`);
    return;
  }
  process.stdout.write(table([
    ['PROVIDER', 'SERVICE', 'SIZE', 'REGION', 'UNIT', 'PRICE', 'CURRENCY', 'EFFECTIVE', 'SOURCE'],
    ...entries.map((e) => [e.provider, e.service, e.size, e.region, e.unit, e.price, e.currency, e.effective, e.source]),
  ]));
  for (const f of files) process.stdout.write(`${f.source}: ${f.path}\n`);
});
