// `tally alarm list|show|create|update|delete|state get|state set|history show|history search`,
// as aodh's, against the alarm API (--alarm-endpoint).
import { Option, type Command } from 'commander';
import { GnocchiApiError, type AodhAlarm, type AodhClient, type AodhSimpleQuery, type JsonValue } from '@tally/client';
import { action, clientCommand, collect, float, int, LookupError, usageExit, type Args } from './command.js';
import { listOf, show, UsageError } from './output.js';
import { group } from './groups.js';

export const ALARM_TYPES = ['gnocchi_resources_threshold', 'gnocchi_aggregation_by_metrics_threshold', 'gnocchi_aggregation_by_resources_threshold', 'composite', 'event'] as const;
const STATES = ['ok', 'alarm', 'insufficient data'] as const;
const SEVERITIES = ['low', 'moderate', 'critical'];
const OPERATORS = ['lt', 'le', 'eq', 'ne', 'ge', 'gt'];
const OP_SYMBOL: Record<string, string> = { lt: '<', le: '<=', eq: '=', ne: '!=', ge: '>=', gt: '>' };
const LIST_COLUMNS = ['alarm_id', 'type', 'name', 'state', 'severity', 'enabled'];

type Obj = Record<string, JsonValue>;
const isObj = (v: JsonValue | undefined): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * An alarm as aodh shows one: a composite rule as indented JSON; otherwise the rule's fields
 * beside the alarm's, time constraints as JSON, an event query as "field op value" lines.
 */
export function alarmView(alarm: AodhAlarm): Obj {
  const a: Obj = { ...alarm };
  if (a.composite_rule !== undefined && a.composite_rule !== null) return { ...a, composite_rule: JSON.stringify(a.composite_rule, null, 2) };
  for (const t of ALARM_TYPES) {
    const rule = a[`${t}_rule`];
    if (isObj(rule)) {
      delete a[`${t}_rule`];
      Object.assign(a, rule);
    }
  }
  if (Array.isArray(a.time_constraints) && a.time_constraints.length > 0) a.time_constraints = JSON.stringify(a.time_constraints.map(sortKeys), null, 2);
  if (Array.isArray(a.query)) {
    a.query = a.query.map((q) => (isObj(q) ? `${String(q.field)} ${OP_SYMBOL[String(q.op)] ?? String(q.op)} ${String(q.value)}` : String(q))).join(' AND\n');
  }
  return a;
}

