// `tally rating` (a rating processor alone), `tally rating rerate` and `tally rating budget`.
// The actions load rating.ts (the rating service, the index database) when they run: every
// `tally` command registers these.
import type { Command } from 'commander';
import type { Guard } from './main.js';
import type { BudgetCommand } from './rating.js';

const rating = () => import('./rating.js');

export function addRatingCommand(prog: Command, withSettings: (cmd: Command) => Command, guard: Guard): void {
  const cmd = withSettings(prog.command('rating').description('run only a rating processor: it rates the scopes it owns among the processors of --rating-group (same index database and --coordination-url), reading usage in process or at --gnocchi-url'))
    .action(guard('rating', async (flags: Record<string, unknown>) => (await rating()).runRating(flags)));

  withSettings(cmd.command('rerate').description('rate again the periods of [--begin, --end) of each --scope with the current rules, replacing what was rated; prints each period as it is written, and on failure what was not rated (exit 1)'))
    .requiredOption('--scope <ids>', 'comma-separated scopes (projects)')
    .requiredOption('--begin <instant>', 'start, ISO 8601, on a period boundary')
    .requiredOption('--end <instant>', 'end (excluded), ISO 8601, on a period boundary')
    .option('--batch-periods <n>', 'adjacent periods of a scope read and written at once, each batch whole or not at all (168; 1: period by period)')
    // Settings written after `rating` are parsed by it: take them from every level.
    .action(guard('rating rerate', async (_own: Record<string, unknown>, sub: Command) => (await rating()).rerate(sub.optsWithGlobals())));

  const budget = cmd.command('budget').description('budgets per project: an alarm of the alarm service fires when the month\'s spending (or forecast) reaches the amount');
  const budgetRun = (role: string, command: BudgetCommand) =>
    guard(role, async (...args: unknown[]) => {
      // Commander passes (arguments..., options, command); settings may be parsed at any level.
      const sub = args[args.length - 1] as Command;
      await (await rating()).runBudget(role, command, sub.optsWithGlobals(), typeof args[0] === 'string' ? args[0] : undefined);
    });
  withSettings(budget.command('set').description('create a budget for a project (prints it as JSON)'))
    .requiredOption('--project <id>', 'the project')
    .requiredOption('--amount <decimal>', 'amount per calendar month (UTC)')
    .option('--currency <code>', 'ISO 4217 code (default: --rating-currency)')
    .option('--on-forecast', "fire when the month's forecast reaches the amount, not only its spending")
    .option('--alarm-action <url...>', 'where the alarm notifies (webhook URLs, as Aodh alarm_actions)')
    .action(budgetRun('rating budget set', 'set'));
  withSettings(budget.command('list').description('list budgets (JSON, one per line)'))
    .option('--project <id>', 'only this project\'s')
    .action(budgetRun('rating budget list', 'list'));
  withSettings(budget.command('delete <budget_id>').description('delete a budget (its alarm stays in the alarm service)'))
    .action(budgetRun('rating budget delete', 'delete'));
}
