export { forecastMonth, monthOf, type MonthForecast, type RatedPeriods, type TypeForecast } from './forecast.js';
export { costPerResource, resourceCostWithHistory, withResizes, type PriceChange, type ResourceCost, type ResourceCostPoint,
  type ResourceHistorySource, type ResourceRevision } from './resource-cost.js';
