// `tally aggregates OPERATIONS [SEARCH]` and `tally status`, as gnocchi's.
import type { Command } from 'commander';
import type { AggregatesQuery, JsonValue, Measure } from '@tally/client';
import { action, clientCommand, CLIENT_GROUP, collect, float } from './command.js';
import { list, show, type Result } from './output.js';
import { localTimestamp } from './measures.js';
import { searchOf } from './resource.js';

const COLUMNS = ['name', 'timestamp', 'granularity', 'value'];

type Tree = { [k: string]: Tree | Measure[] };

/** Rows [name, timestamp, granularity, value] of nested series, the name the keys' path ("metric/mean"). */
export function flattenSeries(tree: Tree, utc: boolean, labels: string[] = []): JsonValue[][] {
  const rows: JsonValue[][] = [];
  for (const [k, v] of Object.entries(tree)) {
    if (Array.isArray(v)) for (const [t, g, x] of v) rows.push([[...labels, k].join('/'), localTimestamp(t, utc), g, x]);
    else rows.push(...flattenSeries(v, utc, [...labels, k]));
  }
  return rows;
}

export function addAggregatesCommands(prog: Command): void {
  clientCommand(prog, 'aggregates <operations> [search]', 'aggregate measures across metrics: (aggregate mean (metric ID mean)), or metric names over the resources a search finds')
    .helpGroup(CLIENT_GROUP)
    .option('--resource-type <type>', 'type of the resources the search finds', 'generic')
    .option('--start <time>', 'beginning of the period')
    .option('--stop <time>', 'end of the period')
    .option('--granularity <timespan>', 'granularity to retrieve')
    .option('--needed-overlap <percent>', 'percentage of timestamps the series must share', float('needed-overlap'))
    .option('--groupby <attribute>', 'group the resources by this attribute (repeatable; needs a search)', collect)
    .option('--fill <value>', "fill missing points: a number, 'null', 'ffill' or 'dropna'")
    .option('--utc', 'print timestamps in UTC (default: the local time zone, as gnocchi)')
    .action(action('aggregates', async (ctx, a, f): Promise<Result> => {
      const ops = a[0] as string;
      const q: AggregatesQuery = {};
      for (const k of ['start', 'stop', 'granularity'] as const) if (f[k] !== undefined) q[k] = f[k] as string;
      if (f.neededOverlap !== undefined) q.needed_overlap = f.neededOverlap as number;
      if (f.fill !== undefined) q.fill = (/^-?[\d.]+(e-?\d+)?$/i.test(f.fill as string) ? Number(f.fill) : f.fill) as AggregatesQuery['fill'];
      const utc = f.utc === true;
      const g = ctx.gnocchi();
      const search = a[1] === undefined ? undefined : searchOf(a[1] as string);
      if (search === undefined) return list(COLUMNS, flattenSeries((await g.aggregates.metrics(ops, q)).measures as unknown as Tree, utc));
      const type = f.resourceType as string;
      const groupby = f.groupby as string[] | undefined;
      if (groupby === undefined) return list(COLUMNS, flattenSeries((await g.aggregates.resources(ops, type, search, q)).measures as unknown as Tree, utc));
      const rows: JsonValue[][] = [];
      for (const gr of await g.aggregates.groupBy(ops, type, search, groupby, q)) {
        const name = Object.keys(gr.group).sort().map((k) => `${k}: ${String(gr.group[k])}`).join(', ');
        for (const r of flattenSeries(gr.measures.measures as unknown as Tree, utc)) rows.push([name, ...r]);
      }
      return list(['group', ...COLUMNS], rows);
    }));

  clientCommand(prog, 'status', 'show the backlog of measures to process and the processing workers')
    .helpGroup(CLIENT_GROUP)
    .action(action('status', async (ctx) => {
      const s = await ctx.gnocchi().status({ details: false });
      return show({
        'storage/total number of measures to process': s.storage.summary.measures,
        'storage/number of metric having measures to process': s.storage.summary.metrics,
        ...('metricd' in s ? { 'metricd/processors': s.metricd.processors } : {}),
      });
    }));
}
