// Resource type operations (catalogue + DDL in one transaction).
import { AttributeValueError, checkAttributeValue } from './attribute-values.js';
import type { Ctx } from './context.js';
import {
  IndexerError,
  InvalidResourceAttributeName,
  InvalidResourceAttributeOption,
  NoSuchResourceType,
  ResourceAttributeError,
  ResourceTypeAlreadyExists,
  ResourceTypeColumnsExhausted,
  ResourceTypeInUse,
  TooManyResourceTypeAttributes,
  UnexpectedResourceTypeState,
} from './errors.js';
import { checkLength, MAX_RESOURCE_TYPE_COLUMNS } from './limits.js';
import { checkAttribute } from './resource-type-schema.js';
import {
  addAttributeColumn, createTypeTables, dropAttributeColumn, dropTypeTables, listTypes, loadType, newTablename,
  saveType, toPublicType, type StoredAttribute, type TypeInfo,
} from './rt-store.js';
import type { ResourceAttributeAddition, ResourceAttributeSchema, ResourceType, ResourceTypeChange } from './types.js';

/** States from which Gnocchi lets a type be deleted. */
const DELETABLE = ['active', 'deletion_error', 'creation_error', 'updating_error'];

export async function createResourceType(ctx: Ctx, name: string, attributes: Record<string, ResourceAttributeSchema>): Promise<ResourceType> {
  checkLength('Resource type name', name);
  const entries = Object.entries(attributes);
  if (entries.length > ctx.limits.maxResourceTypeAttributes) throw new TooManyResourceTypeAttributes(name, ctx.limits.maxResourceTypeAttributes);
  for (const [n, s] of entries) checkAttribute(n, s);
  return ctx.write(async (tx) => {
    // Checked first: on PostgreSQL a failed insert would poison the transaction.
    if (await loadType(tx, ctx.dialect, name) !== undefined) throw new ResourceTypeAlreadyExists(name);
    const info: TypeInfo = {
      name,
      tablename: newTablename(),
      state: 'active',
      attributes: entries.map(([n, schema], i) => ({ name: n, column: `a${i + 1}`, schema: { ...schema } })),
      nextColumn: entries.length + 1,
    };
    await saveType(tx, info, ctx.now(), true);
    await createTypeTables(tx, ctx.dialect, info);
    return toPublicType(info);
  });
}

export async function getResourceType(ctx: Ctx, name: string): Promise<ResourceType | null> {
  const info = await loadType(ctx.db, ctx.dialect, name);
  return info === undefined ? null : toPublicType(info);
}

export async function listResourceTypes(ctx: Ctx): Promise<ResourceType[]> {
  return (await listTypes(ctx.db)).map(toPublicType);
}

function checkAddition(ctx: Ctx, name: string, add: ResourceAttributeAddition): ResourceAttributeAddition {
  checkAttribute(name, add.schema);
  if (add.fill === undefined || add.fill === null) {
    if (add.schema.required) throw new InvalidResourceAttributeOption(name, 'fill', 'must not be empty if required=True');
    return { schema: add.schema };
  }
  try {
    return { schema: add.schema, fill: checkAttributeValue(add.schema, add.fill) };
  } catch (e) {
    if (e instanceof AttributeValueError) throw new InvalidResourceAttributeOption(name, 'fill', e.message);
    throw e;
  }
}

async function applyChange(ctx: Ctx, tx: Parameters<Parameters<Ctx['write']>[0]>[0], info: TypeInfo, change: ResourceTypeChange): Promise<void> {
  // Removals first, as Gnocchi does, so an attribute can be removed and re-added at once.
  for (const n of change.remove ?? []) {
    const a = info.attributes.find((x) => x.name === n);
    if (a === undefined) throw new ResourceAttributeError(info.name, n);
    await dropAttributeColumn(tx, info, a);
    info.attributes = info.attributes.filter((x) => x !== a);
  }
  const additions = Object.entries(change.add ?? {});
  if (info.attributes.length + additions.length > ctx.limits.maxResourceTypeAttributes) {
    throw new TooManyResourceTypeAttributes(info.name, ctx.limits.maxResourceTypeAttributes);
  }
  // PostgreSQL keeps counting a dropped column against the table's limit; SQLite frees it.
  const columnsUsed = ctx.dialect === 'postgres' ? info.nextColumn - 1 : info.attributes.length;
  if (columnsUsed + additions.length > MAX_RESOURCE_TYPE_COLUMNS) throw new ResourceTypeColumnsExhausted(info.name, MAX_RESOURCE_TYPE_COLUMNS);
  for (const [n, add] of additions) {
    if (info.attributes.some((x) => x.name === n)) throw new InvalidResourceAttributeName(n);
    const checked = checkAddition(ctx, n, add);
    const a: StoredAttribute = { name: n, column: `a${info.nextColumn++}`, schema: { ...checked.schema } };
    await addAttributeColumn(tx, ctx.dialect, info, a, checked.fill);
    info.attributes.push(a);
  }
}

