// Pricing data: list prices per (provider, service, size, region), each in force from its
// effective date until the next entry of the same key. A file is validated whole before it
// is used or installed. The checks are written out rather than given to a JSON Schema
// library because most of them are beyond what a schema says (exact decimal strings,
// instants, one entry per key and date across the file), and the messages must name the
// entry (by index and key) and the field at fault.
import { Decimal } from 'decimal.js';

export const PRICING_FORMAT = 1;

export interface PriceEntry {
  provider: string;
  service: string;
  /** Instance size, flavor, volume type, storage class... */
  size: string;
  region: string;
  /** What one `price` buys: `hour`, `GiB-month`, ... */
  unit: string;
  /** Decimal string, >= 0. */
  price: string;
  /** ISO 4217 code. */
  currency: string;
  /** ISO 8601 instant from which the price is in force (UTC when no offset is given). */
  effective: string;
  comment?: string;
}

export interface PricingFile {
  format: number;
  comment?: string;
  entries: PriceEntry[];
}

/** Where a price in force came from. */
export type PriceSource = 'bundled' | 'installed' | 'override';

export interface PriceKey { provider: string; service: string; size: string; region: string }

export class PricingError extends Error {
  constructor(message: string, readonly problems: readonly string[] = [message]) {
    super(message);
    this.name = 'PricingError';
  }
}

const ENTRY_FIELDS = ['provider', 'service', 'size', 'region', 'unit', 'price', 'currency', 'effective', 'comment'] as const;
const REQUIRED = ['provider', 'service', 'size', 'region', 'unit', 'price', 'currency', 'effective'] as const;
const FILE_FIELDS = ['format', 'comment', 'entries'];
const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(T(\d{2}):(\d{2})(:(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const CURRENCY = /^[A-Z]{3}$/;
const MAX_TEXT = 255;

export const keyOf = (k: PriceKey): string => [k.provider, k.service, k.size, k.region].join('/');

/** Milliseconds since the epoch of an ISO 8601 date or instant (UTC when it names no offset); NaN when invalid. */
export function instantMs(s: string): number {
  const m = INSTANT.exec(s);
  if (!m) return NaN;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [h, mi, se] = [Number(m[5] ?? 0), Number(m[6] ?? 0), Number(m[8] ?? 0)];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return NaN;
  if (d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return NaN;
  const iso = `${m[1]}-${m[2]}-${m[3]}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(se).padStart(2, '0')}${m[9] ? m[9].slice(0, 4) : ''}${m[10] ?? 'Z'}`;
  return Date.parse(iso);
}

/** Checks `data` as a pricing file; throws PricingError listing every problem found. */
export function validatePricing(data: unknown): PricingFile {
  const problems: string[] = [];
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new PricingError('pricing file: expected a JSON object');
  const file = data as Record<string, unknown>;
  for (const k of Object.keys(file)) if (!FILE_FIELDS.includes(k)) problems.push(`pricing file: unknown field "${k}"`);
  if (file.format !== PRICING_FORMAT) problems.push(`pricing file: format: expected ${PRICING_FORMAT}, got ${JSON.stringify(file.format)}`);
  if (file.comment !== undefined && typeof file.comment !== 'string') problems.push('pricing file: comment: expected a string');
  if (!Array.isArray(file.entries)) {
    problems.push('pricing file: entries: expected a list');
    throw new PricingError(problems.join('; '), problems);
  }
  const seen = new Map<string, number>();
  const entries: PriceEntry[] = [];
  file.entries.forEach((raw: unknown, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`entry ${i}: expected an object`);
      return;
    }
    const e = raw as Record<string, unknown>;
    const name = `entry ${i} (${[e.provider, e.service, e.size, e.region].map((v) => (typeof v === 'string' ? v : '?')).join('/')})`;
    const bad = (field: string, why: string): void => { problems.push(`${name}: ${field}: ${why}`); };
    for (const k of Object.keys(e)) if (!(ENTRY_FIELDS as readonly string[]).includes(k)) bad(k, 'unknown field');
    for (const k of REQUIRED) {
      const v = e[k];
      if (v === undefined) bad(k, 'missing');
      else if (typeof v !== 'string') bad(k, `expected a string, got ${JSON.stringify(v)}`);
      else if (v.trim() === '' || v !== v.trim()) bad(k, 'expected a non-empty string without surrounding blanks');
      else if (v.length > MAX_TEXT) bad(k, `longer than ${MAX_TEXT} characters`);
    }
    if (e.comment !== undefined && typeof e.comment !== 'string') bad('comment', 'expected a string');
    if (typeof e.price === 'string' && !DECIMAL.test(e.price)) bad('price', `expected a non-negative decimal string such as "0.096", got "${e.price}"`);
    if (typeof e.currency === 'string' && !CURRENCY.test(e.currency)) bad('currency', `expected an ISO 4217 code such as "USD", got "${e.currency}"`);
    if (typeof e.effective === 'string' && Number.isNaN(instantMs(e.effective))) bad('effective', `expected an ISO 8601 date or instant, got "${e.effective}"`);
    if (REQUIRED.every((k) => typeof e[k] === 'string')) {
      const entry = e as unknown as PriceEntry;
      const at = instantMs(entry.effective);
      const dup = `${keyOf(entry)}@${at}`;
      const first = seen.get(dup);
      if (first !== undefined) bad('effective', `entry ${first} has the same key and effective date`);
      else seen.set(dup, i);
      entries.push(entry);
    }
  });
  if (problems.length > 0) throw new PricingError(`invalid pricing file: ${problems.join('; ')}`, problems);
  return { format: PRICING_FORMAT, ...(typeof file.comment === 'string' ? { comment: file.comment } : {}), entries };
}

/** Parses and validates the text of a pricing file. */
export function parsePricing(text: string): PricingFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PricingError(`pricing file: not JSON (${(err as Error).message})`);
  }
  return validatePricing(data);
}

