// What the client commands read from their arguments and files, and their progress output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chunkMetricsBatch, chunkResourcesBatch, localTimestamp, parseMeasure, parseMeasuresFile } from './measures.js';
import { parseDefinition } from './archive-policy.js';
import { parseAttribute } from './resource-type.js';
import { alarmView, queryArray, richQuery } from './alarm.js';
import { Progress } from '../progress.js';
import { UsageError } from './output.js';
import type { AodhAlarm } from '@tally/client';

test("measures: gnocchi's TIMESTAMP@VALUE, files of lines or JSON", () => {
  assert.deepEqual(parseMeasure('2024-01-01T00:00:00@42.5'), { timestamp: '2024-01-01T00:00:00', value: 42.5 });
  assert.deepEqual(parseMeasure('-1 hour@3'), { timestamp: '-1 hour', value: 3 });
  assert.throws(() => parseMeasure('2024-01-01'), UsageError);
  assert.throws(() => parseMeasure('now@abc'), UsageError);
  assert.deepEqual(parseMeasuresFile('# comment\n2024-01-01T00:00:00@1\n\n2024-01-01T00:01:00,2\r\n', 'f'), [
    { timestamp: '2024-01-01T00:00:00', value: 1 }, { timestamp: '2024-01-01T00:01:00', value: 2 },
  ]);
  assert.deepEqual(parseMeasuresFile('[{"timestamp": "2024-01-01", "value": 1}, [1700000000, 2]]', 'f'), [
    { timestamp: '2024-01-01', value: 1 }, { timestamp: 1700000000, value: 2 },
  ]);
  assert.throws(() => parseMeasuresFile('2024@1\nbad line', 'f.txt'), /f.txt line 2/);
});

test('batches are cut so that no request carries more than the batch size, keeping every measure in order', () => {
  const ms = (n: number, base: number) => Array.from({ length: n }, (_v, i) => ({ timestamp: base + i, value: i }));
  const batch = { a: ms(7, 0), b: ms(0, 0), c: ms(5, 100) };
  const chunks = chunkMetricsBatch(batch, 4);
  assert.ok(chunks.every((c) => Object.values(c).reduce((s, m) => s + m.length, 0) <= 4));
  assert.equal(chunks.length, 3);
  const joined: Record<string, unknown[]> = {};
  for (const c of chunks) for (const [k, v] of Object.entries(c)) joined[k] = [...(joined[k] ?? []), ...v];
  assert.deepEqual(joined, batch);

  const rb = chunkResourcesBatch({ r1: { cpu: { archive_policy_name: 'low', measures: ms(5, 0) }, disk: ms(2, 0) } }, 3);
  assert.equal(rb.length, 3);
  for (const c of rb) {
    const cpu = c.r1.cpu;
    if (cpu !== undefined) assert.equal((cpu as { archive_policy_name: string }).archive_policy_name, 'low');
  }
  assert.deepEqual(rb.flatMap((c) => (c.r1.disk === undefined ? [] : (c.r1.disk as unknown[]))), ms(2, 0));
});

test('timestamps in the local zone as CPython writes them (isoformat with the offset)', () => {
  for (const [ts, offset] of [['2024-01-01T00:00:00+00:00', 60], ['2024-06-30T23:30:00.250000+00:00', -330], ['2024-03-01T12:00:00+00:00', 0]] as const) {
    const py = execFileSync('python3', ['-c',
      'import sys,datetime as d; t=d.datetime.fromisoformat(sys.argv[1]); print(t.astimezone(d.timezone(d.timedelta(minutes=int(sys.argv[2])))).isoformat())',
      ts, String(offset)], { encoding: 'utf8' }).trim();
    assert.equal(localTimestamp(ts, false, -offset), py, `${ts} at ${offset}`);
  }
  assert.equal(localTimestamp('2024-01-01T00:00:00+00:00', true, -60), '2024-01-01T00:00:00+00:00');
});

