// `tally metric list|show|create|delete`, as gnocchi's.
import type { Command } from 'commander';
import type { GnocchiClient, JsonValue } from '@tally/client';
import { action, clientCommand } from './command.js';
import { listOf, show, type Result } from './output.js';
import { group, pageOptions, pageQuery, pages } from './groups.js';

const LIST_COLUMNS = ['id', 'archive_policy/name', 'name', 'unit', 'resource_id'];

type Obj = Record<string, JsonValue>;
const isObj = (v: JsonValue | undefined): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const seg = encodeURIComponent;

/** A metric as gnocchi shows one: the policy by name, the resource's fields as resource/..., no created_by_*. */
export function metricView(m: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === 'created_by_user_id' || k === 'created_by_project_id') continue;
    if (k === 'archive_policy' && isObj(v)) out['archive_policy/name'] = v.name;
    else if (k === 'resource') {
      if (isObj(v)) for (const [rk, rv] of Object.entries(v)) out[`resource/${rk}`] = rv;
      else out['resource/id'] = null;
    } else out[k] = v;
  }
  return out;
}

/** A metric by id, or by name on the resource given. */
export function metricPath(metric: string, resourceId: string | undefined): string {
  return resourceId === undefined ? `/v1/metric/${seg(metric)}` : `/v1/resource/generic/${seg(resourceId)}/metric/${seg(metric)}`;
}

// The typed client reads metrics by id; by a resource and a name the route is the resource's.
async function getMetric(g: GnocchiClient, metric: string, resourceId: string | undefined): Promise<Obj> {
  if (resourceId === undefined) return (await g.metric.get(metric)) as unknown as Obj;
  return (await g.transport.json<Obj>({ method: 'GET', path: metricPath(metric, resourceId) })).value;
}

export function addMetricCommands(prog: Command): void {
  const m = group(prog, 'metric', 'metrics: series of measures, each with an archive policy');
  pageOptions(clientCommand(m, 'list', 'list metrics'), 'metrics')
    .action(action('metric list', async (ctx, _a, f): Promise<Result> => {
      const q = pageQuery(f);
      const g = ctx.gnocchi();
      const items = await pages(ctx, f, 'metrics', async () => (await g.metric.list(q)).items, () => g.metric.listAll(q));
      return listOf(LIST_COLUMNS, items.map((x) => ({ ...(x as unknown as Obj), 'archive_policy/name': x.archive_policy.name })));
    }));
  clientCommand(m, 'show <metric>', 'show a metric (by id, or by name with --resource-id)')
    .option('-r, --resource-id <id>', 'the resource whose metric this name is')
    .action(action('metric show', async (ctx, a, f) => show(metricView(await getMetric(ctx.gnocchi(), a[0] as string, f.resourceId as string | undefined)))));
  clientCommand(m, 'create [name]', 'create a metric')
    .option('-a, --archive-policy-name <name>', 'its archive policy (default: the rule matching its name)')
    .option('-u, --unit <unit>', 'its unit')
    .option('-r, --resource-id <id>', 'attach it to this resource (a name is then required)')
    .action(action('metric create', async (ctx, a, f) => {
      const created = await ctx.gnocchi().metric.create({
        ...(a[0] === undefined ? {} : { name: a[0] as string }),
        ...(f.archivePolicyName === undefined ? {} : { archive_policy_name: f.archivePolicyName as string }),
        ...(f.unit === undefined ? {} : { unit: f.unit as string }),
        ...(f.resourceId === undefined ? {} : { resource_id: f.resourceId as string }),
      });
      return show(metricView(created as unknown as Obj));
    }));
  clientCommand(m, 'delete <metric...>', 'delete metrics (by id, or by name with --resource-id)', { output: false })
    .option('-r, --resource-id <id>', 'the resource whose metrics these names are')
    .action(action('metric delete', async (ctx, a, f) => {
      const g = ctx.gnocchi();
      for (const id of a[0] as string[]) {
        if (f.resourceId === undefined) await g.metric.delete(id);
        else await g.transport.request({ method: 'DELETE', path: metricPath(id, f.resourceId as string) });
      }
    }));
}
