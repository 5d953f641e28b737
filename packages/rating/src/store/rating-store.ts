// The SQL rating store on the index database (SQLite or PostgreSQL, one Kysely code path):
// CloudKitty's hashmap objects with its checks and messages, the rating modules' state,
// rated points and the processor's scope state. Sums of money and quantities are made in
// exact decimals here rather than in SQL: SQLite has no exact decimal type.
import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import { classifyDbError, inWriteTx } from '@tally/indexer';
import type { Dialect } from '../db.js';
import type {
  HashmapField, HashmapGroup, HashmapMapping, HashmapRules, HashmapService, HashmapThreshold, MapType,
  RatedPeriod, RatedPoint, RatingModuleState, RatingStore, ScopePeriod, ScopeState,
} from '../model.js';
import {
  RatingClientError, RatingConflictError, RatingNotFoundError, noSuchField, noSuchGroup, noSuchMapping, noSuchService,
  noSuchThreshold,
} from './errors.js';
import { parsePricingKey } from '../pricing/mapping.js';
import { attributesDigest, type AttributesRow, type MappingRow, type RatedRow, type RatingTables, type ScopeRow, type ThresholdRow } from './schema.js';

/** The rating modules Tally has, as CloudKitty describes them; disabled with priority 1 until set. */
export const RATING_MODULES: readonly { module_id: string; description: string; hot_config: boolean }[] = [
  { module_id: 'hashmap', description: 'HashMap rating module.', hot_config: true },
  { module_id: 'noop', description: 'Dummy test module.', hot_config: false },
];

export interface MappingInput {
  value?: string | null;
  cost: string;
  map_type?: MapType;
  service_id?: string | null;
  field_id?: string | null;
  group_id?: string | null;
  tenant_id?: string | null;
  /** `provider/service/size/region`: the cost is the price in force there (mappings only). */
  pricing_key?: string | null;
}
export interface ThresholdInput extends Omit<MappingInput, 'value' | 'pricing_key'> { level: string }
/** The attributes a PUT sets (CloudKitty never moves a rule to another service or field). */
export interface RuleChange {
  value?: string | null;
  level?: string | null;
  cost?: string | null;
  map_type?: MapType | null;
  group_id?: string | null;
  tenant_id?: string | null;
  /** Mappings only; null makes the cost literal again. */
  pricing_key?: string | null;
}
export interface RuleFilter {
  serviceId?: string;
  fieldId?: string;
  groupId?: string;
  noGroup?: boolean;
  /** Present: only rules of this project (null: the ones for every project). */
  tenantId?: string | null;
}

/** Rated data selected by time, scope and any groupby or metadata attribute. */
export interface RatedQuery {
  /** Microseconds since the epoch; points whose period starts in [begin, end). */
  beginUs: number;
  endUs: number;
  /** Metric types (empty: all). */
  types?: readonly string[];
  /** Attribute -> accepted values (groupby first, then metadata). */
  filters?: Record<string, readonly string[]>;
}
export interface SummaryRow {
  begin: number;
  end: number;
  qty: Decimal;
  rate: Decimal;
  groups: Record<string, string>;
}
export interface StoredRated extends RatedPoint { scope_id: string; begin_us: number; end_us: number; currency: string }

export interface ScopeFilter {
  scopeId?: readonly string[];
  scopeKey?: readonly string[];
  fetcher?: readonly string[];
  collector?: readonly string[];
  active?: readonly boolean[];
}
export interface ScopeDefaults { scope_key: string; collector: string; fetcher: string }

const DECIMAL_PLACES = 28;
const NS_PER_US = 1000n;
const nsToUs = (ns: bigint): number => Number(ns / NS_PER_US);
const usToNs = (us: number | string): bigint => BigInt(us) * NS_PER_US;
const num = (v: number | string): number => Number(v);

/** A decimal as CloudKitty answers a Numeric(40, 28) column. */
export const fixed = (d: string): string => new Decimal(d).toFixed(DECIMAL_PLACES);

function parseDecimal(field: string, v: string): string {
  let d: Decimal;
  try {
    d = new Decimal(v);
  } catch {
    throw new RatingClientError(`Invalid decimal for ${field}: ${v}`);
  }
  if (!d.isFinite()) throw new RatingClientError(`Invalid decimal for ${field}: ${v}`);
  if (d.abs().gte(new Decimal(10).pow(12))) throw new RatingClientError(`${field} out of range: ${v}`);
  return d.toFixed();
}

const mappingOut = (r: MappingRow): HashmapMapping => ({
  mapping_id: r.mapping_id, value: r.value, cost: fixed(r.cost), map_type: r.map_type as MapType,
  service_id: r.service_id, field_id: r.field_id, group_id: r.group_id, tenant_id: r.tenant_id, pricing_key: r.pricing_key ?? null,
});

/** A pricing key as the mapping keeps it; a malformed one is the client's error. */
function pricingKey(v: string | null | undefined): string | null {
  if (v === undefined || v === null || v === '') return null;
  try {
    parsePricingKey(v);
  } catch (e) {
    throw new RatingClientError((e as Error).message);
  }
  return v;
}
const thresholdOut = (r: ThresholdRow): HashmapThreshold => ({
  threshold_id: r.threshold_id, level: fixed(r.level), cost: fixed(r.cost), map_type: r.map_type as MapType,
  service_id: r.service_id, field_id: r.field_id, group_id: r.group_id, tenant_id: r.tenant_id,
});
const scopeOut = (r: ScopeRow): ScopeState & { toggled: bigint } => ({
  scope_id: r.scope_id, scope_key: r.scope_key, collector: r.collector, fetcher: r.fetcher,
  last_processed: r.last_processed_us === null ? null : usToNs(r.last_processed_us), active: num(r.active) === 1,
  toggled: usToNs(r.toggled_us),
});
type RatedRead = RatedRow & { groupby: string; metadata: string };

