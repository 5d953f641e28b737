import type { Backlog, BacklogOptions } from './types.js';

/**
 * The backlog both drivers answer, from the measures waiting per metric in batches (one map
 * per sack, or any split) and those parked.
 */
export function backlogOf(waiting: Iterable<ReadonlyMap<string, number>>, parked: ReadonlyMap<string, number>,
                          quarantined: number, options: BacklogOptions): Backlog {
  const all = new Map<string, number>();
  let measures = 0;
  for (const counts of [...waiting, parked]) {
    for (const [id, n] of counts) {
      all.set(id, (all.get(id) ?? 0) + n);
      measures += n;
    }
  }
  let parkedMeasures = 0;
  for (const n of parked.values()) parkedMeasures += n;
  return {
    metrics: all.size, measures, perMetric: options.perMetric === true ? all : null, quarantined,
    parkedMeasures, parkedMetrics: parked.size,
  };
}
