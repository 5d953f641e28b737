// Gnocchi's aggregates operations language: parsing, validation and evaluation over
// columnar series (pure computation, no I/O).
export { parseOperationsString, OperationsParseError, type SExpr } from './parse.js';
export {
  parseOperations, extractReferences, OperationsInvalid, pyRepr, pyStr,
  BINARY_OPERATORS, UNARY_OPERATORS, AGGREGATE_METHODS, type OpNode, type RefKey,
} from './schema.js';
export { UnaggregableError, OperationsEvalError } from './evaluate.js';
export {
  computeAggregates, alignSeries, type Fill, type SeriesInput, type AggregatesQuery,
  type AggregatesResult, type ResultGroup,
} from './compute.js';
export { resampleSeries } from './resample.js';
