// A resource as Gnocchi prints it, and its ETag / Last-Modified.
import { createHash } from 'node:crypto';
import { formatTimestamp } from '@tally/timeseries';
import type { AttributeValue, Resource, ResourceType } from '@tally/indexer';

function attributeJson(v: AttributeValue): unknown {
  return typeof v === 'bigint' ? formatTimestamp(v) : v;
}

/** Gnocchi's field set and order; `attrs` keeps only the named fields (unknown names ignored). */
export function resourceJson(r: Resource, attrs?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    creator: r.creator,
    started_at: formatTimestamp(r.startedAt),
    revision_start: formatTimestamp(r.revisionStart),
    ended_at: r.endedAt === null ? null : formatTimestamp(r.endedAt),
    user_id: r.userId,
    project_id: r.projectId,
    original_resource_id: r.originalResourceId,
    id: r.id,
    type: r.type,
    revision_end: r.revisionEnd === null ? null : formatTimestamp(r.revisionEnd),
    metrics: r.metrics,
    created_by_user_id: r.createdByUserId,
    created_by_project_id: r.createdByProjectId,
  };
  for (const [k, v] of Object.entries(r.attributes)) out[k] = attributeJson(v);
  if (!attrs || attrs.length === 0) return out;
  return Object.fromEntries(attrs.filter((a) => a in out).map((a) => [a, out[a]]));
}

/** Python's datetime.isoformat() of a naive UTC time, which Gnocchi hashes into the ETag. */
function pyIsoformat(ns: bigint): string {
  const s = formatTimestamp(ns).replace(/\+00:00$/, '');
  const m = /^(.*?)(\.\d+)?$/.exec(s) as RegExpExecArray;
  // isoformat() prints exactly 6 fraction digits when microseconds are non-zero.
  const us = (ns % 1_000_000_000n) / 1000n;
  return us === 0n ? m[1] : `${m[1]}.${us.toString().padStart(6, '0')}`;
}

export function resourceEtag(r: Resource): string {
  return createHash('sha1').update(r.id).update(pyIsoformat(r.revisionStart)).digest('hex');
}

/** Last-Modified: revision start truncated to the second, as an HTTP date. */
export function resourceLastModified(r: Resource): Date {
  return new Date(Number(r.revisionStart / 1_000_000_000n) * 1000);
}

export function resourceTypeJson(rt: ResourceType): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(rt.attributes)) {
    if (a.type === 'string') attributes[name] = { type: a.type, required: a.required, min_length: a.minLength, max_length: a.maxLength };
    else if (a.type === 'number') attributes[name] = { type: a.type, required: a.required, min: a.min, max: a.max };
    else attributes[name] = { type: a.type, required: a.required };
  }
  return { name: rt.name, state: rt.state, attributes };
}
