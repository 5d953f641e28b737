// Resource writes: create, update (with history), delete, bulk delete; and get.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { AttributeValueError, checkAttributeValue, pyDatetimeStr, pyStr } from './attribute-values.js';
import type { Ctx } from './context.js';
import { classifyDbError } from './db-errors.js';
import {
  InvalidResourceId, NamedMetricAlreadyExists, NoSuchArchivePolicy, NoSuchMetric, NoSuchResource,
  ResourceAlreadyExists, ResourceAttributeError, ResourceRevisionMismatch, ResourceValueError, StartAfterEnd,
} from './errors.js';
import { checkLength, checkMetricFields } from './limits.js';
import { parseUuid } from './resource-id.js';
import { attachMetrics, filterSql } from './resource-list.js';
import { buildTarget, rowToResource, type Row } from './resource-target.js';
import { activeType, dbValue, loadType, type TypeInfo } from './rt-store.js';
import { toBigInt, toBigIntOrNull } from './rows.js';
import type { Database } from './schema.js';
import { chunks, IN_CHUNK, splitCreator } from './sql-indexer-helpers.js';
import type { AttributeValue, MetricRef, NewResource, Resource, ResourceFilter, ResourceUpdate } from './types.js';

type Tx = Kysely<Database>;

/** Checks given attribute values against the type; returns column -> stored value. */
export function checkAttributes(ctx: Ctx, info: TypeInfo, errorType: string, given: Record<string, AttributeValue>, creating: boolean): Map<string, AttributeValue> {
  const out = new Map<string, AttributeValue>();
  for (const [name, value] of Object.entries(given)) {
    const a = info.attributes.find((x) => x.name === name);
    if (a === undefined) throw new ResourceAttributeError(errorType, name);
    if (value === null) {
      if (a.schema.required) throw new ResourceValueError(info.name, name, 'None');
      out.set(a.column, null);
      continue;
    }
    try {
      out.set(a.column, dbValue(ctx.dialect, checkAttributeValue(a.schema, value)));
    } catch (e) {
      if (e instanceof AttributeValueError) throw new ResourceValueError(info.name, name, pyStr(value));
      throw e;
    }
  }
  if (creating) {
    for (const a of info.attributes) {
      if (!out.has(a.column)) {
        if (a.schema.required) throw new ResourceValueError(info.name, a.name, 'None');
        out.set(a.column, null);
      }
    }
  }
  return out;
}

/** Current revision of `id` through `info`'s target, with metrics; undefined if absent. */
export async function loadCurrent(q: Tx, info: TypeInfo, id: string): Promise<Resource | undefined> {
  const target = buildTarget(info, false);
  const { rows } = await sql<Row>`select ${target.select} from ${target.from} where r.id = ${id}`.execute(q);
  if (rows.length === 0) return undefined;
  const r = rowToResource(info, rows[0], false);
  await attachMetrics(q, [r]);
  return r;
}

export async function getResource(ctx: Ctx, type: string, id: string): Promise<Resource | null> {
  const info = await activeType(ctx.db, ctx.dialect, type);
  const uuid = parseUuid(id);
  return uuid === null ? null : (await loadCurrent(ctx.db, info, uuid)) ?? null;
}

async function attachExisting(tx: Tx, resourceId: string, creator: string | null, name: string, ref: { id: string }): Promise<void> {
  const id = parseUuid(ref.id);
  // Only the resource creator's active metrics may be attached (creator = NULL never matches).
  const m = id === null || creator === null ? undefined : await tx.selectFrom('metric').select('id')
    .where('id', '=', id).where('status', '=', 'active').where('creator', '=', creator).executeTakeFirst();
  if (m === undefined || id === null) throw new NoSuchMetric(ref.id);
  // Checked before writing: a unique violation would poison a PostgreSQL transaction.
  const clash = await tx.selectFrom('metric').select('id').where('resource_id', '=', resourceId)
    .where('name', '=', name).where('id', '!=', id).executeTakeFirst();
  if (clash !== undefined) throw new NamedMetricAlreadyExists(name);
  await tx.updateTable('metric').set({ resource_id: resourceId, name }).where('id', '=', id).execute();
}

async function createNamed(tx: Tx, resourceId: string, creator: string | null, name: string, ref: { archivePolicyName: string; unit?: string | null }): Promise<void> {
  const ap = await tx.selectFrom('archive_policy').select('name').where('name', '=', ref.archivePolicyName).executeTakeFirst();
  if (ap === undefined) throw new NoSuchArchivePolicy(ref.archivePolicyName);
  const clash = await tx.selectFrom('metric').select('id').where('resource_id', '=', resourceId)
    .where('name', '=', name).executeTakeFirst();
  if (clash !== undefined) throw new NamedMetricAlreadyExists(name);
  const { userId, projectId } = splitCreator(creator);
  await tx.insertInto('metric').values({
    id: randomUUID(), archive_policy_name: ref.archivePolicyName, creator, created_by_user_id: userId,
    created_by_project_id: projectId, resource_id: resourceId, name, unit: ref.unit ?? null, status: 'active',
  }).execute();
}

