// Kysely view of the current schema (the state after the latest migration).
//
// Selected integer types are unions because the drivers disagree: better-sqlite3 (with
// safe integers on) returns bigint for every INTEGER, node-postgres returns int8 as a
// string and int4 as a number. Rows are normalised in one place (rows.ts).
import type { ColumnType, Generated } from 'kysely';

/** BIGINT: written as bigint, read back as whatever the driver produces. */
export type Int8 = ColumnType<bigint | string | number, bigint, bigint>;
export type NullableInt8 = ColumnType<bigint | string | number | null, bigint | null, bigint | null>;
/** INTEGER: small values written as numbers. */
export type Int4 = ColumnType<bigint | string | number, number, number>;

export interface SchemaVersionTable {
  version: Int4;
  name: string;
  /** ns since epoch */
  applied_at: Int8;
}

export interface ArchivePolicyTable {
  name: string;
  back_window: Int4;
  /** JSON array of strings; order as given by the user is preserved (Gnocchi does). */
  aggregation_methods: string;
}

/** One row per definition item; `position` keeps the user's order. */
export interface ArchivePolicyItemTable {
  archive_policy_name: string;
  position: Int4;
  granularity: Int8;
  points: NullableInt8;
  timespan: NullableInt8;
}

export interface ArchivePolicyRuleTable {
  name: string;
  archive_policy_name: string;
  metric_pattern: string;
}

/** Columns every resource has; type attributes live in the type's rt_<hex> table. */
export interface ResourceTable {
  id: string;
  type: string;
  creator: string | null;
  user_id: string | null;
  project_id: string | null;
  original_resource_id: string;
  started_at: Int8;
  revision_start: Int8;
  ended_at: NullableInt8;
}

export interface MetricTable {
  id: string;
  archive_policy_name: string;
  creator: string | null;
  created_by_user_id: string | null;
  created_by_project_id: string | null;
  resource_id: string | null;
  name: string | null;
  unit: string | null;
  status: Generated<'active' | 'delete'>;
}

/** `attributes` is a JSON array of StoredAttribute (rt-store.ts). */
export interface ResourceTypeTable {
  name: string;
  tablename: string;
  attributes: string;
  next_column: Int4;
  state: string;
  updated_at: Int8;
}

export interface ResourceHistoryTable {
  revision: Generated<bigint | string | number>;
  id: string;
  type: string;
  creator: string | null;
  user_id: string | null;
  project_id: string | null;
  original_resource_id: string;
  started_at: Int8;
  revision_start: Int8;
  ended_at: NullableInt8;
  revision_end: Int8;
}

export interface Database {
  resource_type: ResourceTypeTable;
  resource_history: ResourceHistoryTable;
  schema_version: SchemaVersionTable;
  archive_policy: ArchivePolicyTable;
  archive_policy_item: ArchivePolicyItemTable;
  archive_policy_rule: ArchivePolicyRuleTable;
  resource: ResourceTable;
  metric: MetricTable;
}
