// `tally resource list|show|history|search|create|update|delete|batch delete`, as gnocchi's.
import type { Command } from 'commander';
import type { GnocchiClient, JsonValue, Resource, ResourceCreate, ResourceFilter, ResourceListQuery, ResourceMetricInput } from '@tally/client';
import { action, clientCommand, collect, parseJson, usageExit } from './command.js';
import { list, show, UsageError, type ListResult } from './output.js';
import { group, isTable, pageOptions, pageQuery, pages } from './groups.js';

const LIST_COLUMNS = ['id', 'type', 'project_id', 'user_id', 'original_resource_id', 'started_at', 'ended_at', 'revision_start', 'revision_end'];

type Obj = Record<string, JsonValue>;

/**
 * Resources as gnocchi lists them: its columns first, then the other attributes of the first
 * resource (creator standing for created_by_user_id and created_by_project_id).
 */
export function resourceList(items: Obj[]): ListResult {
  if (items.length === 0) return list([...LIST_COLUMNS], []);
  const cols = [...LIST_COLUMNS];
  for (const k of Object.keys(items[0])) if (!cols.includes(k)) cols.push(k);
  const shown = cols.includes('creator') ? cols.filter((c) => c !== 'created_by_user_id' && c !== 'created_by_project_id') : cols;
  return list(shown, items.map((r) => shown.map((c) => r[c] ?? null)));
}

/** Metrics as lines "name: id" (sorted) for a table; as the API gives them otherwise. */
function metricsView(r: Obj, table: boolean): Obj {
  const m = r.metrics;
  if (!table || m === null || typeof m !== 'object' || Array.isArray(m)) return r;
  return { ...r, metrics: Object.entries(m).map(([k, v]) => `${k}: ${String(v)}`).sort().join('\n') };
}

const withoutMetrics = (r: Obj): Obj => {
  const { metrics: _m, ...rest } = r;
  return rest;
};

/** A search: JSON ({"=": {"id": ...}}) as a filter body, anything else as Gnocchi's query string (id=X and ...). */
export function searchOf(q: string): ResourceFilter | string {
  const t = q.trim();
  if (!t.startsWith('{')) return t;
  const v = parseJson(t, 'the query');
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError('a JSON query must be an object such as {"=": {"project_id": "P"}}');
  return v as unknown as ResourceFilter;
}

/** Python's strtobool, as gnocchi reads boolean attributes. */
function strToBool(v: string): boolean {
  const s = v.toLowerCase();
  if (['y', 'yes', 't', 'true', 'on', '1'].includes(s)) return true;
  if (['n', 'no', 'f', 'false', 'off', '0'].includes(s)) return false;
  throw new UsageError(`${JSON.stringify(v)} is not a boolean (true/false, yes/no, 1/0)`);
}

function listOptions(cmd: Command, history = true): Command {
  cmd.option('--details', 'show every attribute of generic resources')
    .option('-t, --type <type>', 'resource type', 'generic');
  if (history) cmd.option('--history', 'show the history of the resources');
  return pageOptions(cmd, 'resources');
}

function resourceQuery(f: Record<string, unknown>): ResourceListQuery {
  return { ...pageQuery(f), ...(f.details === true ? { details: true } : {}), ...(f.history === true ? { history: true } : {}) };
}

function writeOptions(cmd: Command): Command {
  return cmd
    .option('-t, --type <type>', 'resource type', 'generic')
    .option('-a, --attribute <name:value>', 'an attribute (repeatable)', collect)
    .option('-m, --add-metric <name:id>', 'attach an existing metric (repeatable)', collect)
    .option('-n, --create-metric <name:archive-policy>', 'create a metric (the policy may be left out for a rule to choose; repeatable)', collect);
}

const split = (s: string): [string, string] => {
  const i = s.indexOf(':');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
};

