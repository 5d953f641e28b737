export { SqlRatingStore, RATING_MODULES, fixed, type MappingInput, type ThresholdInput, type RuleChange, type RuleFilter,
  type RatedQuery, type SummaryRow, type StoredRated, type ScopeFilter, type ScopeDefaults } from './rating-store.js';
export { RATING_STORE_MIGRATIONS, RATING_STORE_MODULE } from './schema.js';
export { RatingClientError, RatingNotFoundError, RatingConflictError } from './errors.js';
