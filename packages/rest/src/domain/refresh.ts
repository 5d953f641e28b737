// ?refresh=true folds a metric's pending measures before the read, as Gnocchi does. The
// fold runs off the API's thread, but one tenant's huge backlog can take longer to fold
// than the request deadline: the request then answers at its deadline (RefreshTooLong,
// a 503) instead of holding its client, and the fold goes on; its measures become
// readable as it completes, as they would without refresh.
import { DEFAULT_REQUEST_DEADLINE_MS, REQUEST_DEADLINE_SETTING } from './deadline.js';
import { RefreshTooLong } from './errors.js';
import type { Services } from './services.js';

export async function refreshMetrics(s: Pick<Services, 'processor' | 'requestDeadlineMs'>, ids: readonly string[]): Promise<void> {
  const work = (async () => {
    for (const id of ids) await s.processor.refreshMetric(id);
  })();
  const limitMs = s.requestDeadlineMs ?? DEFAULT_REQUEST_DEADLINE_MS;
  if (limitMs <= 0) return work;
  // Past the deadline the fold's outcome is the processing's to log, not this request's.
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RefreshTooLong(limitMs, REQUEST_DEADLINE_SETTING)), limitMs);
  });
  try {
    await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
