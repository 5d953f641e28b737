// limit / marker / sort query arguments and the RFC 5988 "next" link, as Gnocchi does them.
import { HttpError } from './errors.js';

export interface SortKey {
  key: string;
  dir: string;
}

export interface ListArgs {
  limit: number;
  marker?: string;
  sort: SortKey[];
  /** The sort arguments as given (for the next link). */
  rawSort: string[];
}

const argError = (reason: string): HttpError => new HttpError(400, { cause: 'Argument value error', reason });

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export function listArgs(q: Record<string, string | string[]>, maxLimit: number, defaultSort = ['id:asc']): ListArgs {
  let limit = maxLimit;
  const rawLimit = one(q.limit);
  if (rawLimit !== undefined) {
    if (!/^\s*[-+]?\d+\s*$/.test(rawLimit)) throw argError("expected int for dictionary value @ data['limit']");
    const n = Number(rawLimit);
    if (n < 1) throw argError("value must be at least 1 for dictionary value @ data['limit']");
    limit = Math.min(n, maxLimit); // Gnocchi clamps rather than refuses
  }
  const given = q.sort === undefined ? defaultSort : Array.isArray(q.sort) ? q.sort : [q.sort];
  const rawSort = given.flatMap((s) => s.split(',')).filter(Boolean);
  // Keys and directions are checked by the indexer, which knows the sortable columns.
  const sort = rawSort.map((s): SortKey => {
    const [key, dir = 'asc'] = s.split(':');
    return { key, dir };
  });
  return { limit, marker: one(q.marker), sort, rawSort };
}

/** Python's urllib.parse.quote_plus, so links are byte-identical to Gnocchi's. */
export function quotePlus(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()).replace(/%20/g, '+');
}

export function nextLink(url: string, q: Record<string, string | string[]>, args: ListArgs, marker: string): string {
  const opts = new Map<string, string[]>();
  for (const [k, v] of Object.entries(q)) opts.set(k, Array.isArray(v) ? v : [v]);
  opts.set('limit', [String(args.limit)]);
  opts.set('sort', args.rawSort);
  opts.set('marker', [marker]);
  const params = [...opts.keys()].sort().flatMap((k) => (opts.get(k) ?? []).map((v) => `${quotePlus(k)}=${quotePlus(v)}`));
  return `<${url}?${params.join('&')}>; rel="next"`;
}