function sortKeys(v: JsonValue): JsonValue {
  return isObj(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v;
}

// ------------------------------------------------------------------ queries

/**
 * aodh's rich query ("project_id!=P and (name=x or severity=low)", "not enabled=false") as
 * the API's complex query filter ({"and": [{"!=": {"project_id": "P"}}, ...]}), or a JSON
 * filter as given.
 */
export function richQuery(text: string): JsonValue {
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      return JSON.parse(t) as JsonValue;
    } catch (e) {
      throw new UsageError(`query is not JSON: ${(e as Error).message}`);
    }
  }
  const tokens = t.match(/"(?:[^"\\]|\\.)*"|'[^']*'|\(|\)|<=|>=|!=|==|=|<|>|[^\s()<>=!]+/g) ?? [];
  let i = 0;
  const fail = (why: string): never => {
    throw new UsageError(`query ${JSON.stringify(text)}: ${why} (e.g. "state=alarm and severity!=low")`);
  };
  const value = (tok: string): JsonValue => {
    if (/^(['"]).*\1$/.test(tok)) return tok.slice(1, -1).replace(/\\(.)/g, '$1');
    if (/^-?\d+(\.\d+)?$/.test(tok)) return Number(tok);
    if (/^(true|false)$/i.test(tok)) return tok.toLowerCase() === 'true';
    return tok;
  };
  const primary = (): JsonValue => {
    const tok = tokens[i++] ?? fail('unexpected end');
    if (tok === '(') {
      const e = or();
      if (tokens[i++] !== ')') fail('missing )');
      return e;
    }
    if (tok.toLowerCase() === 'not') return { not: primary() };
    const op = tokens[i++] ?? fail(`no operator after ${tok}`);
    if (!['=', '==', '!=', '<', '<=', '>', '>='].includes(op)) fail(`unknown operator ${op}`);
    const v = tokens[i++] ?? fail(`no value after ${tok}${op}`);
    return { [op === '==' ? '=' : op]: { [tok]: value(v) } };
  };
  const chain = (word: string, next: () => JsonValue) => (): JsonValue => {
    const items = [next()];
    while (tokens[i]?.toLowerCase() === word) {
      i++;
      items.push(next());
    }
    return items.length === 1 ? items[0] : { [word]: items };
  };
  const and = chain('and', primary);
  const or = chain('or', and);
  const e = or();
  if (i < tokens.length) fail(`unexpected ${tokens[i]}`);
  return e;
}

const ARRAY_OPS: [string, string][] = [['<=', 'le'], ['>=', 'ge'], ['!=', 'ne'], ['<', 'lt'], ['>', 'gt'], ['=', 'eq']];

/** aodh's "field<=34;other=string::foo" (event alarm queries) as [{field, op, value, type}]. */
export function queryArray(text: string): Obj[] {
  return text.split(';').filter((q) => q.trim() !== '').map((q) => {
    for (const [sym, op] of ARRAY_OPS) {
      const at = q.indexOf(sym);
      if (at < 0) continue;
      const field = q.slice(0, at).trim();
      const rest = q.slice(at + sym.length).trim();
      if (!field || !rest) throw new UsageError(`query ${JSON.stringify(q)} needs a field and a value`);
      const typed = rest.indexOf('::');
      return typed < 0 ? { field, op, value: rest, type: '' } : { field, op, value: rest.slice(typed + 2), type: rest.slice(0, typed) };
    }
    throw new UsageError(`query ${JSON.stringify(q)} has no operator (one of <=, >=, !=, <, >, =)`);
  });
}

/** --filter KEY=VALUE, and KEY1=V1;KEY2=V2 in one. */
function filters(values: string[] | undefined): AodhSimpleQuery[] {
  return (values ?? []).flatMap((v) => v.split(';')).filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    if (i < 1) throw new UsageError(`filter ${JSON.stringify(kv)} must be KEY=VALUE`);
    return { field: kv.slice(0, i), op: 'eq' as const, value: kv.slice(i + 1) };
  });
}

// ------------------------------------------------------------------ by id or name

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

async function idByName(c: AodhClient, name: string): Promise<string> {
  const found = await c.alarm.query({ '=': { name } });
  if (found.length === 0) throw new LookupError(`alarm ${name} not found`);
  if (found.length > 1) throw new LookupError(`${found.length} alarms are named ${name}: give the alarm's id`);
  return found[0].alarm_id;
}

/** The alarm id of `ID or NAME` / --name, as aodh resolves them (an id not found may be a name). */
async function withAlarm<T>(c: AodhClient, args: Args, flags: Record<string, unknown>, fn: (id: string) => Promise<T>): Promise<T> {
  const idArg = args[0] as string | undefined;
  const name = flags.name as string | undefined;
  if (idArg !== undefined && name !== undefined) throw new UsageError('give the alarm id or --name, not both');
  if (idArg === undefined && name === undefined) throw new UsageError('give the alarm id (or name), or --name');
  if (name !== undefined) return fn(await idByName(c, name));
  const id = idArg as string;
  if (!UUID.test(id)) return fn(await idByName(c, id));
  try {
    return await fn(id);
  } catch (e) {
    if (e instanceof GnocchiApiError && e.status === 404) return fn(await idByName(c, id));
    throw e;
  }
}

// ------------------------------------------------------------------ create and update

const BOOL = (name: string) => (v: string): boolean => {
  const s = v.toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  throw new UsageError(`${name} must be true or false, got ${JSON.stringify(v)}`);
};

