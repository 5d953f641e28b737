export type {
  MapType, HashmapService, HashmapField, HashmapGroup, HashmapMapping, HashmapThreshold, HashmapRules,
  RatingModuleState, UsagePoint, RatedPoint, RatedPeriod, ScopePeriod, ScopeState, RatingStore,
} from './model.js';
export { openRatingDatabase, migrateRating, RATING_SCHEMA_VERSION_TABLE, type RatingDatabase } from './db.js';
export * from './store/index.js';
export * from './api/index.js';
export * from './pricing/index.js';
export * from './forecast/index.js';
export * from './budget/index.js';
export { Dec, ZERO, ONE, dec, decimalString, exactDecimalOfDouble, isDecimalString, currency, sumMoney, DEFAULT_CURRENCY, InvalidDecimalError, InvalidCurrencyError, type Currency, type Money } from './money.js';
export { RATING_MODULES, UnknownRatingModuleError, moduleOrder, ratingPipeline, rateUsage, compileHashmap, hashmapPrice, rateHashmap, DEFAULT_GROUP, type RatingModuleId, type RatingPipeline, type CompiledHashmap, type RatingPoint } from './rules/index.js';
export { metricsConfig, parseMetricsYaml, MetricsConfigError, AGGREGATION_METHODS, MUTATE_MODES, type MetricConfig, type MetricExtraArgs, type MutateMode } from './collector/metrics-config.js';
export { DEFAULT_METRICS_YAML } from './collector/default-metrics.js';
export { GnocchiUsageSource, GnocchiApiReader, ReaderUsageSource, UsageReadError, convertQty, inProcessGnocchiClient, httpGnocchiClient, isoOfNs, type UsageSource, type UsageReader, type ReadGroup, type GnocchiUsageOptions } from './collector/gnocchi.js';
export { StoreUsageReader, StoreUsageSource, type MetricStoreParts } from './collector/in-process.js';
export { RatingProcessor, PartialRatingError, InvalidPeriodError, PricingUnavailableError, ringOwnership, DEFAULT_PERIOD_S, DEFAULT_BATCH_PERIODS, type ProcessorOptions, type RunReport, type RingOwnership } from './processor/index.js';
export { RATING_MIGRATIONS } from './migrations.js';
