import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { AlarmState, CompositeRule } from '../model.js';
import { evaluateComposite, type CompositeLeaf } from './composite.js';
import type { RuleEvaluation } from './threshold.js';

/** A leaf whose evaluation is given by its metric name: "alarm", "ok", "unknown", "trend-alarm", "trend-ok". */
const leaf = (metric: string): CompositeLeaf => ({
  type: 'gnocchi_resources_threshold', metric, resource_id: 'r', resource_type: 'generic',
  comparison_operator: 'gt', threshold: 1, aggregation_method: 'mean', granularity: 60, evaluation_periods: 1,
});

function harness(): { calls: string[]; evaluate: (l: CompositeLeaf) => Promise<RuleEvaluation> } {
  const calls: string[] = [];
  return {
    calls,
    evaluate: async (l) => {
      const m = (l as { metric: string }).metric;
      calls.push(m);
      const kind = m.split('#')[0];
      if (kind === 'alarm' || kind === 'ok') return { kind: 'decided', state: kind, statistics: [5], compared: 1, outside: kind === 'alarm' ? 1 : 0 };
      if (kind === 'trend-alarm') return { kind: 'trending', trending: 'alarm', statistics: [1, 5], compared: 2, outside: 1 };
      if (kind === 'trend-ok') return { kind: 'trending', trending: 'ok', statistics: [5, 1], compared: 2, outside: 1 };
      if (kind === 'throw') throw new Error('source down');
      return { kind: 'unknown', reason: 'No datapoint for granularity 60', statistics: [] };
    },
  };
}

async function run(state: AlarmState, rule: CompositeRule, repeat = false): Promise<{ decision: Awaited<ReturnType<typeof evaluateComposite>>; calls: string[] }> {
  const h = harness();
  const decision = await evaluateComposite({ state, repeat_actions: repeat }, rule, h.evaluate);
  return { decision, calls: h.calls };
}

test('and of two alarms: alarm, both causative, Aodh reason text', async () => {
  const { decision } = await run('ok', { and: [leaf('alarm#1'), leaf('alarm#2')] });
  assert.deepEqual(decision, {
    state: 'alarm', changed: true,
    reason: 'Composite rule alarm with composition form: (rule1 and rule2) transition to alarm, due to rules: rule1, rule2 outside their threshold.',
    reasonData: { type: 'composite', composition_form: '(rule1 and rule2)', causative_rules: { rule1: leaf('alarm#1'), rule2: leaf('alarm#2') } },
  });
});

test('or short-circuits: leaves after the first alarm are not fetched nor causative', async () => {
  const { decision, calls } = await run('ok', { or: [leaf('alarm#1'), leaf('alarm#2')] });
  assert.deepEqual(calls, ['alarm#1']);
  assert.equal(decision?.reason, 'Composite rule alarm with composition form: (rule1 or rule2) transition to alarm, due to rules: rule1 outside their threshold.');
  assert.deepEqual(Object.keys((decision?.reasonData as { causative_rules: object }).causative_rules), ['rule1']);
});

test('and with an ok leaf: the dual expression says ok', async () => {
  const { decision, calls } = await run('alarm', { and: [leaf('ok#1'), leaf('alarm#2')] });
  assert.deepEqual(calls, ['ok#1']);
  assert.equal(decision?.state, 'ok');
  assert.equal(decision?.reason, 'Composite rule alarm with composition form: (rule1 and rule2) transition to ok, due to rules: rule1 inside their threshold.');
});

test('nested rules are numbered depth first', async () => {
  const { decision } = await run('ok', { and: [leaf('alarm#1'), { or: [leaf('ok#2'), leaf('alarm#3')] }] });
  assert.equal(decision?.state, 'alarm');
  assert.equal((decision?.reasonData as { composition_form: string }).composition_form, '(rule1 and (rule2 or rule3))');
  assert.equal(decision?.reason, 'Composite rule alarm with composition form: (rule1 and (rule2 or rule3)) transition to alarm, due to rules: rule1, rule3 outside their threshold.');
});

test('unknown and alarm -> insufficient data, once', async () => {
  const { decision } = await run('ok', { and: [leaf('unknown#1'), leaf('alarm#2')] });
  assert.deepEqual(decision, {
    state: 'insufficient data', changed: true,
    reason: 'Composite rule alarm with composition form: (rule1 and rule2) transition to insufficient data, due to rules: rule1 state evaluated to unknown.',
    reasonData: { type: 'composite', composition_form: '(rule1 and rule2)', causative_rules: { rule1: leaf('unknown#1') } },
  });
  assert.equal((await run('insufficient data', { and: [leaf('unknown#1'), leaf('alarm#2')] }, true)).decision, null);
  // unknown or ok: the ok side needs every leaf ok.
  assert.equal((await run('alarm', { or: [leaf('unknown#1'), leaf('ok#2')] })).decision?.state, 'insufficient data');
});