export function addResourceCommands(prog: Command): void {
  const r = group(prog, 'resource', 'resources: things measured (instances, volumes...), with attributes and named metrics');

  /** The body of create or update from -a/-m/-n (and -d), typing attributes as the resource type says. */
  const body = async (g: GnocchiClient, type: string, id: string, f: Record<string, unknown>, update: boolean): Promise<ResourceCreate> => {
    const out: ResourceCreate = { id };
    if (update) delete (out as Partial<ResourceCreate>).id;
    const attrs = (f.attribute as string[] | undefined) ?? [];
    if (attrs.length > 0) {
      const declared = (await g.resourceType.get(type)).attributes;
      for (const a of attrs) {
        const [k, v] = split(a);
        const t = declared[k]?.type;
        if (t === 'number') {
          const n = Number(v);
          if (v.trim() === '' || Number.isNaN(n)) throw new UsageError(`attribute ${k} is a number, got ${JSON.stringify(v)}`);
          out[k] = n;
        } else out[k] = t === 'bool' ? strToBool(v) : v;
      }
    }
    const add = (f.addMetric as string[] | undefined) ?? [];
    const create = (f.createMetric as string[] | undefined) ?? [];
    const del = (f.deleteMetric as string[] | undefined) ?? [];
    if (add.length + create.length + del.length > 0) {
      let metrics: Record<string, ResourceMetricInput> = {};
      if (update) {
        // The API replaces the whole set: start from the current one.
        metrics = { ...(await g.resource.get(type, id)).metrics };
        for (const name of del) {
          if (!(name in metrics)) throw new UsageError(`resource ${id} has no metric named ${name}`);
          delete metrics[name];
        }
      }
      for (const m of add) {
        const [name, mid] = split(m);
        metrics[name] = mid;
      }
      for (const m of create) {
        const [name, ap] = split(m);
        metrics[name] = ap ? { archive_policy_name: ap } : {};
      }
      out.metrics = metrics;
    }
    return out;
  };

  listOptions(clientCommand(r, 'list', 'list resources'))
    .action(action('resource list', async (ctx, _a, f) => {
      const g = ctx.gnocchi();
      const type = f.type as string;
      const q = resourceQuery(f);
      const items = await pages(ctx, f, 'resources', async () => (await g.resource.list(type, q)).items, () => g.resource.listAll(type, q));
      return resourceList(items.map((x) => withoutMetrics(x as unknown as Obj)));
    }));
  listOptions(clientCommand(r, 'history <resource-id>', 'show the revisions of a resource'), false)
    .action(action('resource history', async (ctx, a, f) => {
      const g = ctx.gnocchi();
      const type = f.type as string;
      const id = a[0] as string;
      const q = { ...pageQuery(f), ...(f.details === true ? { details: true } : {}) };
      const one = async () => (await g.resource.history(type, id, q)).items;
      const items = await pages(ctx, f, 'revisions', one, async function* () {
        let query = q;
        for (;;) {
          const p = await g.resource.history(type, id, query);
          yield* p.items;
          if (p.next === null || p.items.length === 0) return;
          query = { ...q, ...p.next };
        }
      });
      return resourceList(items.map((x) => metricsView(x as unknown as Obj, isTable(f))));
    }));
  listOptions(clientCommand(r, 'search <query>', 'search resources: id=X, project_id!=P and started_at>"2024-01-01", not (flavor_id="1"), or a JSON filter'))
    .action(action('resource search', async (ctx, a, f) => {
      const g = ctx.gnocchi();
      const type = f.type as string;
      const q = resourceQuery(f);
      const filter = searchOf(a[0] as string);
      const items = await pages(ctx, f, 'resources', async () => (await g.resource.search(type, filter, q)).items, () => g.resource.searchAll(type, filter, q));
      return resourceList(items.map((x) => withoutMetrics(x as unknown as Obj)));
    }));
  clientCommand(r, 'show <resource-id>', 'show a resource')
    .option('-t, --type <type>', 'resource type', 'generic')
    .action(action('resource show', async (ctx, a, f) =>
      show(metricsView((await ctx.gnocchi().resource.get(f.type as string, a[0] as string)) as unknown as Obj, isTable(f)))));
  writeOptions(clientCommand(r, 'create <resource-id>', 'create a resource'))
    .action(action('resource create', async (ctx, a, f) => {
      const g = ctx.gnocchi();
      const type = f.type as string;
      const res: Resource = await g.resource.create(type, await body(g, type, a[0] as string, f, false));
      return show(metricsView(res as unknown as Obj, isTable(f)));
    }));
  writeOptions(clientCommand(r, 'update <resource-id>', 'change attributes or metrics of a resource'))
    .option('-d, --delete-metric <name>', 'detach a metric (repeatable)', collect)
    .action(action('resource update', async (ctx, a, f) => {
      const g = ctx.gnocchi();
      const type = f.type as string;
      const id = a[0] as string;
      const patch = await body(g, type, id, f, true);
      if (Object.keys(patch).length === 0) throw new UsageError('nothing to change: give -a, -m, -n or -d');
      return show(metricsView((await g.resource.update(type, id, patch)) as unknown as Obj, isTable(f)));
    }));
  clientCommand(r, 'delete <resource-id>', 'delete a resource (and its metrics)', { output: false })
    .action(action('resource delete', async (ctx, a) => {
      await ctx.gnocchi().resource.delete('generic', a[0] as string);
    }));

  const batch = r.command('batch').description('operations on many resources at once');
  usageExit(batch);
  clientCommand(batch, 'delete <query>', 'delete every resource a search finds (same query syntax as resource search)')
    .option('-t, --type <type>', 'resource type', 'generic')
    .action(action('resource batch delete', async (ctx, a, f) => {
      const g = ctx.gnocchi();
      const type = f.type as string;
      const filter = searchOf(a[0] as string);
      const p = ctx.progress('deleting resources', undefined, 'resources');
      let deleted: number;
      try {
        // A query string goes as ?filter=, as gnocchi sends it; the typed client takes filter bodies.
        deleted = typeof filter === 'string'
          ? (await g.transport.json<{ deleted: number }>({ method: 'DELETE', path: `/v1/resource/${encodeURIComponent(type)}`, query: { filter } })).value.deleted
          : await g.resource.deleteMatching(type, filter);
        p.add(deleted);
      } finally {
        p.finish();
      }
      return show({ deleted });
    }));
}
