// The archive policy of a new metric: the one named, else the first archive policy rule
// matching the metric's name (Gnocchi's rules, in their order).
import { archivePolicyRuleMatcher, matchArchivePolicyRule, type ArchivePolicy, type ArchivePolicyRule } from '@tally/timeseries';
import { NoSuchArchivePolicy, type MetricRef } from '@tally/indexer';
import type { MetricDefs } from '../resources/schema.js';
import { NoArchivePolicyForMetric } from './errors.js';
import type { Services } from './services.js';

type IndexerOnly = Pick<Services, 'indexer'>;

/** The archive policy for a new metric: the one named, else the first matching rule. */
export async function choosePolicy(s: IndexerOnly, apName: string | undefined, name: string | undefined | null): Promise<ArchivePolicy> {
  let chosen = apName;
  if (chosen === undefined) {
    const rules = await s.indexer.listArchivePolicyRules();
    chosen = name == null ? undefined : matchArchivePolicyRule(rules, name)?.archivePolicyName;
    if (chosen === undefined) throw new NoArchivePolicyForMetric(name ?? null);
  }
  const ap = await s.indexer.getArchivePolicy(chosen);
  if (!ap) throw new NoSuchArchivePolicy(chosen);
  return ap;
}

/** Resolves metric definitions without an archive policy through the archive policy rules. */
export async function resolveMetricRefs(s: IndexerOnly, defs: MetricDefs): Promise<Record<string, MetricRef>> {
  const out: Record<string, MetricRef> = Object.create(null) as Record<string, MetricRef>;
  let matchRule: ((name: string) => ArchivePolicyRule | null) | null = null;
  for (const [name, def] of Object.entries(defs)) {
    if ('id' in def || def.archivePolicyName !== undefined) {
      out[name] = 'id' in def ? def : { archivePolicyName: def.archivePolicyName as string, unit: def.unit };
      continue;
    }
    matchRule ??= archivePolicyRuleMatcher(await s.indexer.listArchivePolicyRules());
    const rule = matchRule(name);
    if (!rule) throw new NoArchivePolicyForMetric(name);
    out[name] = { archivePolicyName: rule.archivePolicyName, unit: def.unit };
  }
  return out;
}
