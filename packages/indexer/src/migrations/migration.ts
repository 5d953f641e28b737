import type { Kysely } from 'kysely';
import type { DialectName } from '../types.js';

/**
 * One schema step. `up` runs inside the upgrade transaction (DDL is transactional on both
 * SQLite and PostgreSQL), so a failed step leaves the schema untouched.
 */
export interface Migration {
  version: number;
  name: string;
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}
