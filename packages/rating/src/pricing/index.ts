export { PRICING_FORMAT, PriceBook, PricingError, instantMs, keyOf, parsePricing, validatePricing,
  type PriceEntry, type PriceKey, type PriceSource, type PricingFile, type SourcedEntry } from './pricing.js';
export { BUNDLED_PRICING_PATH, DEFAULT_MAX_PRICING_BYTES, PricingInstallError, downloadPricing, installPricing, installedPricingPath,
  loadPriceBook, overridePricingPath, type DownloadOptions, type InstallReport, type InstallStep, type PricingPaths } from './files.js';
export { parsePricingKey, resolveMappingCost, resolveRules } from './mapping.js';
