// Archive policy rules: create, get, list (cached, see policy-cache.ts), rename, delete,
// and the choice of a metric's archive policy by the first rule matching its name.
import { compileGlob, validateGlob } from '@tally/timeseries';
import { getArchivePolicy } from './archive-policies.js';
import type { Ctx } from './context.js';
import { classifyDbError } from './db-errors.js';
import {
  ArchivePolicyRuleAlreadyExists,
  NoArchivePolicyRuleMatch,
  NoSuchArchivePolicy,
  NoSuchArchivePolicyRule,
  UnsupportedArchivePolicyRuleChange,
} from './errors.js';
import { checkLength } from './limits.js';
import type { PolicyCache } from './policy-cache.js';
import type { ArchivePolicy, ArchivePolicyRule } from './types.js';

export async function createArchivePolicyRule(ctx: Ctx, cache: PolicyCache, rule: ArchivePolicyRule): Promise<ArchivePolicyRule> {
  checkLength('Archive policy rule name', rule.name);
  checkLength('Archive policy rule metric_pattern', rule.metricPattern);
  // Refused here rather than failing every metric creation that would match against it.
  validateGlob(rule.metricPattern);
  cache.drop();
  try {
    await ctx.db.insertInto('archive_policy_rule').values({
      name: rule.name,
      archive_policy_name: rule.archivePolicyName,
      metric_pattern: rule.metricPattern,
    }).execute();
  } catch (e) {
    const kind = classifyDbError(e);
    if (kind === 'unique') throw new ArchivePolicyRuleAlreadyExists(rule.name);
    if (kind === 'foreign_key') throw new NoSuchArchivePolicy(rule.archivePolicyName);
    throw e;
  } finally {
    cache.drop();
  }
  return { ...rule };
}

export async function getArchivePolicyRule(ctx: Ctx, name: string): Promise<ArchivePolicyRule | null> {
  const r = await ctx.db.selectFrom('archive_policy_rule').selectAll().where('name', '=', name).executeTakeFirst();
  return r === undefined ? null : { name: r.name, metricPattern: r.metric_pattern, archivePolicyName: r.archive_policy_name };
}

export async function listArchivePolicyRules(ctx: Ctx, cache: PolicyCache): Promise<ArchivePolicyRule[]> {
  const cached = cache.usable();
  if (cached && cache.rules !== null) return cache.rules.map((r) => ({ ...r }));
  const gen = cache.gen;
  // Gnocchi's order, which is also the precedence order of rule matching: descending
  // pattern puts more specific prefixes ("disk.foo.*") before broader ones ("disk.*").
  const rows = await ctx.db.selectFrom('archive_policy_rule').selectAll()
    .orderBy('metric_pattern', 'desc').orderBy('name', 'asc').execute();
  const rules = rows.map((r) => ({ name: r.name, metricPattern: r.metric_pattern, archivePolicyName: r.archive_policy_name }));
  if (cached && gen === cache.gen) cache.rules = rules.map((r) => ({ ...r }));
  return rules;
}

export async function renameArchivePolicyRule(ctx: Ctx, cache: PolicyCache, name: string, newName: string): Promise<ArchivePolicyRule> {
  checkLength('Archive policy rule name', newName);
  cache.drop();
  return ctx.write(async (tx) => {
    let updated: bigint;
    try {
      const res = await tx.updateTable('archive_policy_rule').set({ name: newName })
        .where('name', '=', name).executeTakeFirst();
      updated = res.numUpdatedRows;
    } catch (e) {
      if (classifyDbError(e) === 'unique') {
        throw new UnsupportedArchivePolicyRuleChange(name, `Archive policy rule ${newName} already exists.`);
      }
      throw e;
    }
    if (updated === 0n) throw new NoSuchArchivePolicyRule(name);
    const r = await tx.selectFrom('archive_policy_rule').selectAll().where('name', '=', newName).executeTakeFirstOrThrow();
    return { name: r.name, metricPattern: r.metric_pattern, archivePolicyName: r.archive_policy_name };
  }).finally(() => cache.drop());
}

export async function deleteArchivePolicyRule(ctx: Ctx, cache: PolicyCache, name: string): Promise<void> {
  cache.drop();
  try {
    const res = await ctx.db.deleteFrom('archive_policy_rule').where('name', '=', name).executeTakeFirst();
    if (res.numDeletedRows === 0n) throw new NoSuchArchivePolicyRule(name);
  } finally {
    cache.drop();
  }
}

export async function getArchivePolicyForMetric(ctx: Ctx, cache: PolicyCache, metricName: string | null): Promise<ArchivePolicy> {
  for (const rule of await listArchivePolicyRules(ctx, cache)) {
    // Gnocchi matches a nameless metric as "".
    if (compileGlob(rule.metricPattern).test(metricName ?? '')) {
      const policy = await getArchivePolicy(ctx, cache, rule.archivePolicyName);
      // The RESTRICT foreign key makes this unreachable short of a concurrent delete.
      if (policy === null) throw new NoSuchArchivePolicy(rule.archivePolicyName);
      return policy;
    }
  }
  throw new NoArchivePolicyRuleMatch(metricName);
}
