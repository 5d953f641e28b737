// Processing and reading one metric, following Gnocchi's carbonara storage model:
// a bound buffer of raw measures (kept in `state`) lets open buckets be recomputed
// exactly; aggregates are stored in splits of SPLIT_POINTS points per
// (method, granularity). The caller does all I/O.
//
//   state.ts    the state's format (bound buffer + index of existing splits)
//   splits.ts   which series a policy stores, split boundaries and keys, split blobs
//   series.ts   columnar series operations shared by processing and reading
//   process.ts  processMeasures
//   read.ts     readMeasures
export { combine, concat, sortUnique, type Measures } from './series.js';
export { policyMethods, splitKey, splitStart, SPLIT_POINTS, type ReadSplit } from './splits.js';
export { decodeState, encodeState, type State } from './state.js';
export { processMeasures, type ProcessResult } from './process.js';
export { AggregationNotFoundError, readMeasures, type ReadQuery, type ReadResult } from './read.js';
export { baselineAggregate, type BaselineSeries } from './baseline.js';
export { AggregateImportError, importAggregates, type AggregateSeries } from './import.js';