/** Gnocchi's _set_metrics_for_resource: attach existing metrics or create new ones, by name. */
async function setMetrics(tx: Tx, resourceId: string, creator: string | null, metrics: Record<string, MetricRef>): Promise<void> {
  for (const [name, ref] of Object.entries(metrics)) checkMetricFields(name, 'id' in ref ? null : ref.unit, creator);
  for (const [name, ref] of Object.entries(metrics)) {
    try {
      if ('id' in ref) await attachExisting(tx, resourceId, creator, name, ref);
      else await createNamed(tx, resourceId, creator, name, ref);
    } catch (e) {
      // A concurrent writer took the name between the check and the write.
      if (classifyDbError(e) === 'unique') throw new NamedMetricAlreadyExists(name);
      throw e;
    }
  }
}

export async function insertTypeRow(tx: Tx, table: string, key: 'id' | 'revision', keyValue: string | number, values: Map<string, AttributeValue>): Promise<void> {
  const cols = [sql.ref(key), ...[...values.keys()].map((c) => sql.ref(c))];
  const vals = [sql`${keyValue}`, ...[...values.values()].map((v) => sql`${v}`)];
  await sql`insert into ${sql.table(table)} (${sql.join(cols)}) values (${sql.join(vals)})`.execute(tx);
}

/** The strings of a resource that VARCHAR(255) columns store. */
export function checkResourceFields(originalId: string | null, userId: string | null | undefined, projectId: string | null | undefined, creator: string | null): void {
  checkLength('original_resource_id', originalId);
  checkLength('user_id', userId);
  checkLength('project_id', projectId);
  checkLength('Creator', creator);
}

export async function createResource(ctx: Ctx, nr: NewResource): Promise<Resource> {
  if (nr.startedAt !== undefined && nr.endedAt != null && nr.startedAt > nr.endedAt) throw new StartAfterEnd();
  const id = parseUuid(nr.id);
  if (id === null) throw new InvalidResourceId('badly formed hexadecimal UUID string');
  checkResourceFields(nr.originalResourceId ?? nr.id, nr.userId, nr.projectId, nr.creator);
  return ctx.write(async (tx) => {
    // FOR SHARE: the type cannot be altered or deleted until this resource is committed.
    const info = await activeType(tx, ctx.dialect, nr.type, 'share');
    const attrs = checkAttributes(ctx, info, nr.type, nr.attributes ?? {}, true);
    const now = ctx.now();
    const startedAt = nr.startedAt ?? now;
    const endedAt = nr.endedAt ?? null;
    if (endedAt !== null && startedAt > endedAt) throw new StartAfterEnd();
    if (await tx.selectFrom('resource').select('id').where('id', '=', id).executeTakeFirst() !== undefined) {
      throw new ResourceAlreadyExists(id);
    }
    try {
      await tx.insertInto('resource').values({
        id, type: nr.type, creator: nr.creator, user_id: nr.userId ?? null, project_id: nr.projectId ?? null,
        original_resource_id: nr.originalResourceId ?? nr.id, started_at: startedAt, revision_start: now, ended_at: endedAt,
      }).execute();
    } catch (e) {
      if (classifyDbError(e) === 'unique') throw new ResourceAlreadyExists(id);
      throw e;
    }
    if (info.name !== 'generic') await insertTypeRow(tx, info.tablename, 'id', id, attrs);
    if (nr.metrics !== undefined) await setMetrics(tx, id, nr.creator, nr.metrics);
    return (await loadCurrent(tx, info, id)) as Resource;
  });
}

interface BaseRow {
  id: string; type: string; creator: string | null; user_id: string | null; project_id: string | null;
  original_resource_id: string; started_at: bigint; revision_start: bigint; ended_at: bigint | null;
}

async function lockResource(ctx: Ctx, tx: Tx, id: string): Promise<BaseRow | undefined> {
  let q = tx.selectFrom('resource').selectAll().where('id', '=', id);
  // SQLite writers are already serialised by BEGIN IMMEDIATE.
  if (ctx.dialect === 'postgres') q = q.forUpdate();
  const r = await q.executeTakeFirst();
  if (r === undefined) return undefined;
  return { ...r, started_at: toBigInt(r.started_at), revision_start: toBigInt(r.revision_start), ended_at: toBigIntOrNull(r.ended_at) };
}