/**
 * Rated rows as points; rows naming the same attributes share their groupby and metadata
 * objects (each JSON parsed once per read), which nothing downstream modifies.
 */
function ratedOut(rows: readonly RatedRead[]): StoredRated[] {
  const attributes = new Map<string, { groupby: Record<string, string>; metadata: Record<string, string> }>();
  return rows.map((r) => {
    const key = String(r.attributes_id);
    let a = attributes.get(key);
    if (a === undefined) {
      a = { groupby: JSON.parse(r.groupby) as Record<string, string>, metadata: JSON.parse(r.metadata) as Record<string, string> };
      attributes.set(key, a);
    }
    return {
      scope_id: r.scope_id, begin_us: num(r.begin_us), end_us: num(r.end_us), type: r.type, unit: r.unit, qty: r.qty,
      price: r.price, currency: r.currency, groupby: a.groupby, metadata: a.metadata,
    };
  });
}

const PLAIN_DECIMAL = /^-?(0|[1-9]\d*)(\.\d*[1-9])?$/;

/** A decimal string as stored: plain notation; the canonical strings rating makes are kept as they are. */
function plainDecimal(s: string): string {
  return PLAIN_DECIMAL.test(s) && s !== '-0' ? s : new Decimal(s).toFixed();
}

/** The periods' spans (µs) with adjacent ones joined, in order. */
function runsOf(rated: readonly RatedPeriod[]): [number, number][] {
  const spans = rated.map((r): [number, number] => [nsToUs(r.period.begin), nsToUs(r.period.end)]).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [b, e] of spans) {
    const last = out[out.length - 1];
    if (last !== undefined && b <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([b, e]);
  }
  return out;
}

type Tx = Kysely<RatingTables> | Transaction<RatingTables>;

/** The columns of a rated row as writeRatedPeriods lists their values. */
const RATED_COLUMNS = ['scope_id', 'begin_us', 'end_us', 'type', 'unit', 'qty', 'price', 'currency', 'project_id', 'attributes_id'] as const satisfies readonly (keyof RatedRow)[];
const ATTRIBUTES_AT = RATED_COLUMNS.indexOf('attributes_id');

/** Rows per INSERT: 512 x 10 parameters stay under both dialects' bind limits (SQLite 32 766, PostgreSQL 65 535). */
const INSERT_ROWS = 512;

/** Attribute pairs per statement when resolving their ids. */
const ATTRIBUTE_ROWS = 500;

/**
 * The ids of distinct groupby and metadata pairs (JSON texts, with their attributesDigest) in
 * rating_attributes, adding the missing ones. Two writers adding the same pair at once both
 * end with the one row the digest's unique index lets in.
 */
async function attributeIds(tx: Kysely<RatingTables>, pairs: readonly AttributesRow[]): Promise<number[]> {
  const ids = new Map<string, number>();
  const found = async (digests: string[]): Promise<void> => {
    for (const r of await tx.selectFrom('rating_attributes').select(['id', 'digest']).where('digest', 'in', digests).execute()) ids.set(r.digest, Number(r.id));
  };
  for (let at = 0; at < pairs.length; at += ATTRIBUTE_ROWS) {
    const some = pairs.slice(at, at + ATTRIBUTE_ROWS);
    await found(some.map((p) => p.digest));
    const missing = some.filter((p) => !ids.has(p.digest));
    if (missing.length === 0) continue;
    await tx.insertInto('rating_attributes').values(missing).onConflict((oc) => oc.column('digest').doNothing()).execute();
    await found(missing.map((p) => p.digest));
  }
  return pairs.map(({ digest }) => {
    const id = ids.get(digest);
    if (id === undefined) throw new Error(`rating_attributes: no row for digest ${digest} after adding it`);
    return id;
  });
}

const insertTexts = new Map<string, string>();

/** The text of a multi-row INSERT of `rows` rated rows, in the dialect's placeholders. */
function insertText(dialect: Dialect, rows: number): string {
  const key = `${dialect}/${rows}`;
  let text = insertTexts.get(key);
  if (text === undefined) {
    const n = RATED_COLUMNS.length;
    const tuple = (r: number): string => `(${Array.from({ length: n }, (_, c) => (dialect === 'postgres' ? `$${r * n + c + 1}` : '?')).join(', ')})`;
    text = `insert into rating_dataframes (${RATED_COLUMNS.join(', ')}) values ${Array.from({ length: rows }, (_, r) => tuple(r)).join(', ')}`;
    insertTexts.set(key, text);
  }
  return text;
}

/**
 * Inserts rated rows (`chunks`: lists of RATED_COLUMNS' values, row after row, of at most
 * INSERT_ROWS rows each) with multi-row INSERTs. The rated points of a batch are the bulk of
 * what the processor writes (one row per point, tens of thousands a pass): the statement
 * texts are made once and passed as compiled queries, so Kysely does not build and compile a
 * query tree per chunk, and the connection's statement cache (SQLite) reuses their prepared
 * statements. A short chunk goes in power-of-two parts, so a handful of texts serve every size.
 */
