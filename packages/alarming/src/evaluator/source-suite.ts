// The Gnocchi metric source against a running API (an in-process Tally, or the reference
// Gnocchi 4.4.2): the three rule types' queries, and Aodh's reasons for what is missing or
// refused. Imported by tests only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { GnocchiClient } from '@tally/client';
import type { Alarm, AlarmState } from '../model.js';
import { evaluateAlarm } from './evaluate.js';
import { GnocchiMetricSource } from './gnocchi-source.js';
import type { MetricSource } from './source.js';

export interface SourceTarget {
  /** Where the suite writes its data (and reads it through GnocchiMetricSource over HTTP). */
  url: string;
  /** Other sources over the same data, held to the same answers as the HTTP one. */
  sources?: Record<string, MetricSource>;
  close(): Promise<void>;
}

export function sourceSuite(name: string, open: () => Promise<SourceTarget>): void {
  test(`${name}: the three Gnocchi rule types and Aodh's reasons for missing or refused data`, async () => {
    const target = await open();
    const client = new GnocchiClient({ url: target.url, auth: { type: 'basic', user: 'admin' }, retry: false });
    try {
      const policy = `evaluator-${randomUUID()}`;
      await client.archivePolicy.create({ name: policy, aggregation_methods: ['last', 'max'], definition: [{ granularity: 60, points: 60 }] });
      const resources = [randomUUID(), randomUUID(), randomUUID()];
      const metricIds: string[] = [];
      for (const id of resources) {
        const r = await client.resource.create('generic', { id, metrics: { cpu: { archive_policy_name: policy } } });
        metricIds.push((r as unknown as { metrics: Record<string, string> }).metrics.cpu);
      }
      const minute = Math.floor(Date.now() / 60_000) * 60_000;
      const values = [70, 40, 55];
      await client.batch.resourcesMetricsMeasures(Object.fromEntries(resources.map((id, i) => [id, { cpu: [{ timestamp: new Date(minute).toISOString(), value: values[i] }] }])));
      for (const id of resources) await client.resource.measures('generic', id, 'cpu', { refresh: true, aggregation: 'last' });

      const sources: [string, MetricSource][] = [['HTTP', new GnocchiMetricSource(client)], ...Object.entries(target.sources ?? {})];
      const now = Date.now();
      const alarm = (state: AlarmState, type: Alarm['type'], rule: Record<string, unknown>): Alarm => ({
        alarm_id: 'a', name: 'a', description: '', type, enabled: true, state, state_reason: '', severity: 'low',
        ok_actions: [], alarm_actions: [], insufficient_data_actions: [], repeat_actions: false, user_id: null, project_id: null,
        time_constraints: [], timestamp: '', state_timestamp: '',
        rule: { comparison_operator: 'gt', threshold: 50, aggregation_method: 'last', granularity: 60, evaluation_periods: 1, ...rule } as Alarm['rule'],
      });
      const res = { metric: 'cpu', resource_id: resources[0], resource_type: 'generic' };
      for (const [label, source] of sources) {
        const reason = async (a: Alarm): Promise<string | undefined> => {
          const d = await evaluateAlarm(a, source, { now });
          // Every source gives the same decision, reason_data included.
          if (label !== 'HTTP') assert.deepEqual(d, await evaluateAlarm(a, sources[0][1], { now }), label);
          return d?.reason;
        };

        assert.equal(await reason(alarm('ok', 'gnocchi_resources_threshold', res)),
          'Transition to alarm due to 1 samples outside threshold, most recent: 70.0');
        // Across three metrics: the form of the request Gnocchi 4.4.2 accepts for several metrics.
        assert.equal(await reason(alarm('ok', 'gnocchi_aggregation_by_metrics_threshold', { metrics: metricIds, aggregation_method: 'max' })),
          'Transition to alarm due to 1 samples outside threshold, most recent: 70.0');
        assert.equal(await reason(alarm('alarm', 'gnocchi_aggregation_by_metrics_threshold', { metrics: metricIds.slice(1), aggregation_method: 'max', threshold: 60 })),
          'Transition to ok due to 1 samples inside threshold, most recent: 55.0');
        assert.equal(await reason(alarm('ok', 'gnocchi_aggregation_by_resources_threshold', {
          metric: 'cpu', resource_type: 'generic', query: JSON.stringify({ in: { id: resources.slice(1) } }), aggregation_method: 'max',
        })), 'Transition to alarm due to 1 samples outside threshold, most recent: 55.0');

        assert.equal(await reason(alarm('ok', 'gnocchi_resources_threshold', { ...res, metric: 'nope' })),
          `metric nope for resource ${resources[0]} does not exists`);
        const ghost = randomUUID();
        assert.equal(await reason(alarm('ok', 'gnocchi_resources_threshold', { ...res, resource_id: ghost })), `resource ${ghost} does not exists`);
        assert.equal(await reason(alarm('ok', 'gnocchi_resources_threshold', { ...res, aggregation_method: 'min' })),
          `aggregation min does not exist for metric cpu of resource ${resources[0]}`);
        // Gnocchi answers an unknown metric id of an aggregate with a structured 404, which
        // gnocchiclient does not read as "metric not found".
        assert.equal(await reason(alarm('ok', 'gnocchi_aggregation_by_metrics_threshold', { metrics: [metricIds[0], ghost], aggregation_method: 'max' })),
          `aggregation max does not exist for at least one metrics in ['${metricIds[0]}', '${ghost}']`);
        // The aggregate operation has no "last": refused, and the description is in the reason.
        assert.match(await reason(alarm('ok', 'gnocchi_aggregation_by_resources_threshold', { metric: 'cpu', resource_type: 'generic', query: '{}' })) ?? '',
          /^alarm statistics retrieval failed: \{'cause': 'Invalid input', .*\(HTTP 400\)$/);
        // Gnocchi prints the detail as a Python set in the HTML answer @tally/client gets.
        assert.match(await reason(alarm('ok', 'gnocchi_aggregation_by_resources_threshold', {
          metric: 'disk', resource_type: 'generic', query: '{}', aggregation_method: 'max',
        })) ?? '', /^alarm statistics retrieval failed: \{'cause': 'Metrics not found', 'detail': (\['disk'\]|\{'disk'\})\} \(HTTP 400\)$/);
      }
    } finally {
      client.close();
      await target.close();
    }
  });
}
