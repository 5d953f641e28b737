// `tally migrate --from URL`: copies a running Gnocchi (4.x) into a Tally data folder. The
// action loads migrate.ts (the migration, the index and the storage) when it runs: every
// `tally` command registers this one.
import type { Command } from 'commander';
import type { Guard } from './main.js';

export function addMigrateCommand(prog: Command, withSettings: (cmd: Command) => Command, guard: Guard): void {
  withSettings(prog.command('migrate')
    .description("copy a running Gnocchi (4.x) into the data folder: archive policies and rules, resource types, resources with their history, metrics and every aggregate (resumable: run it again after an interruption)"))
    .requiredOption('--from <url>', "Gnocchi's endpoint, e.g. http://gnocchi:8041")
    .option('--from-auth-mode <mode>', "how to authenticate to Gnocchi: basic (Gnocchi's basic mode), noauth (identity headers) or keystone (X-Auth-Token)", 'basic')
    .option('--from-user <user>', 'basic: the user name (an administrator, to see every project); noauth: the user id', 'admin')
    .option('--from-project <project>', 'noauth: the project id', 'admin')
    .option('--from-roles <roles>', 'noauth: comma-separated roles', 'admin')
    .option('--from-token <token>', 'keystone: the token')
    .option('--state <file>', 'the progress journal (default DATA_DIR/migrate-journal.jsonl)')
    .option('--concurrency <n>', 'resources and metrics copied at once', '4')
    .option('--json', 'print the final report as JSON')
    .action(guard('migrate', async (flags: Record<string, unknown>) => (await import('./migrate.js')).runMigrate(flags)));
}