async function insertRated(tx: Kysely<RatingTables>, dialect: Dialect, chunks: readonly (string | number | null)[][]): Promise<void> {
  const n = RATED_COLUMNS.length;
  for (const chunk of chunks) {
    if (chunk.length === INSERT_ROWS * n) {
      await tx.executeQuery(CompiledQuery.raw(insertText(dialect, INSERT_ROWS), chunk));
      continue;
    }
    let at = 0;
    let rows = INSERT_ROWS;
    while (at < chunk.length) {
      while (rows * n > chunk.length - at) rows >>= 1;
      await tx.executeQuery(CompiledQuery.raw(insertText(dialect, rows), chunk.slice(at, at + rows * n)));
      at += rows * n;
    }
  }
}

export class SqlRatingStore implements RatingStore {
  readonly db: Kysely<RatingTables>;
  private readonly defaults: ScopeDefaults;

  constructor(db: Kysely<unknown>, readonly dialect: Dialect, defaults: Partial<ScopeDefaults> = {}, private readonly now: () => bigint = () => BigInt(Date.now()) * 1_000_000n) {
    this.db = db as Kysely<RatingTables>;
    this.defaults = { scope_key: 'project_id', collector: 'gnocchi', fetcher: 'gnocchi', ...defaults };
  }

  private tx<T>(fn: (tx: Kysely<RatingTables>) => Promise<T>): Promise<T> {
    return inWriteTx(this.db, this.dialect, fn);
  }

  // ---- services ----
  async listServices(): Promise<HashmapService[]> {
    return this.db.selectFrom('rating_hashmap_services').select(['service_id', 'name']).orderBy('name').execute();
  }
  async getService(uuid: string): Promise<HashmapService> {
    const r = await this.db.selectFrom('rating_hashmap_services').select(['service_id', 'name']).where('service_id', '=', uuid).executeTakeFirst();
    if (!r) throw noSuchService(null, uuid);
    return r;
  }
  async getServiceByName(name: string): Promise<HashmapService> {
    const r = await this.db.selectFrom('rating_hashmap_services').select(['service_id', 'name']).where('name', '=', name).executeTakeFirst();
    if (!r) throw noSuchService(name, null);
    return r;
  }
  async createService(name: string): Promise<HashmapService> {
    const row = { service_id: randomUUID(), name };
    return this.tx(async (tx) => {
      const old = await tx.selectFrom('rating_hashmap_services').select('service_id').where('name', '=', name).executeTakeFirst();
      if (old) throw new RatingConflictError(`Service ${name} already exists (UUID: ${old.service_id})`);
      await tx.insertInto('rating_hashmap_services').values(row).execute();
      return row;
    });
  }
  /** Deletes the service with its fields and every rule under them (CloudKitty's cascade). */
  async deleteService(uuid: string): Promise<void> {
    await this.tx(async (tx) => {
      const fields = tx.selectFrom('rating_hashmap_fields').select('field_id').where('service_id', '=', uuid);
      for (const t of ['rating_hashmap_mappings', 'rating_hashmap_thresholds'] as const) {
        await tx.deleteFrom(t).where((eb) => eb.or([eb('service_id', '=', uuid), eb('field_id', 'in', fields)])).execute();
      }
      await tx.deleteFrom('rating_hashmap_fields').where('service_id', '=', uuid).execute();
      const r = await tx.deleteFrom('rating_hashmap_services').where('service_id', '=', uuid).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw noSuchService(null, uuid);
    });
  }

  // ---- fields ----
  async listFields(serviceId: string): Promise<HashmapField[]> {
    return this.db.selectFrom('rating_hashmap_fields').select(['field_id', 'service_id', 'name'])
      .where('service_id', '=', serviceId).orderBy('name').execute();
  }
  async getField(uuid: string): Promise<HashmapField> {
    const r = await this.db.selectFrom('rating_hashmap_fields').select(['field_id', 'service_id', 'name']).where('field_id', '=', uuid).executeTakeFirst();
    if (!r) throw noSuchField(uuid);
    return r;
  }
  async createField(serviceId: string, name: string): Promise<HashmapField> {
    const row = { field_id: randomUUID(), service_id: serviceId, name };
    return this.tx(async (tx) => {
      await this.serviceIn(tx, serviceId);
      const old = await tx.selectFrom('rating_hashmap_fields').select('field_id').where('service_id', '=', serviceId).where('name', '=', name).executeTakeFirst();
      if (old) throw new RatingConflictError(`Field ${name} already exists (UUID: ${old.field_id})`);
      await tx.insertInto('rating_hashmap_fields').values(row).execute();
      return row;
    });
  }
  async deleteField(uuid: string): Promise<void> {
    await this.tx(async (tx) => {
      for (const t of ['rating_hashmap_mappings', 'rating_hashmap_thresholds'] as const) await tx.deleteFrom(t).where('field_id', '=', uuid).execute();
      const r = await tx.deleteFrom('rating_hashmap_fields').where('field_id', '=', uuid).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw noSuchField(uuid);
    });
  }

