export { AlarmStore, ALARM_FLOAT_FIELDS, type StoredAlarm, type AlarmInput, type AlarmChange, type ChangeType, type Actor, type Page,
  type AlarmFilters, type HistoryFilters, type StateChange, type Transition, type Quota } from './alarm-store.js';
export { ALARM_STORE_MIGRATIONS, ALARM_STORE_MODULE, type AlarmTables } from './schema.js';
export { type FilterExpr, type OrderBy, type ComparisonOp, type FilterValue } from './filter.js';
export { InvalidMarkerError, UnknownFieldError } from './errors.js';
export { nowStored, storedFromIso, isoFromStored, storedTimestamp, microsFromStored } from './clock.js';
