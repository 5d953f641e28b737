// Ordered list of migrations. Listed explicitly (not discovered on disk) so the compiled
// package works wherever it is installed; append new steps, never edit applied ones.
import type { Migration } from './migration.js';
import { migration0001 } from './0001_initial.js';
import { migration0002 } from './0002_resources.js';
import { migration0003 } from './0003_search_indexes.js';

export type { Migration } from './migration.js';
export const MIGRATIONS: readonly Migration[] = [migration0001, migration0002, migration0003];
export const LATEST_SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1].version;