export interface SourcedEntry extends PriceEntry { source: PriceSource }

/**
 * The prices in force: the base file (the installed update when there is one, else the
 * bundled file) with the override's keys replacing the base's. A key the override names
 * takes the override's entries only, its whole history, so a user's price is never mixed
 * with a later-dated bundled one.
 */
export class PriceBook {
  readonly #byKey = new Map<string, SourcedEntry[]>();

  constructor(layers: readonly { source: PriceSource; file: PricingFile }[]) {
    for (const { source, file } of layers) {
      const mine = new Map<string, SourcedEntry[]>();
      for (const e of file.entries) {
        const k = keyOf(e);
        mine.set(k, [...(mine.get(k) ?? []), { ...e, source }]);
      }
      for (const [k, list] of mine) this.#byKey.set(k, list.sort((a, b) => instantMs(a.effective) - instantMs(b.effective)));
    }
  }

  /** Every entry, by key then effective date. */
  entries(filter: { provider?: string } = {}): SourcedEntry[] {
    return [...this.#byKey.keys()].sort().flatMap((k) => this.#byKey.get(k) ?? [])
      .filter((e) => filter.provider === undefined || e.provider === filter.provider);
  }

  /** The entry in force for `key` at `atMs` (ms since the epoch): the latest effective at or before it. */
  lookup(key: PriceKey, atMs: number): SourcedEntry | null {
    const list = this.#byKey.get(keyOf(key));
    if (!list) return null;
    let found: SourcedEntry | null = null;
    for (const e of list) {
      if (instantMs(e.effective) <= atMs) found = e;
      else break;
    }
    return found;
  }

  /** Like lookup, as an exact decimal; throws PricingError when no price is in force. */
  price(key: PriceKey, atMs: number): Decimal {
    const e = this.lookup(key, atMs);
    if (!e) throw new PricingError(`no price in force for ${keyOf(key)} at ${new Date(atMs).toISOString()}`);
    return new Decimal(e.price);
  }
}
