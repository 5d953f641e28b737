// The cost of each resource over time, from rated points grouped by resource id; a resize
// (a change of the resource's flavor in Tally's resource history) shows as a change of the
// resource's price rate at the instant of the revision.
import { Decimal } from 'decimal.js';
import type { RatedPeriods } from './forecast.js';

export interface ResourceCostPoint {
  begin: bigint;
  end: bigint;
  qty: string;
  price: string;
  /** The flavor (or other sized attribute) the rated point carried. */
  size: string | null;
}

export interface PriceChange {
  /** Instant of the resource history's revision (ns). */
  at: bigint;
  from: string | null;
  to: string | null;
  /** Cost per hour in the rated period just before and just after `at` (decimal strings), when rated. */
  rate_before: string | null;
  rate_after: string | null;
}

export interface ResourceCost {
  resource_id: string;
  type: string;
  total: string;
  points: ResourceCostPoint[];
  changes: PriceChange[];
}

/** A revision of the resource's history (`/v1/resource/TYPE/ID/history`), as far as a resize needs it. */
export interface ResourceRevision {
  revision_start: string;
  [attribute: string]: unknown;
}

const HOUR_NS = new Decimal('3600000000000');

/** Rated points by resource (groupby `id`) and type, in time order. Points without an id are left out. */
export function costPerResource(periods: RatedPeriods, sizeAttribute = 'flavor_name'): ResourceCost[] {
  const byResource = new Map<string, ResourceCost>();
  for (const { period, points } of periods) {
    for (const p of points) {
      const id = p.groupby.id;
      if (id === undefined) continue;
      const k = `${p.type}\u0000${id}`;
      let r = byResource.get(k);
      if (!r) byResource.set(k, (r = { resource_id: id, type: p.type, total: '0', points: [], changes: [] }));
      r.points.push({ begin: period.begin, end: period.end, qty: p.qty, price: p.price, size: p.groupby[sizeAttribute] ?? p.metadata[sizeAttribute] ?? null });
    }
  }
  const out = [...byResource.values()];
  for (const r of out) {
    r.points.sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : 0));
    r.total = r.points.reduce((s, p) => s.plus(p.price), new Decimal(0)).toString();
  }
  return out.sort((a, b) => a.type.localeCompare(b.type) || a.resource_id.localeCompare(b.resource_id));
}

const rate = (p: ResourceCostPoint | undefined): string | null =>
  p ? new Decimal(p.price).times(HOUR_NS).dividedBy((p.end - p.begin).toString()).toDecimalPlaces(8).toString() : null;

/**
 * The resource's resizes from its history: each revision whose `sizeAttribute` differs from
 * the revision before, with the price rate of the rated periods either side of it.
 */
export function withResizes(cost: ResourceCost, history: readonly ResourceRevision[], sizeAttribute = 'flavor_name'): ResourceCost {
  const revs = [...history].sort((a, b) => Date.parse(a.revision_start) - Date.parse(b.revision_start));
  const changes: PriceChange[] = [];
  for (let i = 1; i < revs.length; i++) {
    const from = revs[i - 1][sizeAttribute];
    const to = revs[i][sizeAttribute];
    if (from === to) continue;
    const at = BigInt(Date.parse(revs[i].revision_start)) * 1_000_000n;
    const before = cost.points.filter((p) => p.end <= at).at(-1);
    const after = cost.points.find((p) => p.begin >= at);
    changes.push({ at, from: from == null ? null : String(from), to: to == null ? null : String(to), rate_before: rate(before), rate_after: rate(after) });
  }
  return { ...cost, changes };
}

/** What withResizes needs of a Gnocchi client (`GnocchiClient` of @tally/client has it). */
export interface ResourceHistorySource {
  resource: { history(type: string, id: string): Promise<{ items: ResourceRevision[] }> };
}

/** Reads the resource's history from Tally (or any Gnocchi) and adds its resizes. */
export async function resourceCostWithHistory(cost: ResourceCost, source: ResourceHistorySource, resourceType: string, sizeAttribute = 'flavor_name'): Promise<ResourceCost> {
  const { items } = await source.resource.history(resourceType, cost.resource_id);
  return withResizes(cost, items, sizeAttribute);
}