test('archive policy definitions and resource type attributes as gnocchi reads them', () => {
  assert.deepEqual(parseDefinition('granularity:1h,points:24'), { granularity: '1h', points: 24 });
  assert.deepEqual(parseDefinition('timespan:1 day,granularity:0:05:00'), { timespan: '1 day', granularity: '0:05:00' });
  assert.throws(() => parseDefinition('granularity:1h'), /needs two/);
  assert.throws(() => parseDefinition('granularity:1h,foo:2'), /not one of/);
  assert.deepEqual(parseAttribute('display_name:string:true:max_length=255'), ['display_name', { type: 'string', required: true, max_length: 255 }]);
  assert.deepEqual(parseAttribute('size:number:false:min=0.5:fill=3'), ['size', { type: 'number', required: false, min: 0.5, options: { fill: 3 } }]);
  assert.throws(() => parseAttribute('x:string:maybe'), /required must be true or false/);
});

test("aodh's rich query as a complex query filter; its event query as a list", () => {
  assert.deepEqual(richQuery('state=alarm'), { '=': { state: 'alarm' } });
  assert.deepEqual(richQuery('project_id!=p and (name="my alarm" or severity=low) and not enabled=false'), {
    and: [{ '!=': { project_id: 'p' } }, { or: [{ '=': { name: 'my alarm' } }, { '=': { severity: 'low' } }] }, { not: { '=': { enabled: false } } }],
  });
  assert.deepEqual(richQuery('threshold>=5.5'), { '>=': { threshold: 5.5 } });
  assert.deepEqual(richQuery('{"=": {"name": "x"}}'), { '=': { name: 'x' } });
  assert.throws(() => richQuery('state alarm'), UsageError);
  assert.throws(() => richQuery('(state=alarm'), /missing \)/);
  assert.deepEqual(queryArray('traits.cpu<=34;name=string::foo'), [
    { field: 'traits.cpu', op: 'le', value: '34', type: '' }, { field: 'name', op: 'eq', value: 'foo', type: 'string' },
  ]);
});

test("an alarm as aodh shows it: the rule's fields beside the alarm's, an event query as lines", () => {
  const base: AodhAlarm = { alarm_id: 'i', name: 'n', type: 'event', state: 'ok', severity: 'low', enabled: true, time_constraints: [] };
  const v = alarmView({ ...base, type: 'event', event_rule: { event_type: 'compute.*', query: [{ field: 'x', op: 'le', value: '3', type: '' }] } } as AodhAlarm);
  assert.equal(v.event_type, 'compute.*');
  assert.equal(v.query, 'x <= 3');
  assert.equal(v.event_rule, undefined);
  const c = alarmView({ ...base, type: 'composite', composite_rule: { or: [] } } as AodhAlarm);
  assert.equal(c.composite_rule, '{\n  "or": []\n}');
});

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 100, write: (s: string) => out.push(s) } };
}

test('progress: plain lines at most every interval on a pipe, nothing for short work; a bar redrawn in place on a terminal', () => {
  let now = 0;
  const pipe = sink(false);
  const p = new Progress('adding measures', 100, 'measures', { stream: pipe.stream, lineEveryMs: 1000, now: () => now });
  p.add(10);
  now = 500;
  p.add(10);
  assert.equal(pipe.out.length, 0);
  now = 1000;
  p.add(30);
  assert.deepEqual(pipe.out, ['adding measures: 50/100 measures (50%), 50/s\n']);
  now = 2000;
  p.add(50);
  p.finish();
  assert.equal(pipe.out.at(-1), 'adding measures: done, 100/100 measures in 2.0 s\n');

  const quiet = sink(false);
  const q = new Progress('x', 10, 'things', { stream: quiet.stream, now: () => 0 });
  q.add(10);
  q.finish();
  assert.deepEqual(quiet.out, []);

  now = 0;
  const tty = sink(true);
  const b = new Progress('adding', 4, 'measures', { stream: tty.stream, redrawEveryMs: 100, now: () => now });
  now = 100;
  b.add(1);
  assert.ok(tty.out[0].startsWith('\r\u001b[2Kadding ['), tty.out[0]);
  assert.match(tty.out[0], /\[#+\.+\] {2}25% 1\/4 measures/);
  now = 200;
  b.add(3);
  b.finish();
  assert.match(tty.out.at(-1) ?? '', /\[#+\] 100% 4\/4 measures .*\n$/);
});
