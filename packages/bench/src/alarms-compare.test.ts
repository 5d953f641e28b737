import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, passed, renderComparison, type CaseOutcome, type ExpectedDifference } from './alarms-compare.js';

const alarm = { state: 'alarm', state_reason: 'Transition to alarm due to 3 samples outside threshold, most recent: 90.0' };
const base: CaseOutcome = { name: 'rt-gt', what: 'w', tally: alarm, aodh: alarm, want: 'alarm' };

const refused: ExpectedDifference = {
  why: 'two metrics refused by Gnocchi 4.4.2',
  tally: (o) => o.state === 'alarm',
  aodh: (o) => o.state === 'insufficient data' && o.state_reason.startsWith('alarm statistics retrieval failed:'),
};

test('equal state and reason in the state the case was built for pass', () => {
  assert.equal(judge(base), 'same');
  assert.ok(passed(judge(base)));
});

test('a different reason, state or a missing alarm fails', () => {
  assert.equal(judge({ ...base, tally: { ...alarm, state_reason: `${alarm.state_reason.slice(0, -4)}90` } }), 'DIFFERENT');
  assert.equal(judge({ ...base, aodh: { ...alarm, state: 'ok' } }), 'DIFFERENT');
  assert.equal(judge({ ...base, aodh: null }), 'MISSING');
  for (const c of [{ ...base, aodh: null }, { ...base, aodh: { ...alarm, state: 'ok' } }]) assert.ok(!passed(judge(c)));
});

test('both sides agreeing on a state the data should not lead to fails', () => {
  const stale = { state: 'insufficient data', state_reason: 'Not evaluated yet' };
  assert.equal(judge({ ...base, tally: stale, aodh: stale }), 'UNEXPECTED STATE');
  assert.equal(judge({ ...base, tally: stale, aodh: stale, want: null }), 'same');
});

test('a documented difference passes only in its documented form', () => {
  const aodh = { state: 'insufficient data', state_reason: "alarm statistics retrieval failed: {'cause': 'Invalid input'} (HTTP 400)" };
  const c: CaseOutcome = { ...base, name: 'bm-two', aodh, expected: refused };
  assert.equal(judge(c), 'expected difference');
  // Aodh failing for another reason, or Tally not evaluating the rule, is a real difference.
  assert.equal(judge({ ...c, aodh: { ...aodh, state_reason: 'No datapoint for granularity 300' } }), 'DIFFERENT');
  assert.equal(judge({ ...c, tally: aodh }), 'DIFFERENT');
  // And so is the two agreeing: the difference is documented because Tally evaluates it.
  assert.equal(judge({ ...c, aodh: alarm, tally: aodh }), 'DIFFERENT');
});

test('the table shows both reasons when they differ, one otherwise, and the counts', () => {
  const text = renderComparison([
    base,
    { ...base, name: 'rt-other', aodh: { ...alarm, state_reason: 'something else' } },
  ]);
  assert.equal(text.split('\n').filter((l) => l.includes(alarm.state_reason)).length, 2);
  assert.match(text, /aodh: {3}something else/);
  assert.match(text, /rt-other +alarm +alarm +DIFFERENT/);
  assert.match(text, /2 cases: 1 pass, 1 fail/);
});