test('trending leaves count on the second pass: their trend from insufficient data, the opposite otherwise', async () => {
  const rule: CompositeRule = { and: [leaf('trend-alarm#1'), leaf('alarm#2')] };
  const fromUnknown = await run('insufficient data', rule);
  assert.equal(fromUnknown.decision?.state, 'alarm');
  assert.equal(fromUnknown.decision?.reason, 'Composite rule alarm with composition form: (rule1 and rule2) transition to alarm, due to rules: rule1, rule2 outside their threshold.');
  // From ok, a leaf trending to alarm counts as ok: the alarm stays ok, announced only with repeat_actions.
  assert.equal((await run('ok', rule)).decision, null);
  assert.deepEqual((await run('ok', rule, true)).decision, {
    state: 'ok', changed: false,
    reason: 'Composite rule alarm with composition form: (rule1 and rule2) remaining as ok, due to rules: rule1 inside their threshold.',
    reasonData: { type: 'composite', composition_form: '(rule1 and rule2)', causative_rules: { rule1: leaf('trend-alarm#1') } },
  });
  // From alarm, a leaf trending to ok counts as alarm.
  const fromAlarm = await run('alarm', { or: [leaf('trend-ok#1'), leaf('ok#2')] }, true);
  assert.equal(fromAlarm.decision?.state, 'alarm');
  assert.equal(fromAlarm.decision?.changed, false);
});

test('a leaf whose source fails aborts the evaluation', async () => {
  await assert.rejects(run('ok', { and: [leaf('alarm#1'), leaf('throw#2')] }), /source down/);
});

// Aodh's own CompositeEvaluator as the reference, where Debian's aodh is installed: its
// threshold evaluators replaced by the same canned leaves, its _refresh recording.
const ORACLE = `
import json, sys
from unittest import mock
from aodh.evaluator import composite, threshold
out = []
for c in json.load(sys.stdin):
    ev = composite.CompositeEvaluator.__new__(composite.CompositeEvaluator)
    ev.rule_targets, ev.rule_num, ev.rule_name_prefix = [], 0, 'rule'
    class Leaf:
        def evaluate_rule(self, r):
            k = r['metric'].split('#')[0]
            if k in ('alarm', 'ok'): return k, None, [5.0], 1, None
            if k == 'trend-alarm': return None, 'alarm', [1.0, 5.0], 1, None
            if k == 'trend-ok': return None, 'ok', [5.0, 1.0], 1, None
            raise threshold.InsufficientDataError('none', [])
    ev._threshold_evaluators = {'gnocchi_resources_threshold': mock.Mock(obj=Leaf())}
    seen = []
    def refresh(alarm, state, reason, data):
        if state != alarm.state: seen.append([state, reason, True])
        elif alarm.repeat_actions: seen.append([state, reason, False])
    ev._refresh = refresh
    ev.within_time_constraint = lambda a: True
    ev.evaluate(mock.Mock(state=c['state'], repeat_actions=c['repeat'], rule=c['rule'], alarm_id='x'))
    out.append(seen[0] if seen else None)
print(json.dumps(out))
`;
const PYTHON = '/usr/bin/python3';
const hasAodh = spawnSync(PYTHON, ['-c', 'import aodh.evaluator.composite'], { stdio: 'ignore' }).status === 0;

test('agrees with Aodh 15 on every state, leaf combination and nesting tried', { skip: hasAodh ? false : 'Debian aodh not installed' }, async () => {
  const kinds = ['alarm', 'ok', 'unknown', 'trend-alarm', 'trend-ok'];
  const shapes = (a: CompositeLeaf, b: CompositeLeaf, c: CompositeLeaf): CompositeRule[] => [
    { and: [a, b] }, { or: [a, b] }, { and: [a, { or: [b, c] }] }, { or: [{ and: [a, b] }, c] },
  ];
  const cases: { state: AlarmState; repeat: boolean; rule: CompositeRule }[] = [];
  for (const state of ['ok', 'alarm', 'insufficient data'] as AlarmState[]) {
    for (const x of kinds) for (const y of kinds) for (const z of ['alarm', 'ok', 'unknown']) {
      for (const rule of shapes(leaf(`${x}#1`), leaf(`${y}#2`), leaf(`${z}#3`))) cases.push({ state, repeat: (x + y).length % 2 === 0, rule });
    }
  }
  const py = spawnSync(PYTHON, ['-c', ORACLE], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(py.status, 0, py.stderr);
  const expected = JSON.parse(py.stdout) as ([AlarmState, string, boolean] | null)[];
  const differ: string[] = [];
  for (const [i, c] of cases.entries()) {
    const h = harness();
    const d = await evaluateComposite({ state: c.state, repeat_actions: c.repeat }, c.rule, h.evaluate);
    const got = d === null ? null : [d.state, d.reason, d.changed];
    if (JSON.stringify(got) !== JSON.stringify(expected[i])) differ.push(`${JSON.stringify(c)}: ${JSON.stringify(got)} != ${JSON.stringify(expected[i])}`);
  }
  assert.deepEqual(differ, [], `${differ.length} of ${cases.length} differ`);
});