/** Copies the current revision (base row and the resource's own type row) into history. */
async function snapshot(tx: Tx, own: TypeInfo | undefined, row: BaseRow, revisionEnd: bigint): Promise<void> {
  const inserted = await tx.insertInto('resource_history').values({ ...row, revision_end: revisionEnd })
    .returning('revision').executeTakeFirstOrThrow();
  if (own === undefined || own.name === 'generic') return;
  const cols = own.attributes.map((a) => sql.ref(a.column));
  const revision = Number(inserted.revision);
  await sql`insert into ${sql.table(`${own.tablename}_history`)} (${sql.join([sql.ref('revision'), ...cols])})
    select ${sql.join([sql`${revision}`, ...cols])} from ${sql.table(own.tablename)} where id = ${row.id}`.execute(tx);
}

async function writeUpdate(ctx: Ctx, tx: Tx, info: TypeInfo, row: BaseRow, u: ResourceUpdate): Promise<void> {
  const attrs = checkAttributes(ctx, info, row.type, u.attributes ?? {}, false);
  const startedAt = u.startedAt ?? row.started_at;
  const endedAt = u.endedAt === undefined ? row.ended_at : u.endedAt;
  if (endedAt !== null && startedAt > endedAt) throw new ResourceValueError(info.name, 'ended_at', pyDatetimeStr(endedAt));
  let revisionStart = row.revision_start;
  if (u.createRevision ?? true) {
    // Strictly after the previous revision so revisions (and ETags) never collide.
    revisionStart = ctx.now();
    if (revisionStart <= row.revision_start) revisionStart = row.revision_start + 1000n;
    await snapshot(tx, await loadType(tx, ctx.dialect, row.type), row, revisionStart);
  }
  await tx.updateTable('resource').set({
    started_at: startedAt, ended_at: endedAt, revision_start: revisionStart,
    user_id: u.userId === undefined ? row.user_id : u.userId,
    project_id: u.projectId === undefined ? row.project_id : u.projectId,
  }).where('id', '=', row.id).execute();
  if (attrs.size > 0) {
    const sets = [...attrs].map(([c, v]) => sql`${sql.ref(c)} = ${v}`);
    await sql`update ${sql.table(info.tablename)} set ${sql.join(sets)} where id = ${row.id}`.execute(tx);
  }
}

export async function updateResource(ctx: Ctx, type: string, id: string, u: ResourceUpdate): Promise<Resource> {
  checkResourceFields(null, u.userId, u.projectId, null);
  return ctx.write(async (tx) => {
    const info = await activeType(tx, ctx.dialect, type, 'share');
    const uuid = parseUuid(id);
    const row = uuid === null ? undefined : await lockResource(ctx, tx, uuid);
    if (row === undefined || (type !== 'generic' && row.type !== type)) throw new NoSuchResource(uuid ?? id);
    if (u.ifRevisionStart !== undefined && u.ifRevisionStart !== row.revision_start) throw new ResourceRevisionMismatch(row.id);
    await writeUpdate(ctx, tx, info, row, u);
    if (u.metrics !== undefined) {
      if (u.appendMetrics !== true) {
        await tx.updateTable('metric').set({ resource_id: null })
          .where('resource_id', '=', row.id).where('status', '=', 'active').execute();
      }
      await setMetrics(tx, row.id, row.creator, u.metrics);
    }
    return (await loadCurrent(tx, info, row.id)) as Resource;
  });
}

async function deleteIds(tx: Tx, ids: readonly string[]): Promise<number> {
  let n = 0;
  for (const chunk of chunks(ids, IN_CHUNK)) {
    // The foreign key then detaches them (SET NULL); metricd expunges their data.
    await tx.updateTable('metric').set({ status: 'delete' }).where('resource_id', 'in', chunk).execute();
    const res = await tx.deleteFrom('resource').where('id', 'in', chunk).executeTakeFirst();
    n += Number(res.numDeletedRows);
  }
  return n;
}

export async function deleteResource(ctx: Ctx, id: string): Promise<void> {
  const uuid = parseUuid(id);
  if (uuid === null) throw new NoSuchResource(id);
  await ctx.write(async (tx) => {
    if (await deleteIds(tx, [uuid]) === 0) throw new NoSuchResource(uuid);
  });
}

export async function deleteResources(ctx: Ctx, type: string, filter: ResourceFilter): Promise<number> {
  if (filter === null || Object.keys(filter).length === 0) throw new Error('attribute_filter must be set');
  return ctx.write(async (tx) => {
    const info = await activeType(tx, ctx.dialect, type, 'share');
    const target = buildTarget(info, false);
    const where = filterSql(ctx, target, filter);
    const { rows } = await sql<{ id: string }>`select r.id from ${target.from} where ${where}`.execute(tx);
    return deleteIds(tx, rows.map((r) => r.id));
  });
}