  // ---- groups ----
  async listGroups(): Promise<HashmapGroup[]> {
    return this.db.selectFrom('rating_hashmap_groups').select(['group_id', 'name']).orderBy('name').execute();
  }
  async getGroup(uuid: string): Promise<HashmapGroup> {
    const r = await this.db.selectFrom('rating_hashmap_groups').select(['group_id', 'name']).where('group_id', '=', uuid).executeTakeFirst();
    if (!r) throw noSuchGroup(null, uuid);
    return r;
  }
  async createGroup(name: string): Promise<HashmapGroup> {
    const row = { group_id: randomUUID(), name };
    return this.tx(async (tx) => {
      const old = await tx.selectFrom('rating_hashmap_groups').select('group_id').where('name', '=', name).executeTakeFirst();
      if (old) throw new RatingConflictError(`Group ${name} already exists (UUID: ${old.group_id})`);
      await tx.insertInto('rating_hashmap_groups').values(row).execute();
      return row;
    });
  }
  /** `recursive`: its mappings and thresholds go too; otherwise they stay, without a group. */
  async deleteGroup(uuid: string, recursive: boolean): Promise<void> {
    await this.tx(async (tx) => {
      for (const t of ['rating_hashmap_mappings', 'rating_hashmap_thresholds'] as const) {
        if (recursive) await tx.deleteFrom(t).where('group_id', '=', uuid).execute();
        else await tx.updateTable(t).set({ group_id: null }).where('group_id', '=', uuid).execute();
      }
      const r = await tx.deleteFrom('rating_hashmap_groups').where('group_id', '=', uuid).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw noSuchGroup(null, uuid);
    });
  }

  private async serviceIn(tx: Tx, uuid: string): Promise<void> {
    const r = await tx.selectFrom('rating_hashmap_services').select('service_id').where('service_id', '=', uuid).executeTakeFirst();
    if (!r) throw noSuchService(null, uuid);
  }
  private async fieldIn(tx: Tx, uuid: string): Promise<void> {
    const r = await tx.selectFrom('rating_hashmap_fields').select('field_id').where('field_id', '=', uuid).executeTakeFirst();
    if (!r) throw noSuchField(uuid);
  }
  private async groupIn(tx: Tx, uuid: string): Promise<void> {
    const r = await tx.selectFrom('rating_hashmap_groups').select('group_id').where('group_id', '=', uuid).executeTakeFirst();
    if (!r) throw noSuchGroup(null, uuid);
  }

  // ---- mappings and thresholds ----
  /**
   * A rule for every project (no tenant) duplicating another one's value or level: SQL's
   * unique constraints let NULLs differ, but two such rules would both apply to every point.
   */
  private async duplicateForAll(tx: Tx, table: 'rating_hashmap_mappings' | 'rating_hashmap_thresholds', row: MappingRow | ThresholdRow, self: string | null): Promise<boolean> {
    const key = 'value' in row ? row.value : row.level;
    if (key === null || row.tenant_id !== null) return false;
    const parent = row.field_id ? 'field_id' : 'service_id';
    const others = await tx.selectFrom(table as 'rating_hashmap_mappings').selectAll()
      .where(parent, '=', (row.field_id ?? row.service_id) as string).where('tenant_id', 'is', null)
      .where(table === 'rating_hashmap_mappings' ? 'value' : 'level' as 'value', '=', key).execute();
    return others.some((o) => ('mapping_id' in o ? o.mapping_id : (o as unknown as ThresholdRow).threshold_id) !== self);
  }

  private checkParents(i: { service_id?: string | null; field_id?: string | null }): void {
    if (i.field_id && i.service_id) throw new RatingClientError('You can only specify one parent.');
    if (!i.service_id && !i.field_id) throw new RatingClientError('You must specify one parent.');
  }

