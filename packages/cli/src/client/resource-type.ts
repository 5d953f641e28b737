// `tally resource-type list|show|create|update|delete`, as gnocchi's (attributes shown the way
// gnocchi shows them, in every format, so that scripts written for one work with the other).
import type { Command } from 'commander';
import type { JsonValue, ResourceType, ResourceTypeAttributeInput, ResourceTypePatchOp } from '@tally/client';
import { action, clientCommand, collect } from './command.js';
import { cellText, listOf, show, UsageError } from './output.js';
import { group } from './groups.js';

/** Python's str() of a scalar, as gnocchi's "%s" writes attribute options. */
const py = (v: JsonValue): string => cellText(v);

/** One attribute per field, "attributes/NAME": its options as "k=v, ..." sorted by key. */
export function resourceTypeView(rt: ResourceType): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(rt)) {
    if (k !== 'attributes') out[k] = v as JsonValue;
  }
  for (const [name, a] of Object.entries(rt.attributes)) {
    out[`attributes/${name}`] = Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([k, v]) => `${k}=${py(v as JsonValue)}`).join(', ');
  }
  return out;
}

/** The attributes of a list row: "- NAME: k: v , k: v" a line. */
function attributesLines(rt: ResourceType): string {
  return Object.entries(rt.attributes).map(([name, a]) => `- ${name}: ${Object.entries(a).map(([k, v]) => `${k}: ${py(v as JsonValue)}`).join(' , ')}`).join('\n');
}

const BOOL = new Map([['y', true], ['yes', true], ['t', true], ['true', true], ['on', true], ['1', true],
  ['n', false], ['no', false], ['f', false], ['false', false], ['off', false], ['0', false]]);

/** gnocchi's NAME:TYPE:REQUIRED:OPTION=VALUE:... (e.g. display_name:string:true:max_length=255). */
export function parseAttribute(text: string): [string, ResourceTypeAttributeInput & { options?: Record<string, JsonValue> }] {
  const parts = text.split(':');
  const name = parts.shift() ?? '';
  if (name === '') throw new UsageError(`attribute ${JSON.stringify(text)} must start with a name`);
  const attr: Record<string, JsonValue> = {};
  const type = parts.shift();
  if (type !== undefined) attr.type = type;
  const req = parts.shift();
  if (req !== undefined) {
    const b = BOOL.get(req.toLowerCase());
    if (b === undefined) throw new UsageError(`attribute ${name}: required must be true or false, got ${JSON.stringify(req)}`);
    attr.required = b;
  }
  for (const p of parts) {
    const i = p.indexOf('=');
    const [k, raw] = i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
    const n = Number(raw);
    const v: JsonValue = raw.trim() !== '' && !Number.isNaN(n) ? n : raw;
    if (k === 'fill') {
      const opts = (attr.options ??= {}) as Record<string, JsonValue>;
      opts.fill = v;
    } else attr[k] = v;
  }
  return [name, attr as unknown as ResourceTypeAttributeInput & { options?: Record<string, JsonValue> }];
}

const ATTRIBUTE_HELP = 'attribute NAME:TYPE:REQUIRED:OPTION=VALUE:..., e.g. display_name:string:true:max_length=255 (repeatable)';

export function addResourceTypeCommands(prog: Command): void {
  const rt = group(prog, 'resource-type', 'resource types: the attributes resources of a type have');
  clientCommand(rt, 'list', 'list resource types')
    .action(action('resource-type list', async (ctx) =>
      listOf(['name', 'attributes'], (await ctx.gnocchi().resourceType.list()).map((t) => ({ name: t.name, attributes: attributesLines(t) })))));
  clientCommand(rt, 'show <name>', 'show a resource type')
    .action(action('resource-type show', async (ctx, a) => show(resourceTypeView(await ctx.gnocchi().resourceType.get(a[0] as string)))));
  clientCommand(rt, 'create <name>', 'create a resource type')
    .option('-a, --attribute <definition>', ATTRIBUTE_HELP, collect)
    .action(action('resource-type create', async (ctx, a, f) => {
      const attrs = ((f.attribute as string[] | undefined) ?? []).map(parseAttribute);
      return show(resourceTypeView(await ctx.gnocchi().resourceType.create({
        name: a[0] as string, ...(attrs.length > 0 ? { attributes: Object.fromEntries(attrs) } : {}),
      })));
    }));
  clientCommand(rt, 'update <name>', 'add or remove attributes of a resource type')
    .option('-a, --attribute <definition>', `${ATTRIBUTE_HELP}; a required one needs a fill value (fill=VALUE)`, collect)
    .option('-r, --remove-attribute <name>', 'remove this attribute (repeatable)', collect)
    .action(action('resource-type update', async (ctx, a, f) => {
      const ops: ResourceTypePatchOp[] = [
        ...((f.attribute as string[] | undefined) ?? []).map(parseAttribute).map(([name, value]): ResourceTypePatchOp => ({ op: 'add', path: `/attributes/${name}`, value } as ResourceTypePatchOp)),
        ...((f.removeAttribute as string[] | undefined) ?? []).map((name): ResourceTypePatchOp => ({ op: 'remove', path: `/attributes/${name}` })),
      ];
      if (ops.length === 0) throw new UsageError('nothing to change: give -a or -r');
      return show(resourceTypeView(await ctx.gnocchi().resourceType.update(a[0] as string, ops)));
    }));
  clientCommand(rt, 'delete <name>', 'delete a resource type (no resource of it may remain)', { output: false })
    .action(action('resource-type delete', async (ctx, a) => {
      await ctx.gnocchi().resourceType.delete(a[0] as string);
    }));
}
