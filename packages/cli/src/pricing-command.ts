// `tally pricing update|show`: installs a new pricing file and shows the prices in force.
// The actions load pricing.ts (and with it @tally/rating) when they run: every `tally`
// command registers these.
import type { Command } from 'commander';
import type { PricingFlags } from './pricing.js';

/**
 * @tally/rating's DEFAULT_MAX_PRICING_BYTES (16 MiB), written out so that the help can show
 * it without loading the rating service; a unit test keeps the two equal.
 */
const MAX_PRICING_BYTES_DEFAULT = String(16 << 20);

const withPaths = (cmd: Command): Command => cmd
  .option('--pricing-file <file>', 'where updates are installed (default $XDG_DATA_HOME/tally/pricing.json or ~/.local/share/tally/pricing.json)')
  .option('--pricing-override <file>', 'the user override (default $TALLY_PRICING_OVERRIDE, $XDG_CONFIG_HOME/tally/pricing.json or ~/.config/tally/pricing.json)');

export function addPricingCommand(prog: Command): void {
  const pricing = prog.command('pricing').description('pricing data of the rating service: install an update, show the prices in force');

  withPaths(pricing.command('update').description('validate a new pricing file and install it atomically (the old one stays in force on any failure)'))
    .option('--url <url>', 'download it (retried; bounded by --max-bytes)')
    .option('--file <file>', 'read it from a file')
    .option('--max-bytes <n>', 'largest download taken', MAX_PRICING_BYTES_DEFAULT)
    .action(async (flags: PricingFlags & { url?: string; file?: string; maxBytes: string }) => (await import('./pricing.js')).update(flags));

  withPaths(pricing.command('show').description('list the prices in force and where each came from'))
    .option('--provider <provider>', 'only this provider')
    .option('--format <format>', 'table | json', 'table')
    .action(async (flags: PricingFlags & { provider?: string; format: string }) => (await import('./pricing.js')).show(flags));
}
