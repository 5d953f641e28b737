// The lower layers the API's domain logic works on.
import type { Indexer } from '@tally/indexer';
import type { IncomingStore } from '@tally/incoming';
import type { AggregateStorage } from '@tally/storage';
import type { MetricRefresher } from '@tally/metricd';

export interface Services {
  indexer: Indexer;
  incoming: IncomingStore;
  storage: AggregateStorage;
  /** Folds a metric's pending measures (GET ?refresh=true): off the API's thread in production. */
  processor: MetricRefresher;
  /** Longest computation of one request, in ms (0: none; undefined: the default). */
  requestDeadlineMs?: number;
  /** Most points one request may read and answer (0: none; undefined: the default). */
  maxAnswerPoints?: number;
}
