// Archive policies: create, get (cached, see policy-cache.ts), list, update, delete.
import { secondsRepr } from '@tally/timeseries';
import type { Kysely } from 'kysely';
import type { Ctx } from './context.js';
import { classifyDbError } from './db-errors.js';
import {
  ArchivePolicyAlreadyExists,
  ArchivePolicyInUse,
  NoSuchArchivePolicy,
  UnsupportedArchivePolicyChange,
} from './errors.js';
import type { PolicyCache } from './policy-cache.js';
import { toBigInt, toBigIntOrNull, toNumber, toNumberOrNull } from './rows.js';
import type { Database } from './schema.js';
import { chunks, IN_CHUNK } from './sql-indexer-helpers.js';
import type { ArchivePolicy, ArchivePolicyItem } from './types.js';

function compareBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function copyPolicy(p: ArchivePolicy): ArchivePolicy {
  return {
    name: p.name,
    backWindow: p.backWindow,
    aggregationMethods: [...p.aggregationMethods],
    definition: p.definition.map((d) => ({ ...d })),
  };
}

/** Loads policies (all when `names` is undefined), ordered by name, in two queries. */
async function loadPolicies(q: Kysely<Database>, names?: readonly string[]): Promise<ArchivePolicy[]> {
  if (names !== undefined && names.length === 0) return [];
  let pq = q.selectFrom('archive_policy').selectAll().orderBy('name');
  let iq = q.selectFrom('archive_policy_item').selectAll()
    .orderBy('archive_policy_name').orderBy('position');
  if (names !== undefined) {
    pq = pq.where('name', 'in', names);
    iq = iq.where('archive_policy_name', 'in', names);
  }
  // Sequential on purpose: inside a transaction both must go through the one connection.
  const policies = await pq.execute();
  const items = await iq.execute();
  const byPolicy = new Map<string, ArchivePolicyItem[]>();
  for (const it of items) {
    let list = byPolicy.get(it.archive_policy_name);
    if (list === undefined) byPolicy.set(it.archive_policy_name, (list = []));
    list.push({
      granularity: toBigInt(it.granularity),
      points: toNumberOrNull(it.points),
      timespan: toBigIntOrNull(it.timespan),
    });
  }
  return policies.map((p) => ({
    name: p.name,
    backWindow: toNumber(p.back_window),
    aggregationMethods: JSON.parse(p.aggregation_methods) as string[],
    definition: byPolicy.get(p.name) ?? [],
  }));
}

async function insertItems(tx: Kysely<Database>, name: string, definition: readonly ArchivePolicyItem[]): Promise<void> {
  if (definition.length === 0) return;
  await tx.insertInto('archive_policy_item').values(definition.map((d, position) => ({
    archive_policy_name: name,
    position,
    granularity: d.granularity,
    points: d.points === null ? null : BigInt(d.points),
    timespan: d.timespan,
  }))).execute();
}

export async function createArchivePolicy(ctx: Ctx, cache: PolicyCache, policy: ArchivePolicy): Promise<ArchivePolicy> {
  cache.drop();
  await ctx.write(async (tx) => {
    try {
      await tx.insertInto('archive_policy').values({
        name: policy.name,
        back_window: policy.backWindow,
        aggregation_methods: JSON.stringify(policy.aggregationMethods),
      }).execute();
    } catch (e) {
      if (classifyDbError(e) === 'unique') throw new ArchivePolicyAlreadyExists(policy.name);
      throw e;
    }
    await insertItems(tx, policy.name, policy.definition);
  }).finally(() => cache.drop());
  return {
    name: policy.name,
    backWindow: policy.backWindow,
    aggregationMethods: [...policy.aggregationMethods],
    definition: policy.definition.map((d) => ({ ...d })),
  };
}

export async function getArchivePolicy(ctx: Ctx, cache: PolicyCache, name: string): Promise<ArchivePolicy | null> {
  return (await getArchivePolicies(ctx, cache, [name])).get(name) ?? null;
}

export async function getArchivePolicies(ctx: Ctx, cache: PolicyCache, names: Iterable<string>): Promise<Map<string, ArchivePolicy>> {
  const out = new Map<string, ArchivePolicy>();
  const cached = cache.usable();
  const missing: string[] = [];
  for (const name of new Set(names)) {
    const p = cached ? cache.policies.get(name) : undefined;
    if (p === undefined) missing.push(name);
    else if (p !== null) out.set(name, copyPolicy(p));
  }
  const gen = cache.gen;
  for (const chunk of chunks(missing, IN_CHUNK)) {
    const found = new Map((await loadPolicies(ctx.db, chunk)).map((p) => [p.name, p]));
    const store = cached && gen === cache.gen;
    for (const name of chunk) {
      const p = found.get(name);
      if (store) cache.policies.set(name, p === undefined ? null : copyPolicy(p));
      if (p !== undefined) out.set(name, p);
    }
  }
  return out;
}

export function listArchivePolicies(ctx: Ctx): Promise<ArchivePolicy[]> {
  return loadPolicies(ctx.db);
}

export async function updateArchivePolicy(
  ctx: Ctx,
  cache: PolicyCache,
  name: string,
  definition: readonly ArchivePolicyItem[],
): Promise<ArchivePolicy> {
  cache.drop();
  return ctx.write(async (tx) => {
    const [current] = await loadPolicies(tx, [name]);
    if (current === undefined) throw new NoSuchArchivePolicy(name);
    // Stored aggregates are laid out per granularity, so only points/timespan may change.
    if (current.definition.length !== definition.length) {
      throw new UnsupportedArchivePolicyChange(name, 'Cannot add or drop granularities');
    }
    const cur = current.definition.map((d) => d.granularity).sort(compareBigint);
    const nxt = definition.map((d) => d.granularity).sort(compareBigint);
    for (let i = 0; i < cur.length; i++) {
      if (cur[i] !== nxt[i]) {
        throw new UnsupportedArchivePolicyChange(name, `${secondsRepr(cur[i])} granularity interval was changed`);
      }
    }
    await tx.deleteFrom('archive_policy_item').where('archive_policy_name', '=', name).execute();
    await insertItems(tx, name, definition);
    return { ...current, definition: definition.map((d) => ({ ...d })) };
  }).finally(() => cache.drop());
}

export async function deleteArchivePolicy(ctx: Ctx, cache: PolicyCache, name: string): Promise<void> {
  cache.drop();
  await ctx.write(async (tx) => {
    const exists = await tx.selectFrom('archive_policy').select('name').where('name', '=', name).executeTakeFirst();
    if (exists === undefined) throw new NoSuchArchivePolicy(name);
    // Gnocchi relies on RESTRICT foreign keys, so soft-deleted metrics (until expunged)
    // and rules both keep a policy in use. Checked explicitly so the answer does not
    // depend on parsing driver errors; the constraint still guards races.
    const metric = await tx.selectFrom('metric').select('id')
      .where('archive_policy_name', '=', name).limit(1).executeTakeFirst();
    const rule = await tx.selectFrom('archive_policy_rule').select('name')
      .where('archive_policy_name', '=', name).limit(1).executeTakeFirst();
    if (metric !== undefined || rule !== undefined) throw new ArchivePolicyInUse(name);
    try {
      await tx.deleteFrom('archive_policy').where('name', '=', name).execute();
    } catch (e) {
      if (classifyDbError(e) === 'foreign_key') throw new ArchivePolicyInUse(name);
      throw e;
    }
  }).finally(() => cache.drop());
}
