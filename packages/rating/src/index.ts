export type {
  MapType, HashmapService, HashmapField, HashmapGroup, HashmapMapping, HashmapThreshold, HashmapRules,
  RatingModuleState, UsagePoint, RatedPoint, ScopePeriod, ScopeState, RatingStore,
} from './model.js';
export { openRatingDatabase, migrateRating, RATING_SCHEMA_VERSION_TABLE, type RatingDatabase } from './db.js';
export * from './store/index.js';
export * from './api/index.js';
export * from './pricing/index.js';
export * from './forecast/index.js';
export * from './budget/index.js';