  async createMapping(i: MappingInput): Promise<HashmapMapping> {
    this.checkParents(i);
    if (i.value && i.service_id) throw new RatingClientError("You can't specify a value and a service_id.");
    if (!i.value && i.field_id) throw new RatingClientError('You must specify a value for a field mapping.');
    const row: MappingRow = {
      mapping_id: randomUUID(), value: i.value ?? null, cost: parseDecimal('cost', i.cost), map_type: i.map_type ?? 'flat',
      service_id: i.service_id ?? null, field_id: i.field_id ?? null, group_id: i.group_id ?? null, tenant_id: i.tenant_id ?? null,
      pricing_key: pricingKey(i.pricing_key),
    };
    return this.tx(async (tx) => {
      if (row.field_id) await this.fieldIn(tx, row.field_id);
      if (row.service_id) await this.serviceIn(tx, row.service_id);
      if (row.group_id) await this.groupIn(tx, row.group_id);
      const [ptype, pid] = row.field_id ? ['field', row.field_id] : ['service', row.service_id];
      const conflict = new RatingConflictError(`Mapping '${row.value ?? 'None'}' already exists for ${ptype} '${pid ?? 'None'}', tenant: '${row.tenant_id ?? 'None'}'`);
      if (await this.duplicateForAll(tx, 'rating_hashmap_mappings', row, null)) throw conflict;
      try {
        await tx.insertInto('rating_hashmap_mappings').values(row).execute();
      } catch (e) {
        if (classifyDbError(e) !== 'unique') throw e;
        throw conflict;
      }
      return mappingOut(row);
    });
  }
  async getMapping(uuid: string): Promise<HashmapMapping> {
    const r = await this.db.selectFrom('rating_hashmap_mappings').selectAll().where('mapping_id', '=', uuid).executeTakeFirst();
    if (!r) throw noSuchMapping(uuid);
    return mappingOut(r);
  }
  async listMappings(f: RuleFilter): Promise<HashmapMapping[]> {
    return (await this.ruleQuery('rating_hashmap_mappings', f)).map((r) => mappingOut(r as MappingRow));
  }
  async updateMapping(uuid: string, c: RuleChange): Promise<HashmapMapping> {
    return this.tx(async (tx) => {
      const old = await tx.selectFrom('rating_hashmap_mappings').selectAll().where('mapping_id', '=', uuid).executeTakeFirst();
      if (!old) throw noSuchMapping(uuid);
      if (old.field_id && 'value' in c && !c.value) throw new RatingClientError('You must specify a value for a field mapping.');
      const next: MappingRow = { ...old };
      if (c.value !== undefined) next.value = c.value;
      if (c.cost !== undefined && c.cost !== null) next.cost = parseDecimal('cost', c.cost);
      if (c.map_type !== undefined && c.map_type !== null) next.map_type = c.map_type;
      if (c.tenant_id !== undefined) next.tenant_id = c.tenant_id;
      if (c.pricing_key !== undefined) next.pricing_key = pricingKey(c.pricing_key);
      if (c.group_id) {
        await this.groupIn(tx, c.group_id);
        next.group_id = c.group_id;
      }
      const conflict = new RatingConflictError(`Mapping '${next.value ?? 'None'}' already exists for Mapping_id '${uuid}', tenant: '${next.tenant_id ?? 'None'}'`);
      if (await this.duplicateForAll(tx, 'rating_hashmap_mappings', next, uuid)) throw conflict;
      try {
        await tx.updateTable('rating_hashmap_mappings').set({
          value: next.value, cost: next.cost, map_type: next.map_type, tenant_id: next.tenant_id, group_id: next.group_id,
          pricing_key: next.pricing_key ?? null,
        }).where('mapping_id', '=', uuid).execute();
      } catch (e) {
        if (classifyDbError(e) !== 'unique') throw e;
        throw conflict;
      }
      return mappingOut(next);
    });
  }
  async deleteMapping(uuid: string): Promise<void> {
    const r = await this.db.deleteFrom('rating_hashmap_mappings').where('mapping_id', '=', uuid).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw noSuchMapping(uuid);
  }

  async createThreshold(i: ThresholdInput): Promise<HashmapThreshold> {
    this.checkParents(i);
    const row: ThresholdRow = {
      threshold_id: randomUUID(), level: parseDecimal('level', i.level), cost: parseDecimal('cost', i.cost), map_type: i.map_type ?? 'flat',
      service_id: i.service_id ?? null, field_id: i.field_id ?? null, group_id: i.group_id ?? null, tenant_id: i.tenant_id ?? null,
    };
    return this.tx(async (tx) => {
      if (row.field_id) await this.fieldIn(tx, row.field_id);
      if (row.service_id) await this.serviceIn(tx, row.service_id);
      if (row.group_id) await this.groupIn(tx, row.group_id);
      const [ptype, pid] = row.field_id ? ['field', row.field_id] : ['service', row.service_id];
      const conflict = new RatingConflictError(`Threshold '${fixed(row.level)}' already exists for ${ptype} '${pid ?? 'None'}', tenant: '${row.tenant_id ?? 'None'}'`);
      if (await this.duplicateForAll(tx, 'rating_hashmap_thresholds', row, null)) throw conflict;
      try {
        await tx.insertInto('rating_hashmap_thresholds').values(row).execute();
      } catch (e) {
        if (classifyDbError(e) !== 'unique') throw e;
        throw conflict;
      }
      return thresholdOut(row);
    });
  }
  async getThreshold(uuid: string): Promise<HashmapThreshold> {
    const r = await this.db.selectFrom('rating_hashmap_thresholds').selectAll().where('threshold_id', '=', uuid).executeTakeFirst();
    if (!r) throw noSuchThreshold(uuid);
    return thresholdOut(r);
  }
  async listThresholds(f: RuleFilter): Promise<HashmapThreshold[]> {
    return (await this.ruleQuery('rating_hashmap_thresholds', f)).map((r) => thresholdOut(r as ThresholdRow));
  }
  async updateThreshold(uuid: string, c: RuleChange): Promise<HashmapThreshold> {
    return this.tx(async (tx) => {
      const old = await tx.selectFrom('rating_hashmap_thresholds').selectAll().where('threshold_id', '=', uuid).executeTakeFirst();
      if (!old) throw noSuchThreshold(uuid);
      const next: ThresholdRow = { ...old };
      if (c.level !== undefined && c.level !== null) next.level = parseDecimal('level', c.level);
      if (c.cost !== undefined && c.cost !== null) next.cost = parseDecimal('cost', c.cost);
      if (c.map_type !== undefined && c.map_type !== null) next.map_type = c.map_type;
      if (c.tenant_id !== undefined) next.tenant_id = c.tenant_id;
      if (c.group_id) {
        await this.groupIn(tx, c.group_id);
        next.group_id = c.group_id;
      }
      const conflict = new RatingConflictError(`Threshold '${fixed(next.level)}' already exists for Threshold_id '${uuid}', tenant: '${next.tenant_id ?? 'None'}'`);
      if (await this.duplicateForAll(tx, 'rating_hashmap_thresholds', next, uuid)) throw conflict;
      try {
        await tx.updateTable('rating_hashmap_thresholds').set({
          level: next.level, cost: next.cost, map_type: next.map_type, tenant_id: next.tenant_id, group_id: next.group_id,
        }).where('threshold_id', '=', uuid).execute();
      } catch (e) {
        if (classifyDbError(e) !== 'unique') throw e;
        throw conflict;
      }
      return thresholdOut(next);
    });
  }
  async deleteThreshold(uuid: string): Promise<void> {
    const r = await this.db.deleteFrom('rating_hashmap_thresholds').where('threshold_id', '=', uuid).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw noSuchThreshold(uuid);
  }

