// The `tally` command: every subcommand's name, options and help. Building it must stay
// cheap, since every invocation does (client commands and --help included): the server
// commands' actions load what they run (server.ts and the modules it imports: Fastify, the
// indexer, the engine, metricd...) only when they start.
import { Command } from 'commander';
import { ConfigError, withSettings } from './setting-options.js';
import { addUserCommands } from './user.js';
import { addAgentCommand } from './agent-command.js';
import { addPricingCommand } from './pricing-command.js';
import { addMigrateCommand } from './migrate-command.js';
import { addRatingCommand } from './rating-command.js';
import { addClientCommands } from './client/index.js';
import { VERSION } from './version.js';

/**
 * Settings and usage errors the server packages throw (their classes are not loaded here:
 * loading them would load those packages); each sets its `name`.
 */
const USAGE_ERRORS = new Set(['UserStoreError', 'IncomingConfigError', 'StorageConfigError', 'CoordinationConfigError', 'AgentConfigError']);

export type Guard = <A extends unknown[]>(role: string, fn: (...args: A) => Promise<void>) => (...args: A) => Promise<void>;

/**
 * Wraps a command's action: a settings or usage error ends the process with a one-line
 * message and exit code 2, rather than a stack trace.
 */
function guard<A extends unknown[]>(role: string, fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof ConfigError || (e instanceof Error && USAGE_ERRORS.has(e.name))) {
        process.stderr.write(`tally ${role}: ${e.message}\n`);
        process.exit(2);
      }
      const env = environmentFailure(e);
      if (env) {
        process.stderr.write(`tally ${role}: ${env}\n`);
        process.exit(1);
      }
      throw e;
    }
  };
}

/**
 * A failure of the machine rather than of Tally (a read-only or full data folder, a
 * database that refuses connections, a port in use): one line naming the cause, no stack.
 * Errors without a system or driver code are bugs and keep their stack trace.
 */
export function environmentFailure(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^(E[A-Z]+|SQLITE_[A-Z_]+|[0-9A-Z]{5})$/.test(code)) return undefined;
  const hint = /^(EACCES|EPERM|EROFS|SQLITE_CANTOPEN|SQLITE_READONLY)/.test(code)
    ? ' (is the data folder writable by this user?)'
    : /^(ENOSPC|SQLITE_FULL)/.test(code) ? ' (the disk is full)' : '';
  return `${e.message} [${code}]${hint}`;
}

const server = () => import('./server.js');

export function program(): Command {
  const prog = new Command('tally')
    .description('Tally: a Gnocchi-compatible metric store (and, later, alarming, metering and cost)')
    .version(VERSION, '-V, --version');

  withSettings(prog.command('serve').description('run the API, processing workers, the alarm API (--alarm-port), an alarm evaluator, an alarm notifier, the rating API (--rating-port) and a rating processor in one process (upgrades an empty data folder)'))
    .action(guard('serve', async (flags: Record<string, unknown>) => (await server()).serve(flags)));

  withSettings(prog.command('api').description('run only the HTTP API (processing is left to `tally metricd`)'))
    .action(guard('api', async (flags: Record<string, unknown>) => (await server()).api(flags)));

  withSettings(prog.command('alarm-api').description("run only the alarm API (Aodh's v2) on --alarm-port, over the index database"))
    .action(guard('alarm-api', async (flags: Record<string, unknown>) => (await server()).alarmApi(flags)));

  withSettings(prog.command('rating-api').description("run only the rating API (CloudKitty's v1 and v2) on --rating-port, over the index database"))
    .action(guard('rating-api', async (flags: Record<string, unknown>) => (await server()).ratingApi(flags)));

  withSettings(prog.command('alarm-evaluator').description('run only an alarm evaluator: it shares the alarms with the other evaluators of --evaluator-group (same index database and --coordination-url) and reads metrics in process, or at --gnocchi-url'))
    .action(guard('alarm-evaluator', async (flags: Record<string, unknown>) => (await server()).alarmEvaluator(flags)));

  withSettings(prog.command('alarm-notifier').description("run only an alarm notifier: it delivers the notifications the evaluators queue in the index database (any number of notifiers share them)"))
    .action(guard('alarm-notifier', async (flags: Record<string, unknown>) => (await server()).alarmNotifier(flags)));

  withSettings(prog.command('metricd').description('run only processing workers on the data folder'))
    .action(guard('metricd', async (flags: Record<string, unknown>) => (await server()).metricd(flags)));

  withSettings(prog.command('upgrade').description("create or migrate the schema; create Gnocchi's default archive policies on a new index"))
    .option('--skip-archive-policies', 'do not create the default archive policies and rule')
    .option('--skip-resource-types', "do not create Gnocchi's standard resource types (instance, volume, ...)")
    .action(guard('upgrade', async (flags: Record<string, unknown>) => (await server()).upgradeSchema(flags)));

  withSettings(prog.command('change-sack-size').argument('<sacks>', 'the new number of sacks')
    .description('change the number of incoming sacks (the backlog must be empty and every Tally process stopped)'))
    .action(guard('change-sack-size', async (sacks: string, flags: Record<string, unknown>) => (await server()).changeSackSize(sacks, flags)));

  addUserCommands(prog, withSettings, guard);
  addAgentCommand(prog, guard);
  addPricingCommand(prog);
  addMigrateCommand(prog, withSettings, guard);
  addRatingCommand(prog, withSettings, guard);
  addClientCommands(prog);

  // The endpoint benchmark (packages/bench) keeps its own option parser: every argument
  // after `bench` goes to it unchanged, so `tally bench --help` prints the bench's help.
  prog.command('bench')
    .description('benchmark a Gnocchi-compatible endpoint, Tally, or Tally against the real Gnocchi (see `tally bench --help`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { main } = await import('@tally/bench');
      process.exitCode = await main(args);
    });
  return prog;
}
