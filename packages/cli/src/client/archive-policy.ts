// `tally archive-policy` and `tally archive-policy-rule`, as gnocchi's commands of those names.
import type { Command } from 'commander';
import type { ArchivePolicy, ArchivePolicyItemInput, JsonValue } from '@tally/client';
import { action, clientCommand, collect, int, type Args } from './command.js';
import { listOf, show, UsageError } from './output.js';
import { group, isTable } from './groups.js';

const AP_COLUMNS = ['name', 'back_window', 'definition', 'aggregation_methods'];
const RULE_COLUMNS = ['name', 'archive_policy_name', 'metric_pattern'];

/** A policy as gnocchi's table shows it: one "- k: v, ..." line per definition item, methods comma separated. */
export function archivePolicyView(ap: ArchivePolicy, table: boolean): Record<string, JsonValue> {
  const view: Record<string, JsonValue> = { ...(ap as unknown as Record<string, JsonValue>) };
  if (table) {
    view.definition = ap.definition.map((d) => `- ${Object.entries(d).map(([k, v]) => `${k}: ${v === null ? 'None' : String(v)}`).join(', ')}`).join('\n');
    view.aggregation_methods = ap.aggregation_methods.join(', ');
  }
  return view;
}

/** "granularity:1h,points:24" (two of granularity, points, timespan) as an item. */
export function parseDefinition(text: string): ArchivePolicyItemInput {
  const item: ArchivePolicyItemInput = {};
  for (const part of text.split(',')) {
    const i = part.indexOf(':');
    const [k, v] = i < 0 ? [part, ''] : [part.slice(0, i).trim(), part.slice(i + 1).trim()];
    if (v === '') throw new UsageError(`definition ${JSON.stringify(text)}: "${part}" must be NAME:VALUE`);
    if (k === 'points') {
      if (!/^\d+$/.test(v)) throw new UsageError(`definition ${JSON.stringify(text)}: points must be a whole number`);
      item.points = Number(v);
    } else if (k === 'granularity' || k === 'timespan') {
      item[k] = v;
    } else {
      throw new UsageError(`definition ${JSON.stringify(text)}: "${k}" is not one of granularity, points, timespan`);
    }
  }
  if (Object.keys(item).length < 2) throw new UsageError(`definition ${JSON.stringify(text)} needs two of granularity, points, timespan (e.g. granularity:1h,points:24)`);
  return item;
}

const name = (args: Args): string => args[0] as string;

export function addArchivePolicyCommands(prog: Command): void {
  const ap = group(prog, 'archive-policy', 'archive policies: how long and how finely metrics keep their measures');
  clientCommand(ap, 'list', 'list archive policies')
    .action(action('archive-policy list', async (ctx, _a, f) => listOf(AP_COLUMNS, (await ctx.gnocchi().archivePolicy.list()).map((p) => archivePolicyView(p, isTable(f))))));
  clientCommand(ap, 'show <name>', 'show an archive policy')
    .action(action('archive-policy show', async (ctx, a, f) => show(archivePolicyView(await ctx.gnocchi().archivePolicy.get(name(a)), isTable(f)))));
  clientCommand(ap, 'create <name>', 'create an archive policy')
    .requiredOption('-d, --definition <definition>', 'two of granularity, points, timespan, e.g. granularity:1h,points:24 (repeatable)', collect)
    .option('-b, --back-window <n>', 'back window (periods of the coarsest granularity accepted late)', int('back-window'))
    .option('-m, --aggregation-method <method>', 'aggregation method (repeatable; +m / -m add to / remove from the default set)', collect)
    .action(action('archive-policy create', async (ctx, a, f) => show(archivePolicyView(await ctx.gnocchi().archivePolicy.create({
      name: name(a),
      definition: (f.definition as string[]).map(parseDefinition),
      ...(f.backWindow === undefined ? {} : { back_window: f.backWindow as number }),
      ...(f.aggregationMethod === undefined ? {} : { aggregation_methods: f.aggregationMethod as string[] }),
    }), isTable(f)))));
  clientCommand(ap, 'update <name>', "change the points or timespan of an archive policy's granularities")
    .requiredOption('-d, --definition <definition>', 'the new definition items (repeatable)', collect)
    .action(action('archive-policy update', async (ctx, a, f) =>
      show(archivePolicyView(await ctx.gnocchi().archivePolicy.update(name(a), (f.definition as string[]).map(parseDefinition)), isTable(f)))));
  clientCommand(ap, 'delete <name>', 'delete an archive policy (none of its metrics may remain)', { output: false })
    .action(action('archive-policy delete', async (ctx, a) => {
      await ctx.gnocchi().archivePolicy.delete(name(a));
    }));

  const rule = group(prog, 'archive-policy-rule', 'archive policy rules: the policy of new metrics by name pattern');
  clientCommand(rule, 'list', 'list archive policy rules')
    .action(action('archive-policy-rule list', async (ctx) => listOf(RULE_COLUMNS, (await ctx.gnocchi().archivePolicyRule.list()) as unknown as Record<string, JsonValue>[])));
  clientCommand(rule, 'show <name>', 'show an archive policy rule')
    .action(action('archive-policy-rule show', async (ctx, a) => show({ ...(await ctx.gnocchi().archivePolicyRule.get(name(a))) })));
  clientCommand(rule, 'create <name>', 'create an archive policy rule')
    .requiredOption('-a, --archive-policy-name <name>', 'archive policy of the metrics the rule matches')
    .requiredOption('-m, --metric-pattern <pattern>', 'wildcard pattern of metric names (fnmatch)')
    .action(action('archive-policy-rule create', async (ctx, a, f) => show({ ...(await ctx.gnocchi().archivePolicyRule.create({
      name: name(a), archive_policy_name: f.archivePolicyName as string, metric_pattern: f.metricPattern as string,
    })) })));
  clientCommand(rule, 'update <name>', 'rename an archive policy rule')
    .requiredOption('-n, --name <new-name>', 'the new name')
    .action(action('archive-policy-rule update', async (ctx, a, f) => show({ ...(await ctx.gnocchi().archivePolicyRule.rename(name(a), f.name as string)) })));
  clientCommand(rule, 'delete <name>', 'delete an archive policy rule', { output: false })
    .action(action('archive-policy-rule delete', async (ctx, a) => {
      await ctx.gnocchi().archivePolicyRule.delete(name(a));
    }));
}
