export type {
  MapType, HashmapService, HashmapField, HashmapGroup, HashmapMapping, HashmapThreshold, HashmapRules,
  RatingModuleState, UsagePoint, RatedPoint, ScopePeriod, ScopeState, RatingStore,
} from './model.js';
export { Dec, ZERO, ONE, dec, decimalString, isDecimalString, currency, sumMoney, DEFAULT_CURRENCY, InvalidDecimalError, InvalidCurrencyError, type Currency, type Money } from './money.js';
export { RATING_MODULES, UnknownRatingModuleError, moduleOrder, ratingPipeline, rateUsage, compileHashmap, hashmapPrice, rateHashmap, DEFAULT_GROUP, type RatingModuleId, type RatingPipeline, type CompiledHashmap, type RatingPoint } from './rules/index.js';
