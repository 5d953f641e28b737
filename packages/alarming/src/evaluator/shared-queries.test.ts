import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceUnavailableError, sharedQueries, type MetricSource, type WindowQuery } from './source.js';
import type { Point } from './threshold.js';

test('sharedQueries: each distinct query is asked once; a failed one is asked again', async () => {
  const asked: string[] = [];
  let failNext = false;
  const points: Point[] = [['2026-12-01T00:00:00+00:00', 60, 1]];
  const source: MetricSource = {
    resourceMeasures: async (q) => {
      asked.push(`r:${q.resourceId}:${q.metric}:${q.aggregation}:${q.start}`);
      if (failNext) {
        failNext = false;
        throw new SourceUnavailableError('down');
      }
      return points;
    },
    metricsAggregate: async (q) => {
      asked.push(`m:${q.metrics.join(',')}`);
      return points;
    },
    resourcesAggregate: async (q) => {
      asked.push(`s:${JSON.stringify(q.search)}`);
      return points;
    },
  };
  const shared = sharedQueries(source);
  const w: WindowQuery = { aggregation: 'mean', granularity: 60, start: '2026-12-01T00:00:00', stop: '2026-12-01T00:10:00' };
  const answers = await Promise.all([
    shared.resourceMeasures({ ...w, resourceId: 'r1', metric: 'cpu' }),
    shared.resourceMeasures({ ...w, resourceId: 'r1', metric: 'cpu' }),
    shared.resourceMeasures({ ...w, resourceId: 'r1', metric: 'cpu', aggregation: 'max' }),
    shared.resourceMeasures({ ...w, resourceId: 'r2', metric: 'cpu' }),
    shared.metricsAggregate({ ...w, metrics: ['a', 'b'] }),
    shared.metricsAggregate({ ...w, metrics: ['a', 'b'] }),
    shared.resourcesAggregate({ ...w, resourceType: 'generic', metric: 'cpu', search: { '=': { project_id: 'p' } } }),
    shared.resourcesAggregate({ ...w, resourceType: 'generic', metric: 'cpu', search: { '=': { project_id: 'q' } } }),
  ]);
  assert.ok(answers.every((a) => a === points));
  assert.deepEqual(asked.sort(), [
    'm:a,b', 'r:r1:cpu:max:2026-12-01T00:00:00', 'r:r1:cpu:mean:2026-12-01T00:00:00', 'r:r2:cpu:mean:2026-12-01T00:00:00',
    's:{"=":{"project_id":"p"}}', 's:{"=":{"project_id":"q"}}',
  ]);
  // A failure is not kept: the next ask of the same query reaches the source again.
  failNext = true;
  const q = { ...w, resourceId: 'r3', metric: 'cpu' };
  await assert.rejects(shared.resourceMeasures(q), SourceUnavailableError);
  await new Promise((r) => setImmediate(r));
  assert.equal(await shared.resourceMeasures(q), points);
  assert.equal(asked.filter((a) => a.startsWith('r:r3')).length, 2);
});