function timeConstraint(v: string): Obj {
  const out: Obj = {};
  for (const kv of v.split(';')) {
    const i = kv.indexOf('=');
    if (i < 0) throw new UsageError(`time constraint ${JSON.stringify(v)} must be name=NAME;start=CRON;duration=SECONDS[;description=...;timezone=...]`);
    const k = kv.slice(0, i).trim().replace(/^["']|["']$/g, '');
    const val = kv.slice(i + 1).trim().replace(/^["']|["']$/g, '');
    out[k] = k === 'duration' && /^\d+$/.test(val) ? Number(val) : val;
  }
  return out;
}

function alarmOptions(cmd: Command, create: boolean): Command {
  cmd.addOption(new Option('-t, --type <type>', `alarm type${create ? '' : ' (to change it)'}`).choices(ALARM_TYPES));
  if (create) cmd.requiredOption('--name <name>', 'name of the alarm');
  else cmd.option('--name <name>', 'name of the alarm (to find it when no id is given)');
  cmd.option('--project-id <id>', 'owner project (admin)')
    .option('--user-id <id>', 'owner user (admin)')
    .option('--description <text>', 'free text')
    .addOption(new Option('--state <state>', 'state').choices(STATES))
    .addOption(new Option('--severity <severity>', 'severity').choices(SEVERITIES))
    .option('--enabled <bool>', 'whether it is evaluated', BOOL('enabled'))
    .option('--alarm-action <url>', 'URL to notify on the alarm state (repeatable)', collect)
    .option('--ok-action <url>', 'URL to notify on the ok state (repeatable)', collect)
    .option('--insufficient-data-action <url>', 'URL to notify on the insufficient data state (repeatable)', collect)
    .option('--time-constraint <constraint>', 'only evaluate within: name=NAME;start=CRON;duration=SECONDS[;description=...;timezone=...] (repeatable)', collect)
    .option('--repeat-actions <bool>', 'notify at every evaluation while in a state', BOOL('repeat-actions'))
    .option('--query <query>', 'event alarms: field=value;field2<=v (type::value for a type); by-resources: a Gnocchi filter as JSON')
    .addOption(new Option('--comparison-operator <op>', 'operator comparing the value to the threshold').choices(OPERATORS))
    .option('--evaluation-periods <n>', 'periods that must breach (default 1)', int('evaluation-periods'))
    .option('--threshold <value>', 'threshold to compare against', float('threshold'))
    .option('--event-type <type>', 'event alarms: the event type (wildcards allowed)')
    .option('--granularity <seconds>', 'granularity of the measures evaluated', int('granularity'))
    .option('--aggregation-method <method>', 'aggregation method of the measures evaluated')
    .option('--metric, --metrics <metric>', 'metric name (resources, by-resources) or id (by-metrics) (repeatable)', collect)
    .option('--resource-type <type>', 'type of the resource(s)')
    .option('--resource-id <id>', 'resources threshold: the resource')
    .option('--composite-rule <json>', 'composite: the rule, e.g. {"or": [{RULE}, {RULE}]}');
  return cmd;
}

const pick = (f: Record<string, unknown>, keys: [string, string][]): Obj => {
  const out: Obj = {};
  for (const [flag, field] of keys) if (f[flag] !== undefined) out[field] = f[flag] as JsonValue;
  return out;
};

const COMMON_RULE: [string, string][] = [['granularity', 'granularity'], ['comparisonOperator', 'comparison_operator'], ['threshold', 'threshold'],
  ['aggregationMethod', 'aggregation_method'], ['evaluationPeriods', 'evaluation_periods']];

/** The rule of `type` from the options given (only those given: an update keeps the others). */
export function ruleFromFlags(type: string, f: Record<string, unknown>): Obj | null {
  const metrics = f.metrics as string[] | undefined;
  switch (type) {
    case 'gnocchi_resources_threshold':
      return { ...pick(f, [...COMMON_RULE, ['resourceId', 'resource_id'], ['resourceType', 'resource_type']]), ...(metrics ? { metric: metrics[0] } : {}) };
    case 'gnocchi_aggregation_by_metrics_threshold':
      return { ...pick(f, COMMON_RULE), ...(metrics ? { metrics } : {}) };
    case 'gnocchi_aggregation_by_resources_threshold':
      return { ...pick(f, [...COMMON_RULE, ['resourceType', 'resource_type'], ['query', 'query']]), ...(metrics ? { metric: metrics[0] } : {}) };
    case 'event':
      return { ...pick(f, [['eventType', 'event_type']]), ...(f.query === undefined ? {} : { query: queryArray(f.query as string) }) };
    case 'composite': {
      if (f.compositeRule === undefined) return null;
      try {
        return JSON.parse(f.compositeRule as string) as Obj;
      } catch (e) {
        throw new UsageError(`--composite-rule is not JSON: ${(e as Error).message}`);
      }
    }
    default:
      return null;
  }
}

const REQUIRED: Record<string, [string, string][]> = {
  gnocchi_resources_threshold: [['metrics', '--metric'], ['threshold', '--threshold'], ['resourceId', '--resource-id'], ['resourceType', '--resource-type'], ['aggregationMethod', '--aggregation-method']],
  gnocchi_aggregation_by_metrics_threshold: [['metrics', '--metric'], ['threshold', '--threshold'], ['aggregationMethod', '--aggregation-method']],
  gnocchi_aggregation_by_resources_threshold: [['metrics', '--metric'], ['threshold', '--threshold'], ['aggregationMethod', '--aggregation-method'], ['query', '--query'], ['resourceType', '--resource-type']],
  composite: [['compositeRule', '--composite-rule']],
  event: [],
};

/** The alarm's own fields from the options given. */
export function alarmFromFlags(f: Record<string, unknown>): Obj {
  const a = pick(f, [['name', 'name'], ['type', 'type'], ['projectId', 'project_id'], ['userId', 'user_id'], ['description', 'description'],
    ['state', 'state'], ['severity', 'severity'], ['enabled', 'enabled'], ['alarmAction', 'alarm_actions'], ['okAction', 'ok_actions'],
    ['insufficientDataAction', 'insufficient_data_actions'], ['repeatActions', 'repeat_actions']]);
  if (f.timeConstraint !== undefined) a.time_constraints = (f.timeConstraint as string[]).map(timeConstraint);
  return a;
}

export function addAlarmCommands(prog: Command): void {
  const al = group(prog, 'alarm', 'alarms (the Aodh API): thresholds over metrics, events, composites; their state and history');
  const aodh = (ctx: { aodh(): AodhClient }) => ctx.aodh();

  clientCommand(al, 'list', 'list alarms')
    .option('--query <query>', 'rich query, e.g. "state=alarm and severity!=low" (or a JSON filter)')
    .option('--filter <key=value>', 'filter on a field, e.g. state=alarm or name=x;type=event (repeatable)', collect)
    .option('--limit <n>', 'number of alarms to return', int('limit'))
    .option('--marker <id>', 'last alarm of the previous page')
    .option('--sort <key:dir>', 'sort, e.g. name:asc (repeatable)', collect)
    .action(action('alarm list', async (ctx, _a, f) => {
      if (f.query !== undefined) {
        if (f.filter !== undefined) throw new UsageError('--query and --filter cannot be used together');
        if (f.limit !== undefined || f.marker !== undefined || f.sort !== undefined) throw new UsageError('--query and the paging options (--limit, --marker, --sort) cannot be used together');
        return listOf(LIST_COLUMNS, await aodh(ctx).alarm.query(richQuery(f.query as string)));
      }
      return listOf(LIST_COLUMNS, await aodh(ctx).alarm.list({
        q: filters(f.filter as string[] | undefined), limit: f.limit as number | undefined, marker: f.marker as string | undefined, sort: f.sort as string[] | undefined,
      }));
    }));
  clientCommand(al, 'show [id]', 'show an alarm (by id or name)')
    .option('--name <name>', 'the alarm of this name')
    .action(action('alarm show', async (ctx, a, f) => {
      const c = aodh(ctx);
      return show(alarmView(await withAlarm(c, a, f, (id) => c.alarm.get(id))));
    }));
  alarmOptions(clientCommand(al, 'create', 'create an alarm'), true)
    .action(action('alarm create', async (ctx, _a, f) => {
      const type = f.type as string | undefined;
      if (type === undefined) throw new UsageError(`--type is required: one of ${ALARM_TYPES.join(', ')}`);
      const missing = REQUIRED[type].filter(([k]) => f[k] === undefined).map(([, flag]) => flag);
      if (missing.length > 0) throw new UsageError(`a ${type} alarm needs ${missing.join(', ')}`);
      const body = alarmFromFlags(f);
      const rule = ruleFromFlags(type, f);
      if (rule !== null) body[`${type}_rule`] = rule;
      return show(alarmView(await aodh(ctx).alarm.create(body)));
    }));
  alarmOptions(clientCommand(al, 'update [id]', 'change an alarm (by id, or by name)'), false)
    .action(action('alarm update', async (ctx, a, f) => {
      const c = aodh(ctx);
      // --name names the alarm to find only when no id is given; with an id it renames.
      const lookup = a[0] === undefined ? f : { ...f, name: undefined };
      return show(alarmView(await withAlarm(c, a, lookup, async (id) => {
        const changes = alarmFromFlags(a[0] === undefined ? { ...f, name: undefined } : f);
        const type = (f.type as string | undefined) ?? (await c.alarm.get(id)).type;
        const rule = ruleFromFlags(type, f);
        if (rule !== null && Object.keys(rule).length > 0) changes[`${type}_rule`] = rule;
        if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give the fields to change (e.g. --threshold 80)');
        return c.alarm.update(id, changes);
      })));
    }));
  clientCommand(al, 'delete [id]', 'delete an alarm (by id or name)', { output: false })
    .option('--name <name>', 'the alarm of this name')
    .action(action('alarm delete', async (ctx, a, f) => {
      const c = aodh(ctx);
      await withAlarm(c, a, f, (id) => c.alarm.delete(id));
    }));

  const state = al.command('state').description("an alarm's state");
  usageExit(state);
  clientCommand(state, 'get [id]', "show an alarm's state")
    .option('--name <name>', 'the alarm of this name')
    .action(action('alarm state get', async (ctx, a, f) => {
      const c = aodh(ctx);
      return show({ state: await withAlarm(c, a, f, (id) => c.alarm.getState(id)) });
    }));
  clientCommand(state, 'set [id]', "set an alarm's state (recorded in its history)")
    .option('--name <name>', 'the alarm of this name')
    .addOption(new Option('--state <state>', 'the new state').choices(STATES).makeOptionMandatory())
    .action(action('alarm state set', async (ctx, a, f) => {
      const c = aodh(ctx);
      return show({ state: await withAlarm(c, a, f, (id) => c.alarm.setState(id, f.state as (typeof STATES)[number])) });
    }));

  const history = al.command('history').description("alarms' history of changes");
  usageExit(history);
  addHistoryCommands(history, 'alarm history');
  // aodh spells the group alarm-history: both work.
  addHistoryCommands(group(prog, 'alarm-history', "alarms' history of changes (as `tally alarm history`)"), 'alarm-history');
}

function addHistoryCommands(history: Command, prefix: string): void {
  const aodh = (ctx: { aodh(): AodhClient }) => ctx.aodh();
  clientCommand(history, 'show <alarm-id>', 'show the history of an alarm')
    .option('--limit <n>', 'number of changes to return', int('limit'))
    .option('--marker <event-id>', 'last change of the previous page')
    .option('--sort <key:dir>', 'sort, e.g. timestamp:desc (repeatable)', collect)
    .action(action(`${prefix} show`, async (ctx, a, f) => listOf(['timestamp', 'type', 'detail', 'event_id'], await aodh(ctx).alarm.history(a[0] as string, {
      limit: f.limit as number | undefined, marker: f.marker as string | undefined, sort: f.sort as string[] | undefined,
    }))));
  clientCommand(history, 'search', 'show the history of every alarm a query finds')
    .option('--query <query>', 'rich query, e.g. \'type="state transition" and alarm_id=ID\' (or a JSON filter)')
    .action(action(`${prefix} search`, async (ctx, _a, f) => listOf(['alarm_id', 'timestamp', 'type', 'detail'],
      await aodh(ctx).alarm.searchHistory(f.query === undefined ? undefined : richQuery(f.query as string)))));
}