  /** The group of a mapping or threshold; RatingNotFoundError when it has none. */
  async groupOf(kind: 'mapping' | 'threshold', uuid: string): Promise<HashmapGroup> {
    const rule = kind === 'mapping' ? await this.getMapping(uuid) : await this.getThreshold(uuid);
    if (!rule.group_id) throw new RatingNotFoundError(`${kind === 'mapping' ? 'Mapping' : 'Threshold'} has no group (UUID: ${uuid})`);
    return this.getGroup(rule.group_id);
  }

  private async ruleQuery(table: 'rating_hashmap_mappings' | 'rating_hashmap_thresholds', f: RuleFilter): Promise<(MappingRow | ThresholdRow)[]> {
    if (!f.serviceId && !f.fieldId && !f.groupId) throw new RatingClientError('You must specify either service_uuid, field_uuid or group_uuid.');
    let q = this.db.selectFrom(table as 'rating_hashmap_mappings').selectAll();
    if (f.serviceId) q = q.where('service_id', '=', f.serviceId);
    else if (f.fieldId) q = q.where('field_id', '=', f.fieldId);
    if (f.tenantId !== undefined) q = f.tenantId === null ? q.where('tenant_id', 'is', null) : q.where('tenant_id', '=', f.tenantId);
    if (f.groupId) q = q.where('group_id', '=', f.groupId);
    else if (f.noGroup) q = q.where('group_id', 'is', null);
    return q.orderBy(table === 'rating_hashmap_mappings' ? 'mapping_id' : 'threshold_id' as 'mapping_id').execute();
  }

  async hashmapRules(): Promise<HashmapRules> {
    return this.db.transaction().execute(async (tx) => ({
      services: await tx.selectFrom('rating_hashmap_services').select(['service_id', 'name']).execute(),
      fields: await tx.selectFrom('rating_hashmap_fields').select(['field_id', 'service_id', 'name']).execute(),
      groups: await tx.selectFrom('rating_hashmap_groups').select(['group_id', 'name']).execute(),
      mappings: (await tx.selectFrom('rating_hashmap_mappings').selectAll().execute()).map(mappingOut),
      thresholds: (await tx.selectFrom('rating_hashmap_thresholds').selectAll().execute()).map(thresholdOut),
    }));
  }

  // ---- modules ----
  async listModules(tx: Tx = this.db): Promise<RatingModuleState[]> {
    const rows = new Map((await tx.selectFrom('rating_modules').selectAll().execute()).map((r) => [r.module_id, r]));
    return RATING_MODULES.map((m) => {
      const r = rows.get(m.module_id);
      return { ...m, enabled: r ? num(r.enabled) === 1 : false, priority: r ? num(r.priority) : 1 };
    });
  }
  async getModule(id: string, tx: Tx = this.db): Promise<RatingModuleState> {
    const m = (await this.listModules(tx)).find((x) => x.module_id === id);
    if (!m) throw new RatingNotFoundError(`Module ${id} not found.`);
    return m;
  }
  async updateModule(id: string, change: { enabled?: boolean; priority?: number }): Promise<RatingModuleState> {
    return this.tx(async (tx) => {
      const cur = await this.getModule(id, tx);
      const enabled = change.enabled ?? cur.enabled;
      const priority = change.priority ?? cur.priority;
      await tx.deleteFrom('rating_modules').where('module_id', '=', id).execute();
      await tx.insertInto('rating_modules').values({ module_id: id, enabled: enabled ? 1 : 0, priority }).execute();
      return { ...cur, enabled, priority };
    });
  }
  async enabledModules(): Promise<RatingModuleState[]> {
    return (await this.listModules()).filter((m) => m.enabled).sort((a, b) => b.priority - a.priority);
  }

