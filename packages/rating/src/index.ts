export type {
  MapType, HashmapService, HashmapField, HashmapGroup, HashmapMapping, HashmapThreshold, HashmapRules,
  RatingModuleState, UsagePoint, RatedPoint, ScopePeriod, ScopeState, RatingStore,
} from './model.js';
export * from './pricing/index.js';
export * from './forecast/index.js';
export * from './budget/index.js';
