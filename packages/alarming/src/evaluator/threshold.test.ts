import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AlarmState, ComparisonOperator, ThresholdRuleBase } from '../model.js';
import { evaluateThreshold, evaluationWindow, thresholdTransition, type Point } from './threshold.js';

const rule = (over: Partial<ThresholdRuleBase> = {}): ThresholdRuleBase => ({
  comparison_operator: 'gt', threshold: 80, aggregation_method: 'mean', granularity: 60, evaluation_periods: 3, ...over,
});
const pts = (...values: number[]): Point[] => values.map((v, i) => [`2024-01-01T00:0${i}:00+00:00`, 60.0, v]);
const alarm = (state: AlarmState, repeat = false): { state: AlarmState; repeat_actions: boolean } => ({ state, repeat_actions: repeat });

function decide(state: AlarmState, r: ThresholdRuleBase, points: Point[], repeat = false): ReturnType<typeof thresholdTransition> {
  return thresholdTransition(alarm(state, repeat), r, evaluateThreshold(r, points));
}

test('the window is granularity x (evaluation_periods + 1) back from now', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  assert.deepEqual(evaluationWindow(rule(), now), { start: '2024-05-01T11:56:00.000Z', stop: '2024-05-01T12:00:00.000Z' });
  assert.deepEqual(evaluationWindow(rule(), now, 30).start, '2024-05-01T11:55:30.000Z');
});

test('all breaching -> alarm, none -> ok, with Aodh reason texts and reason_data', () => {
  assert.deepEqual(decide('ok', rule(), pts(81, 90, 99.5)), {
    state: 'alarm', changed: true,
    reason: 'Transition to alarm due to 3 samples outside threshold, most recent: 99.5',
    reasonData: { type: 'threshold', disposition: 'outside', count: 3, most_recent: 99.5 },
  });
  assert.deepEqual(decide('alarm', rule(), pts(1, 2, 3)), {
    state: 'ok', changed: true,
    reason: 'Transition to ok due to 3 samples inside threshold, most recent: 3.0',
    reasonData: { type: 'threshold', disposition: 'inside', count: 3, most_recent: 3 },
  });
  // Only the last evaluation_periods points count; other granularities are ignored.
  const mixed: Point[] = [...pts(1, 2), ['2024-01-01T00:05:00+00:00', 300.0, 1000], ...pts(90, 91, 92)];
  assert.equal(decide('ok', rule(), mixed)?.state, 'alarm');
  // Python's float formatting of the most recent value.
  assert.match(decide('ok', rule({ threshold: 0 }), pts(1, 1, 1e16))?.reason ?? '', /most recent: 1e\+16$/);
  assert.match(decide('ok', rule({ comparison_operator: 'lt', threshold: 1 }), pts(1e-5, 1e-5, 1e-5))?.reason ?? '', /most recent: 1e-05$/);
});

test('each comparison operator', () => {
  const cases: [ComparisonOperator, number, boolean][] = [
    ['gt', 80, false], ['gt', 79, true], ['ge', 80, true], ['ge', 81, false], ['lt', 80, false], ['lt', 81, true],
    ['le', 80, true], ['le', 79, false], ['eq', 80, true], ['eq', 79, false], ['ne', 79, true], ['ne', 80, false],
  ];
  for (const [op, threshold, breach] of cases) {
    const d = decide('insufficient data', rule({ comparison_operator: op, threshold }), pts(80, 80, 80));
    assert.equal(d?.state, breach ? 'alarm' : 'ok', `${op} ${threshold}`);
  }
});

test('an unchanged state is announced again only with repeat_actions, as "Remaining as"', () => {
  assert.equal(decide('alarm', rule(), pts(90, 90, 90)), null);
  assert.deepEqual(decide('alarm', rule(), pts(90, 90, 95), true), {
    state: 'alarm', changed: false,
    reason: 'Remaining as alarm due to 3 samples outside threshold, most recent: 95.0',
    reasonData: { type: 'threshold', disposition: 'outside', count: 3, most_recent: 95 },
  });
});