export async function updateResourceType(ctx: Ctx, name: string, change: ResourceTypeChange): Promise<ResourceType> {
  return ctx.write(async (tx) => {
    const info = await loadType(tx, ctx.dialect, name, 'update');
    if (info === undefined) throw new NoSuchResourceType(name);
    if (Object.keys(change.add ?? {}).length === 0 && (change.remove ?? []).length === 0) return toPublicType(info);
    // generic's columns are the base resource table's: Gnocchi cannot alter it either.
    if (name === 'generic') throw new IndexerError('Resource type generic cannot be modified');
    if (info.state !== 'active') throw new UnexpectedResourceTypeState(name, 'active', info.state);
    await applyChange(ctx, tx, info, change);
    await saveType(tx, info, ctx.now(), false);
    return toPublicType(info);
  });
}

export async function deleteResourceType(ctx: Ctx, name: string): Promise<void> {
  if (name === 'generic') throw new ResourceTypeInUse(name);
  await ctx.write(async (tx) => {
    const info = await loadType(tx, ctx.dialect, name, 'update');
    if (info === undefined) throw new NoSuchResourceType(name);
    if (!DELETABLE.includes(info.state)) throw new UnexpectedResourceTypeState(name, DELETABLE.join('/'), info.state);
    // Gnocchi relies on RESTRICT foreign keys from resource and resource_history.type.
    const used = await tx.selectFrom('resource').select('id').where('type', '=', name).limit(1).executeTakeFirst()
      ?? await tx.selectFrom('resource_history').select('id').where('type', '=', name).limit(1).executeTakeFirst();
    if (used !== undefined) throw new ResourceTypeInUse(name);
    await dropTypeTables(tx, info);
    await tx.deleteFrom('resource_type').where('name', '=', name).execute();
  });
}

type Def = Record<string, ResourceAttributeSchema>;
const str = (required: boolean): ResourceAttributeSchema => ({ type: 'string', required, minLength: 0, maxLength: 255 });
const uuid: ResourceAttributeSchema = { type: 'uuid', required: true };

/** Gnocchi's legacy Ceilometer resource types (sqlalchemy_legacy_resources), in its order. */
export const STANDARD_RESOURCE_TYPES: ReadonlyArray<readonly [string, Def]> = [
  ['image', { name: str(true), container_format: str(true), disk_format: str(true) }],
  ['instance', { flavor_id: str(true), image_ref: str(false), host: str(true), display_name: str(true), server_group: str(false) }],
  ['instance_disk', { name: str(true), instance_id: uuid }],
  ['instance_network_interface', { name: str(true), instance_id: uuid }],
  ['volume', { display_name: str(false) }],
  ['swift_account', {}],
  ['ceph_account', {}],
  ['network', {}],
  ['identity', {}],
  ['ipmi', {}],
  ['stack', {}],
  ['host', { host_name: str(true) }],
  ['host_network_interface', { host_name: str(true), device_name: str(false) }],
  ['host_disk', { host_name: str(true), device_name: str(false) }],
];

export async function createStandardResourceTypes(ctx: Ctx): Promise<ResourceType[]> {
  const created: ResourceType[] = [];
  for (const [name, attrs] of STANDARD_RESOURCE_TYPES) {
    try {
      created.push(await createResourceType(ctx, name, attrs));
    } catch (e) {
      if (!(e instanceof ResourceTypeAlreadyExists)) throw e;
    }
  }
  return created;
}