  // ---- scopes ----
  async scopeState(scopeId: string): Promise<ScopeState | null> {
    const r = await this.db.selectFrom('rating_scopes').selectAll().where('scope_id', '=', scopeId).executeTakeFirst();
    return r ? scopeOut(r) : null;
  }
  async scopes(): Promise<ScopeState[]> {
    return (await this.listScopes({})).map(({ toggled: _t, ...s }) => s);
  }
  async listScopes(f: ScopeFilter): Promise<(ScopeState & { toggled: bigint })[]> {
    let q = this.db.selectFrom('rating_scopes').selectAll();
    if (f.scopeId?.length) q = q.where('scope_id', 'in', f.scopeId);
    if (f.scopeKey?.length) q = q.where('scope_key', 'in', f.scopeKey);
    if (f.fetcher?.length) q = q.where('fetcher', 'in', f.fetcher);
    if (f.collector?.length) q = q.where('collector', 'in', f.collector);
    if (f.active?.length) q = q.where('active', 'in', f.active.map((a) => (a ? 1 : 0)));
    return (await q.orderBy('scope_id').execute()).map(scopeOut);
  }
  /**
   * Sets the selected scopes back to `to` (ns) and deletes what was rated from then on, so
   * the processor rates it again; returns how many scopes were reset.
   */
  async resetScopes(f: ScopeFilter, to: bigint): Promise<number> {
    return this.tx(async (tx) => {
      const ids = (await this.listScopesIn(tx, f)).map((s) => s.scope_id);
      if (ids.length === 0) return 0;
      await tx.updateTable('rating_scopes').set({ last_processed_us: nsToUs(to) }).where('scope_id', 'in', ids).execute();
      await tx.deleteFrom('rating_dataframes').where('scope_id', 'in', ids).where('begin_us', '>=', nsToUs(to)).execute();
      return ids.length;
    });
  }
  private async listScopesIn(tx: Tx, f: ScopeFilter): Promise<ScopeRow[]> {
    let q = tx.selectFrom('rating_scopes').selectAll();
    if (f.scopeId?.length) q = q.where('scope_id', 'in', f.scopeId);
    if (f.scopeKey?.length) q = q.where('scope_key', 'in', f.scopeKey);
    if (f.fetcher?.length) q = q.where('fetcher', 'in', f.fetcher);
    if (f.collector?.length) q = q.where('collector', 'in', f.collector);
    return q.execute();
  }
  /** Changes a scope's attributes; `active` changes stamp the toggle date. Null when unknown. */
  async patchScope(scopeId: string, change: Partial<Pick<ScopeState, 'scope_key' | 'collector' | 'fetcher' | 'active'>>): Promise<(ScopeState & { toggled: bigint }) | null> {
    return this.tx(async (tx) => {
      const old = await tx.selectFrom('rating_scopes').selectAll().where('scope_id', '=', scopeId).executeTakeFirst();
      if (!old) return null;
      const next: ScopeRow = { ...old };
      if (change.scope_key !== undefined) next.scope_key = change.scope_key;
      if (change.collector !== undefined) next.collector = change.collector;
      if (change.fetcher !== undefined) next.fetcher = change.fetcher;
      if (change.active !== undefined && (change.active ? 1 : 0) !== num(old.active)) {
        next.active = change.active ? 1 : 0;
        next.toggled_us = nsToUs(this.now());
      }
      await tx.updateTable('rating_scopes').set({
        scope_key: next.scope_key, collector: next.collector, fetcher: next.fetcher, active: next.active, toggled_us: next.toggled_us,
      }).where('scope_id', '=', scopeId).execute();
      return scopeOut(next);
    });
  }
  /** Creates a scope (active, never processed); null when it exists already. */
  async createScope(s: { scope_id: string } & Partial<Pick<ScopeState, 'scope_key' | 'collector' | 'fetcher' | 'active'>>): Promise<(ScopeState & { toggled: bigint }) | null> {
    return this.tx(async (tx) => {
      const old = await tx.selectFrom('rating_scopes').select('scope_id').where('scope_id', '=', s.scope_id).executeTakeFirst();
      if (old) return null;
      const row: ScopeRow = {
        scope_id: s.scope_id, scope_key: s.scope_key ?? this.defaults.scope_key, collector: s.collector ?? this.defaults.collector,
        fetcher: s.fetcher ?? this.defaults.fetcher, last_processed_us: null, active: s.active === false ? 0 : 1, toggled_us: nsToUs(this.now()),
      };
      await tx.insertInto('rating_scopes').values(row).execute();
      return scopeOut(row);
    });
  }

  // ---- rated data ----
  async writeRated(period: ScopePeriod, points: readonly RatedPoint[], currency: string): Promise<void> {
    await this.writeRatedPeriods([{ period, points }], currency);
  }