test('a mix keeps ok or alarm; from insufficient data the most recent point decides', () => {
  assert.equal(decide('ok', rule(), pts(90, 10, 90)), null);
  assert.equal(decide('alarm', rule(), pts(90, 90, 10)), null);
  assert.deepEqual(decide('insufficient data', rule(), pts(10, 90, 90)), {
    state: 'alarm', changed: true,
    reason: 'Transition to alarm due to 2 samples outside threshold, most recent: 90.0',
    reasonData: { type: 'threshold', disposition: 'outside', count: 2, most_recent: 90 },
  });
  assert.deepEqual(decide('insufficient data', rule(), pts(90, 90, 10)), {
    state: 'ok', changed: true,
    reason: 'Transition to ok due to 1 samples inside threshold, most recent: 10.0',
    reasonData: { type: 'threshold', disposition: 'inside', count: 1, most_recent: 10 },
  });
  // With repeat_actions a mix re-announces the current state, counting by that state.
  assert.deepEqual(decide('ok', rule(), pts(90, 90, 10), true)?.reason, 'Remaining as ok due to 1 samples inside threshold, most recent: 10.0');
});

test('too few points -> insufficient data, announced once', () => {
  assert.deepEqual(decide('ok', rule(), pts(90, 90)), {
    state: 'insufficient data', changed: true, reason: '3 datapoints are unknown',
    reasonData: { type: 'threshold', disposition: 'unknown', count: 3, most_recent: 90 },
  });
  assert.deepEqual(decide('alarm', rule(), []), {
    state: 'insufficient data', changed: true, reason: 'No datapoint for granularity 60',
    reasonData: { type: 'threshold', disposition: 'unknown', count: 3, most_recent: null },
  });
  assert.equal(decide('insufficient data', rule(), pts(90), true), null, 'not repeated, even with repeat_actions');
});

test('M of N: at least breaching_points of the last evaluation_periods points alarm, fewer is ok', () => {
  const r = rule({ evaluation_periods: 5, breaching_points: 3 });
  assert.deepEqual(decide('ok', r, pts(90, 1, 90, 1, 90)), {
    state: 'alarm', changed: true,
    reason: 'Transition to alarm due to 3 samples outside threshold, most recent: 90.0',
    reasonData: { type: 'threshold', disposition: 'outside', count: 3, most_recent: 90 },
  });
  assert.deepEqual(decide('alarm', r, pts(90, 1, 1, 1, 90)), {
    state: 'ok', changed: true,
    reason: 'Transition to ok due to 3 samples inside threshold, most recent: 90.0',
    reasonData: { type: 'threshold', disposition: 'inside', count: 3, most_recent: 90 },
  });
  // Without breaching_points the same points are a mix: the state stays.
  assert.equal(decide('ok', rule({ evaluation_periods: 5 }), pts(90, 1, 90, 1, 90)), null);
  assert.equal(decide('ok', r, pts(90, 90, 90, 90))?.state, 'insufficient data', 'still needs N points');
});

test('missing_data: periods without a point count as ok or breaching instead of insufficient data', () => {
  const ok = rule({ missing_data: 'ok' });
  const breaching = rule({ missing_data: 'breaching' });
  assert.equal(decide('ok', rule({ missing_data: 'insufficient' }), pts(90))?.reason, '3 datapoints are unknown');
  // Two missing periods counted ok, one point outside: a mix, trending to the real point.
  assert.deepEqual(decide('insufficient data', ok, pts(90)), {
    state: 'alarm', changed: true,
    reason: 'Transition to alarm due to 1 samples outside threshold, most recent: 90.0',
    reasonData: { type: 'threshold', disposition: 'outside', count: 1, most_recent: 90 },
  });
  assert.equal(decide('alarm', ok, pts(90)), null, 'a mix keeps alarm');
  assert.deepEqual(decide('alarm', ok, []), {
    state: 'ok', changed: true,
    reason: 'Transition to ok due to 3 samples inside threshold, most recent: None',
    reasonData: { type: 'threshold', disposition: 'inside', count: 3, most_recent: null },
  });
  assert.equal(decide('ok', breaching, [])?.state, 'alarm');
  assert.equal(decide('ok', breaching, pts(95, 99))?.reason, 'Transition to alarm due to 3 samples outside threshold, most recent: 99.0');
  // Combined with M of N: 2 missing (breaching) + 1 inside -> 2 of 3.
  assert.equal(decide('ok', rule({ missing_data: 'breaching', breaching_points: 2 }), pts(1))?.state, 'alarm');
});
