// What the API's domain logic refuses, with the facts a client needs. No HTTP status
// here: the edge (gnocchi-errors.ts) chooses the status and Gnocchi's wording of the body.
import type { Nanos } from '@tally/timeseries';

export class DomainError extends Error {}

/** A metric names an archive policy the index no longer has. */
export class ArchivePolicyMissing extends DomainError {
  constructor(readonly policy: string) {
    super(`Archive policy ${policy} does not exist`);
  }
}

/** A metric's archive policy lacks the aggregation method asked for. */
export class AggregationMethodMissing extends DomainError {
  constructor(readonly metricId: string, readonly aggregation: string) {
    super(`Aggregation method ${aggregation} does not exist for metric ${metricId}`);
  }
}

/** A metric's archive policy has no such granularity (for that aggregation method). */
export class GranularityMissing extends DomainError {
  constructor(readonly metricId: string, readonly aggregation: string, readonly granularity: Nanos) {
    super(`Granularity ${granularity} of ${aggregation} does not exist for metric ${metricId}`);
  }
}

/** A value search asks for an aggregation or granularity one of its metrics does not keep. */
export class AggregationUnavailable extends DomainError {
  constructor(readonly metricId: string, readonly granularity: Nanos, readonly aggregation: string) {
    super(`Aggregation ${aggregation} at ${granularity} does not exist for metric ${metricId}`);
  }
}

/** Operations refer to metrics whose policies lack the aggregation methods named. */
export class UnknownAggregations extends DomainError {
  constructor(readonly refs: [metricId: string, aggregation: string][]) {
    super('Metrics with unknown aggregation');
  }
}

/** Operations refer to metrics by ids that are not UUIDs. */
export class InvalidMetricReferences extends DomainError {
  constructor(readonly refs: [string, string][]) {
    super('Invalid metric references');
  }
}

/** Operations refer to metric ids the index does not know. */
export class UnknownMetrics extends DomainError {
  constructor(readonly ids: string[]) {
    super("Provided metrics don't exists");
  }
}

/** No metric of the resources found matches these names (wildcards). */
export class MetricsNotFound extends DomainError {
  constructor(readonly names: string[]) {
    super('Metrics not found');
  }
}

/** The metrics share no granularity to aggregate at. */
export class NoGranularityMatch extends DomainError {
  constructor(readonly refs: [name: string, aggregation: string][]) {
    super('No granularity match');
  }
}

/** Some metrics lack granularities the others (or the request) have. */
export class GranularitiesMissing extends DomainError {
  constructor(readonly missing: { name: string; aggregation: string; granularity: Nanos }[]) {
    super('Granularities are missing');
  }
}

/** The re-aggregation method is not one the "aggregate" operation knows. */
export class InvalidReaggregation extends DomainError {
  constructor(readonly method: string) {
    super(`'${method}' is not an aggregation method of aggregate`);
  }
}

/** A new metric names no archive policy and no rule matches its name. */
export class NoArchivePolicyForMetric extends DomainError {
  constructor(readonly metricName: string | null) {
    super(`No archive policy name specified and no archive policy rule found matching the metric name ${metricName ?? 'None'}`);
  }
}

/** A resource search filter the index refuses (unknown attribute, bad value). */
export class InvalidSearch extends DomainError {}

/**
 * A value query (search of metrics by value) that does not compile. `path` is set for
 * structural errors (reported as invalid input), absent for plain messages.
 */
export class InvalidValueQuery extends DomainError {
  constructor(message: string, readonly path?: string[]) {
    super(message);
  }
}

/**
 * A request's computation ran past the configured deadline (`limitMs`, the setting
 * `setting`): it was stopped so that one request cannot hold the server.
 */
export class DeadlineExceeded extends DomainError {
  constructor(readonly limitMs: number, readonly setting: string) {
    super(`The request was too expensive: its computation took longer than ${limitMs} ms (the limit set by ${setting}); ask for fewer metrics, fewer points (start, stop, granularity) or simpler operations`);
  }
}

/**
 * ?refresh=true could not fold the pending measures within the deadline (`limitMs`, the
 * setting `setting`): the fold goes on, the request does not wait for it.
 */
export class RefreshTooLong extends DomainError {
  constructor(readonly limitMs: number, readonly setting: string) {
    super(`The pending measures are still being processed after ${limitMs} ms (the limit set by ${setting}); they become readable as processing completes: read again later, or without refresh`);
  }
}

/** A request that would read or answer more points than the server allows. */
export class AnswerTooLarge extends DomainError {
  constructor(readonly points: number, readonly limit: number, readonly setting: string) {
    super(`The answer would carry more than ${limit} points (the limit set by ${setting}; this request reached ${points}); ask for a narrower start and stop, a coarser granularity or fewer metrics`);
  }
}