  async writeRatedPeriods(rated: readonly RatedPeriod[], currency: string): Promise<void> {
    if (rated.length === 0) return;
    const scopeId = rated[0].period.scopeId;
    if (rated.some((r) => r.period.scopeId !== scopeId)) throw new Error('writeRatedPeriods: periods of one scope only');
    // The column values of every row, in RATED_COLUMNS order, in chunks of INSERT_ROWS
    // rows, the attributes as an index into `pairs` until their ids are known. A batch
    // repeats each resource's attributes in every period: the points share their groupby and
    // metadata objects (see the collector), so each is serialised and looked up once.
    const chunks: (string | number | null)[][] = [];
    let values: (string | number | null)[] = [];
    const json = new Map<Readonly<Record<string, string>>, string>();
    const jsonOf = (o: Readonly<Record<string, string>>): string => {
      let s = json.get(o);
      if (s === undefined) json.set(o, (s = JSON.stringify(o)));
      return s;
    };
    const pairs: AttributesRow[] = [];
    const pairByObjects = new Map<object, Map<object, number>>();
    const pairByDigest = new Map<string, number>();
    const pairOf = (groupby: Readonly<Record<string, string>>, metadata: Readonly<Record<string, string>>): number => {
      let inner = pairByObjects.get(groupby);
      if (inner === undefined) pairByObjects.set(groupby, (inner = new Map()));
      let k = inner.get(metadata);
      if (k === undefined) {
        const g = jsonOf(groupby);
        const m = jsonOf(metadata);
        const digest = attributesDigest(g, m);
        k = pairByDigest.get(digest);
        if (k === undefined) {
          pairByDigest.set(digest, (k = pairs.length));
          pairs.push({ digest, groupby: g, metadata: m });
        }
        inner.set(metadata, k);
      }
      return k;
    };
    let lastEnd = 0;
    for (const { period, points } of rated) {
      const begin = nsToUs(period.begin);
      const end = nsToUs(period.end);
      lastEnd = Math.max(lastEnd, end);
      for (const p of points) {
        if (values.length === INSERT_ROWS * RATED_COLUMNS.length) {
          chunks.push(values);
          values = [];
        }
        values.push(scopeId, begin, end, p.type, p.unit, plainDecimal(p.qty), plainDecimal(p.price), currency,
          p.groupby.project_id ?? null, pairOf(p.groupby, p.metadata));
      }
    }
    if (values.length > 0) chunks.push(values);
    await this.tx(async (tx) => {
      const ids = await attributeIds(tx, pairs);
      for (const chunk of chunks) for (let i = ATTRIBUTES_AT; i < chunk.length; i += RATED_COLUMNS.length) chunk[i] = ids[chunk[i] as number];
      // What was stored for the periods: one delete per run of adjacent periods.
      for (const [from, to] of runsOf(rated)) {
        await tx.deleteFrom('rating_dataframes').where('scope_id', '=', scopeId)
          .where('begin_us', '>=', from).where('begin_us', '<', to).execute();
      }
      await insertRated(tx, this.dialect, chunks);
      const state = await tx.selectFrom('rating_scopes').selectAll().where('scope_id', '=', scopeId).executeTakeFirst();
      if (!state) {
        await tx.insertInto('rating_scopes').values({
          scope_id: scopeId, ...this.defaults, last_processed_us: lastEnd, active: 1, toggled_us: nsToUs(this.now()),
        }).execute();
      } else if (state.last_processed_us === null || num(state.last_processed_us) < lastEnd) {
        await tx.updateTable('rating_scopes').set({ last_processed_us: lastEnd }).where('scope_id', '=', scopeId).execute();
      }
    });
  }

  /** Rated rows with their attributes' texts. */
  #ratedRows() {
    return this.db.selectFrom('rating_dataframes as f').innerJoin('rating_attributes as a', 'a.id', 'f.attributes_id')
      .selectAll('f').select(['a.groupby', 'a.metadata']);
  }

  async readRated(scopeId: string, begin: bigint, end: bigint): Promise<{ period: ScopePeriod; points: RatedPoint[] }[]> {
    const rows = await this.#ratedRows().where('f.scope_id', '=', scopeId)
      .where('f.begin_us', '>=', nsToUs(begin)).where('f.begin_us', '<', nsToUs(end)).orderBy('f.begin_us').orderBy('f.id').execute();
    const out: { period: ScopePeriod; points: RatedPoint[] }[] = [];
    for (const r of ratedOut(rows)) {
      let last = out[out.length - 1];
      if (!last || last.period.begin !== usToNs(r.begin_us)) {
        last = { period: { scopeId, begin: usToNs(r.begin_us), end: usToNs(r.end_us) }, points: [] };
        out.push(last);
      }
      last.points.push({ type: r.type, unit: r.unit, qty: r.qty, price: r.price, groupby: r.groupby, metadata: r.metadata });
    }
    return out;
  }

  /** Rated points matching `q`, oldest first (attribute filters apply to groupby, then metadata). */
  async rated(q: RatedQuery): Promise<StoredRated[]> {
    let sel = this.#ratedRows().where('f.begin_us', '>=', q.beginUs).where('f.begin_us', '<', q.endUs);
    if (q.types?.length) sel = sel.where('f.type', 'in', q.types);
    const projects = q.filters?.project_id;
    if (projects?.length) sel = sel.where('f.project_id', 'in', projects);
    const rows = ratedOut(await sel.orderBy('f.begin_us').orderBy('f.id').execute());
    const filters = Object.entries(q.filters ?? {}).filter(([k]) => k !== 'project_id');
    if (filters.length === 0) return rows;
    return rows.filter((r) => filters.every(([k, vals]) => {
      const v = r.groupby[k] ?? r.metadata[k];
      return v !== undefined && vals.includes(v);
    }));
  }

  /**
   * Sums of quantity and price over `q`, one row per value of the `groupby` attributes
   * (`time` groups by period, `type` by metric type), in a stable order.
   */
  async summary(q: RatedQuery, groupby: readonly string[]): Promise<SummaryRow[]> {
    const groups = new Map<string, SummaryRow>();
    for (const r of await this.rated(q)) {
      const g: Record<string, string> = {};
      for (const k of groupby) {
        if (k === 'time') continue;
        g[k] = k === 'type' ? r.type : (r.groupby[k] ?? r.metadata[k] ?? '');
      }
      const byTime = groupby.includes('time');
      const key = JSON.stringify([byTime ? r.begin_us : 0, g]);
      let row = groups.get(key);
      if (!row) {
        row = { begin: byTime ? r.begin_us : q.beginUs, end: byTime ? r.end_us : q.endUs, qty: new Decimal(0), rate: new Decimal(0), groups: g };
        groups.set(key, row);
      }
      row.qty = row.qty.plus(r.qty);
      row.rate = row.rate.plus(r.price);
    }
    return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }
}
