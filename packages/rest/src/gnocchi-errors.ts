// The one place where the Gnocchi API turns the errors of the layers below it (indexer,
// engine, validation, the API's domain logic) into status codes and Gnocchi's bodies.
// Routes throw or let through domain errors; the Gnocchi plugin's error handler calls this.
import * as ix from '@tally/indexer';
import { CalendarDeriveError, OperationsEvalError, UnaggregableError, PyFloat, pyFloatJson as pyFloat, Raw } from '@tally/timeseries';
import { HttpError, badRequest, invalidInput } from './errors.js';
import { Invalid } from './schema.js';
import { MeasuresError } from './measures.js';
import * as d from './domain/errors.js';

/** Status codes for the indexer's errors, as Gnocchi answers them. */
export function indexerErrorToHttp(err: unknown): HttpError | null {
  if (!(err instanceof ix.IndexerError)) return null;
  if (err instanceof ix.NoSuchArchivePolicy) return new HttpError(400, err.message);
  if (err instanceof ix.ArchivePolicyAlreadyExists) return new HttpError(409, err.message);
  if (err instanceof ix.ArchivePolicyRuleAlreadyExists) return new HttpError(409, err.message);
  if (err instanceof ix.NoSuchArchivePolicyRule || err instanceof ix.NoSuchMetric || err instanceof ix.NoSuchResource ||
      err instanceof ix.NoSuchResourceType) {
    return new HttpError(404, err.message);
  }
  if (err instanceof ix.NamedMetricAlreadyExists || err instanceof ix.ResourceAlreadyExists ||
      err instanceof ix.ResourceTypeAlreadyExists) return new HttpError(409, err.message);
  return new HttpError(400, err.message);
}

/** Gnocchi prints granularities as Python floats of seconds. */
const seconds = (g: bigint): number => Number(g) / 1e9;

const unaggregable = (reason: string, detail: unknown): HttpError =>
  new HttpError(400, { cause: "Metrics can't being aggregated", reason, detail });

function domainErrorToHttp(err: d.DomainError): HttpError {
  if (err instanceof d.ArchivePolicyMissing) return new HttpError(404, err.message);
  if (err instanceof d.AggregationMethodMissing) {
    return new HttpError(404, {
      cause: 'Aggregation method does not exist for this metric',
      detail: { metric: err.metricId, aggregation_method: err.aggregation },
    });
  }
  if (err instanceof d.GranularityMissing) {
    return new HttpError(404, `Aggregation method '${err.aggregation}' at granularity '${pyFloat(seconds(err.granularity))}' for metric ${err.metricId} does not exist`);
  }
  if (err instanceof d.AggregationUnavailable) {
    return new HttpError(400, {
      cause: 'Aggregation does not exist',
      detail: { metric: err.metricId, granularity: new PyFloat(seconds(err.granularity)), aggregation_method: err.aggregation },
    });
  }
  if (err instanceof d.UnknownAggregations) return new HttpError(404, { cause: 'Metrics with unknown aggregation', detail: err.refs });
  if (err instanceof d.InvalidMetricReferences) {
    return badRequest({ cause: 'Invalid metric references', reason: 'badly formed hexadecimal UUID string', detail: err.refs });
  }
  if (err instanceof d.UnknownMetrics) return new HttpError(404, { cause: 'Unknown metrics', reason: err.message, detail: err.ids });
  if (err instanceof d.MetricsNotFound) return badRequest({ cause: 'Metrics not found', detail: err.names });
  if (err instanceof d.NoGranularityMatch) return unaggregable('No granularity match', err.refs);
  if (err instanceof d.GranularitiesMissing) {
    // Granularities as Python floats (written 60.0), as Gnocchi lists them.
    return unaggregable('Granularities are missing', err.missing.map((m) => [m.name, m.aggregation, new Raw(pyFloat(seconds(m.granularity)))]));
  }
  if (err instanceof d.InvalidReaggregation) return badRequest({ cause: 'Invalid reaggregation', reason: err.message, detail: err.method });
  // 503, not 4xx: the request is valid and may succeed on a less busy server or with a
  // larger limit; the description says which limit applied.
  if (err instanceof d.DeadlineExceeded || err instanceof d.RefreshTooLong) return new HttpError(503, err.message);
  // 413: the request is valid but asks for more than one answer may carry; narrower
  // bounds succeed.
  if (err instanceof d.AnswerTooLarge) return new HttpError(413, err.message);
  if (err instanceof d.InvalidValueQuery) return err.path === undefined ? badRequest(err.message) : invalidInput(err.message, err.path);
  return badRequest(err.message);
}

/** Gnocchi's HttpError for any error it knows, else null (the caller answers 500 or 503). */
export function gnocchiErrorToHttp(err: unknown): HttpError | null {
  if (err instanceof HttpError) return err;
  if (err instanceof d.DomainError) return domainErrorToHttp(err);
  if (err instanceof Invalid) return err.toHttp();
  if (err instanceof MeasuresError) return err.toHttp();
  if (err instanceof UnaggregableError) return unaggregable(err.reason, err.detail);
  if (err instanceof OperationsEvalError) return badRequest({ cause: 'Operations is invalid', reason: err.message, detail: [] });
  if (err instanceof CalendarDeriveError) return badRequest(err.message);
  return indexerErrorToHttp(err);
}
