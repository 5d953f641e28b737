// Every step of the rating service's tables, in the index database (rating_schema_version).
import type { Migration } from './db.js';
import { BUDGET_MIGRATIONS } from './budget/index.js';
import { RATING_STORE_MIGRATIONS } from './store/schema.js';

export const RATING_MIGRATIONS: readonly Migration[] = [...RATING_STORE_MIGRATIONS, ...BUDGET_MIGRATIONS];
