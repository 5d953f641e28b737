// `tally pricing update|show`: installs a new pricing file and shows the prices in force
// with where each came from (the bundled file, the installed update, the user's override).
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  PricingError, PricingInstallError, downloadPricing, installPricing, installedPricingPath, loadPriceBook, overridePricingPath,
  DEFAULT_MAX_PRICING_BYTES, type PricingPaths,
} from '@tally/rating';

interface PricingFlags {
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

const withPaths = (cmd: Command): Command => cmd
  .option('--pricing-file <file>', 'where updates are installed (default $XDG_DATA_HOME/tally/pricing.json or ~/.local/share/tally/pricing.json)')
  .option('--pricing-override <file>', 'the user override (default $TALLY_PRICING_OVERRIDE, $XDG_CONFIG_HOME/tally/pricing.json or ~/.config/tally/pricing.json)');

export function addPricingCommand(prog: Command): void {
  const pricing = prog.command('pricing').description('pricing data of the rating service: install an update, show the prices in force');

  withPaths(pricing.command('update').description('validate a new pricing file and install it atomically (the old one stays in force on any failure)'))
    .option('--url <url>', 'download it (retried; bounded by --max-bytes)')
    .option('--file <file>', 'read it from a file')
    .option('--max-bytes <n>', 'largest download taken', String(DEFAULT_MAX_PRICING_BYTES))
    .action(run('pricing update', async (flags: PricingFlags & { url?: string; file?: string; maxBytes: string }) => {
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
    }));

  withPaths(pricing.command('show').description('list the prices in force and where each came from'))
    .option('--provider <provider>', 'only this provider')
    .option('--format <format>', 'table | json', 'table')
    .action(run('pricing show', async (flags: PricingFlags & { provider?: string; format: string }) => {
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
    }));
}
