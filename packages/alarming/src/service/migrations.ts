import type { Migration } from '../db.js';
import { ALARM_STORE_MIGRATIONS } from '../store/index.js';
import { NOTIFIER_MIGRATIONS } from '../notifier/index.js';

/** Every schema step of the alarming service, all roles together: `tally upgrade` applies them. */
export const ALARMING_MIGRATIONS: readonly Migration[] = [...ALARM_STORE_MIGRATIONS, ...NOTIFIER_MIGRATIONS];
