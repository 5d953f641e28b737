// The client commands against a real `tally serve`: every group round-trips (create, list,
// show, update, delete), measures go in and come out processed, failures give the
// documented exit codes and messages.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, poller, startTally, type TallyProcess } from '../tally-process.js';
import { runTally, type Run } from './run-tally.js';

let server: TallyProcess;
let dir: string;
let env: Record<string, string>;
const until = poller(30_000);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tally-client-e2e-'));
  const [port, alarmPort] = [await freePort(), await freePort()];
  server = await startTally(['serve', '--data-dir', join(dir, 'data'), '--port', String(port), '--alarm-port', String(alarmPort),
    '--rating-port', '0', '--processing-interval', '100', '--evaluation-interval', '3600'], {}, 'Tally alarm API listening');
  // The client's settings from the environment; XDG_CONFIG_HOME names an empty folder so that
  // no client.json of the machine's user is read.
  env = {
    TALLY_ENDPOINT: `http://127.0.0.1:${port}`, TALLY_ALARM_ENDPOINT: `http://127.0.0.1:${alarmPort}`,
    XDG_CONFIG_HOME: join(dir, 'config'), TZ: 'UTC', NO_COLOR: '1',
  };
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function tally(args: string[], input?: string): Promise<Run> {
  return runTally(args, { env, input });
}

/** Runs a command that must succeed; its stdout as JSON when it printed some. */
async function ok<T = unknown>(args: string[], input?: string): Promise<T> {
  const r = await tally(args, input);
  assert.equal(r.code, 0, `tally ${args.join(' ')} -> ${r.code}\n${r.stderr}`);
  return (r.stdout.trim() === '' ? null : args.includes('json') ? JSON.parse(r.stdout) : r.stdout) as T;
}

type Obj = Record<string, unknown>;

test('archive-policy and archive-policy-rule round-trip', async () => {
  const created = await ok<Obj>(['archive-policy', 'create', 'cli-ap', '-d', 'granularity:1s,points:60', '-d', 'granularity:1m,timespan:1h', '-b', '2', '-m', 'mean', '-m', 'max', '-f', 'json']);
  assert.equal(created.name, 'cli-ap');
  assert.equal(created.back_window, 2);
  assert.deepEqual(created.aggregation_methods, ['mean', 'max']);
  const names = (await ok<Obj[]>(['archive-policy', 'list', '-f', 'json'])).map((p) => p.name);
  assert.ok(names.includes('cli-ap') && names.includes('low'), String(names));
  const table = await ok<string>(['archive-policy', 'show', 'cli-ap']);
  assert.match(table, /\| definition +\| - .*points: 60/);
  const updated = await ok<{ definition: { points: number }[] }>(['archive-policy', 'update', 'cli-ap', '-d', 'granularity:1s,points:120', '-d', 'granularity:1m,points:60', '-f', 'json']);
  assert.deepEqual(updated.definition.map((d) => d.points), [120, 60]);

  const rule = await ok<Obj>(['archive-policy-rule', 'create', 'cli-rule', '-a', 'cli-ap', '-m', 'cli.*', '-f', 'json']);
  assert.deepEqual(rule, { name: 'cli-rule', archive_policy_name: 'cli-ap', metric_pattern: 'cli.*' });
  assert.equal((await ok<string>(['archive-policy-rule', 'show', 'cli-rule', '-f', 'value', '-c', 'metric_pattern'])).trim(), 'cli.*');
  await ok(['archive-policy-rule', 'update', 'cli-rule', '-n', 'cli-rule2']);
  assert.deepEqual((await ok<Obj[]>(['archive-policy-rule', 'list', '-f', 'json'])).map((r) => r.name).filter((n) => String(n).startsWith('cli')), ['cli-rule2']);
  // A metric named by the rule's pattern gets its policy.
  const m = await ok<Obj>(['metric', 'create', 'cli.temp', '-f', 'json']);
  assert.equal(m.archive_policy_name, 'cli-ap');
  await ok(['metric', 'delete', String(m.id)]);
  await ok(['archive-policy-rule', 'delete', 'cli-rule2']);
  assert.equal((await tally(['archive-policy-rule', 'show', 'cli-rule2'])).code, 1);
  await until('the metric deleted to be gone', async () => (await tally(['archive-policy', 'delete', 'cli-ap'])).code === 0);
  const gone = await tally(['archive-policy', 'show', 'cli-ap']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^tally archive-policy show: 404 /);
});

test('resource-type, resource and metric round-trip', async () => {
  const rt = await ok<Obj>(['resource-type', 'create', 'cli-host', '-a', 'flavor:string:true:max_length=16', '-a', 'cores:number:false', '-f', 'json']);
  assert.equal(rt['attributes/flavor'], 'max_length=16, min_length=0, required=True, type=string');
  const rt2 = await ok<Obj>(['resource-type', 'update', 'cli-host', '-a', 'rack:string:false', '-r', 'cores', '-f', 'json']);
  assert.deepEqual(Object.keys(rt2).filter((k) => k.startsWith('attributes/')).sort(), ['attributes/flavor', 'attributes/rack']);
  assert.ok((await ok<Obj[]>(['resource-type', 'list', '-f', 'json'])).some((t) => t.name === 'cli-host'));

  const r = await ok<Obj>(['resource', 'create', 'host-1', '-t', 'cli-host', '-a', 'flavor:small', '-a', 'project_id:p1', '-n', 'cpu:low', '-f', 'json']);
  assert.equal(r.flavor, 'small');
  assert.deepEqual(Object.keys(r.metrics as Obj), ['cpu']);
  const cpu = (r.metrics as Record<string, string>).cpu;
  const byName = await ok<Obj>(['metric', 'show', 'cpu', '-r', 'host-1', '-f', 'json']);
  assert.equal(byName.id, cpu);
  assert.equal(byName['archive_policy/name'], 'low');
  assert.equal(byName['resource/original_resource_id'], 'host-1');

  const u = await ok<Obj>(['resource', 'update', 'host-1', '-t', 'cli-host', '-a', 'flavor:large', '-n', 'mem:low', '-d', 'cpu', '-f', 'json']);
  assert.equal(u.flavor, 'large');
  assert.deepEqual(Object.keys(u.metrics as Obj), ['mem']);
  const shown = await ok<string>(['resource', 'show', 'host-1', '-t', 'cli-host']);
  assert.match(shown, /\| metrics +\| mem: [0-9a-f-]{36} +\|/);
  const listed = await ok<Obj[]>(['resource', 'list', '-t', 'cli-host', '-f', 'json']);
  assert.deepEqual(listed.map((x) => [x.original_resource_id, x.flavor]), [['host-1', 'large']]);
  assert.ok(!('metrics' in listed[0]) && 'creator' in listed[0] && !('created_by_user_id' in listed[0]));
  assert.equal((await ok<Obj[]>(['resource', 'history', 'host-1', '-t', 'cli-host', '-f', 'json'])).length, 2);
  assert.equal((await ok<string>(['resource', 'search', 'flavor=large', '-t', 'cli-host', '-f', 'value', '-c', 'original_resource_id'])).trim(), 'host-1');
  assert.equal((await ok<Obj[]>(['resource', 'search', '{"=": {"flavor": "small"}}', '-t', 'cli-host', '-f', 'json'])).length, 0);

  // Metrics by id; --all pages through everything (the server's pages are of --limit).
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(String((await ok<Obj>(['metric', 'create', `cli-m${i}`, '-a', 'low', '-u', 'B', '-f', 'json'])).id));
  const page = await ok<Obj[]>(['metric', 'list', '--limit', '2', '-f', 'json']);
  assert.equal(page.length, 2);
  const all = await ok<Obj[]>(['metric', 'list', '--limit', '2', '--all', '-f', 'json']);
  assert.ok(ids.every((id) => all.some((m) => m.id === id)), 'every metric listed');
  assert.equal(new Set(all.map((m) => m.id)).size, all.length);
  await ok(['metric', 'delete', ...ids]);
  assert.equal((await tally(['metric', 'show', ids[0]])).code, 1);

  await ok(['resource', 'create', 'host-2', '-t', 'cli-host', '-a', 'flavor:small']);
  await ok(['resource', 'delete', 'host-2']);
  assert.equal((await tally(['resource', 'show', 'host-2'])).code, 1);
  const deleted = await ok<Obj>(['resource', 'batch', 'delete', 'flavor=large', '-t', 'cli-host', '-f', 'json']);
  assert.deepEqual(deleted, { deleted: 1 });
  await until('the type to be deletable', async () => (await tally(['resource-type', 'delete', 'cli-host'])).code === 0);
  assert.equal((await tally(['resource-type', 'show', 'cli-host'])).code, 1);
});

test('measures: add (flags, stdin, batches) then show after processing; aggregates and status', async () => {
  const m = await ok<Obj>(['metric', 'create', 'cli-load', '-a', 'medium', '-f', 'json']);
  const id = String(m.id);
  await ok(['measures', 'add', id, '-m', '2024-01-01T00:00:10@1', '-m', '2024-01-01T00:00:20@3']);
  const lines = Array.from({ length: 25 }, (_v, i) => `2024-01-01T00:01:${String(i).padStart(2, '0')}@${i}`).join('\n');
  const viaStdin = await tally(['measures', 'add', id, '--file', '-', '--batch-size', '7'], lines);
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  assert.equal(viaStdin.stdout, '');
  await ok(['measures', 'batch-metrics', '-'], JSON.stringify({ [id]: [{ timestamp: '2024-01-01T00:02:00', value: 100 }] }));
  await ok(['resource', 'create', 'cli-res', '-n', 'load:medium']);
  await ok(['measures', 'batch-resources-metrics', '-', '--create-metrics'], JSON.stringify({
    'cli-res': { load: [{ timestamp: '2024-01-01T00:00:00', value: 4 }], created: { archive_policy_name: 'low', measures: [{ timestamp: '2024-01-01T00:00:00', value: 9 }] } },
  }));

  const minute = await until('the measures processed', async () => {
    const ms = await ok<{ timestamp: string; granularity: number; value: number }[]>(['measures', 'show', id, '--granularity', '60', '-f', 'json']);
    return ms.length === 3 && ms[2].value === 100 ? ms : null;
  });
  assert.deepEqual(minute, [
    { timestamp: '2024-01-01T00:00:00+00:00', granularity: 60, value: 2 },
    { timestamp: '2024-01-01T00:01:00+00:00', granularity: 60, value: 12 },
    { timestamp: '2024-01-01T00:02:00+00:00', granularity: 60, value: 100 },
  ]);
  const max = await ok<Obj[]>(['measures', 'show', id, '--granularity', '60', '--aggregation', 'max', '--start', '2024-01-01T00:01:00', '--stop', '2024-01-01T00:02:00', '-f', 'json']);
  assert.deepEqual(max.map((x) => x.value), [24]);
  const created = await ok<Obj[]>(['measures', 'show', 'created', '-r', 'cli-res', '--refresh', '-f', 'json']);
  assert.deepEqual(created.map((x) => x.value), [9]);

  const agg = await ok<Obj[]>(['aggregates', `(aggregate sum (metric ${id} mean))`, '--granularity', '60', '-f', 'json']);
  assert.deepEqual(agg.map((x) => [x.name, x.value]), [['aggregated', 2], ['aggregated', 12], ['aggregated', 100]]);
  const byRes = await until('the resource metric processed', async () => {
    const rows = await ok<Obj[]>(['aggregates', '(metric load mean)', 'original_resource_id="cli-res"', '--granularity', '60', '-f', 'json']);
    return rows.length === 1 ? rows : null;
  });
  assert.equal(byRes[0].value, 4);
  assert.match(String(byRes[0].name), /^[0-9a-f-]{36}\/load\/mean$/);
  const grouped = await ok<Obj[]>(['aggregates', '(metric load mean)', 'original_resource_id="cli-res"', '--groupby', 'original_resource_id', '--granularity', '60', '-f', 'json']);
  assert.equal(grouped[0].group, 'original_resource_id: cli-res');
  const old = await ok<Obj[]>(['measures', 'aggregation', '-m', id, '--granularity', '60', '--aggregation', 'max', '-f', 'json']);
  assert.deepEqual(old.map((x) => x.value), [3, 24, 100]);

  const status = await ok<Obj>(['status', '-f', 'json']);
  assert.deepEqual(Object.keys(status).sort(), ['metricd/processors', 'storage/number of metric having measures to process', 'storage/total number of measures to process']);
});

test('alarm: create (each rule type), list, show by id or name, update, state, history, delete', async () => {
  const metric = String((await ok<Obj>(['metric', 'create', 'cli-alarmed', '-a', 'low', '-f', 'json'])).id);
  await ok(['resource', 'create', 'cli-alarm-res', '-n', 'cpu:low']);
  const byMetrics = await ok<Obj>(['alarm', 'create', '--name', 'cli-a1', '-t', 'gnocchi_aggregation_by_metrics_threshold', '--metric', metric,
    '--threshold', '5', '--aggregation-method', 'mean', '--granularity', '300', '--comparison-operator', 'gt', '--alarm-action', 'http://127.0.0.1:1/hook', '-f', 'json']);
  assert.equal(byMetrics.threshold, 5);
  assert.deepEqual(byMetrics.metrics, [metric]);
  const id = String(byMetrics.alarm_id);
  const created = [
    ['-t', 'gnocchi_resources_threshold', '--metric', 'cpu', '--resource-id', 'cli-alarm-res', '--resource-type', 'generic', '--threshold', '1', '--aggregation-method', 'mean'],
    ['-t', 'gnocchi_aggregation_by_resources_threshold', '--metric', 'cpu', '--resource-type', 'generic', '--query', '{"=": {"original_resource_id": "cli-alarm-res"}}', '--threshold', '1', '--aggregation-method', 'mean'],
    ['-t', 'event', '--event-type', 'compute.instance.*', '--query', 'traits.state=string::error'],
    ['-t', 'composite', '--composite-rule', JSON.stringify({ or: [{ type: 'gnocchi_aggregation_by_metrics_threshold', metrics: [metric], threshold: 1, aggregation_method: 'mean', granularity: 300, comparison_operator: 'gt' }] })],
  ];
  for (const [i, args] of created.entries()) await ok(['alarm', 'create', '--name', `cli-x${i}`, ...args]);
  const event = await ok<Obj>(['alarm', 'show', 'cli-x2', '-f', 'json']);
  assert.equal(event.query, 'traits.state = error');

  const list = await ok<Obj[]>(['alarm', 'list', '-f', 'json']);
  assert.deepEqual(list.map((a) => a.name).sort(), ['cli-a1', 'cli-x0', 'cli-x1', 'cli-x2', 'cli-x3']);
  assert.deepEqual(Object.keys(list[0]), ['alarm_id', 'type', 'name', 'state', 'severity', 'enabled']);
  assert.deepEqual((await ok<Obj[]>(['alarm', 'list', '--filter', 'type=event', '-f', 'json'])).map((a) => a.name), ['cli-x2']);
  assert.deepEqual((await ok<Obj[]>(['alarm', 'list', '--query', 'name=cli-a1 or name=cli-x0', '-f', 'json'])).map((a) => a.name).sort(), ['cli-a1', 'cli-x0']);

  assert.equal((await ok<Obj>(['alarm', 'show', '--name', 'cli-a1', '-f', 'json'])).alarm_id, id);
  assert.equal((await ok<Obj>(['alarm', 'show', id, '-f', 'json'])).name, 'cli-a1');
  const updated = await ok<Obj>(['alarm', 'update', 'cli-a1', '--threshold', '9', '--severity', 'critical', '-f', 'json']);
  assert.deepEqual([updated.threshold, updated.severity, updated.metrics, updated.alarm_actions], [9, 'critical', [metric], ['http://127.0.0.1:1/hook']]);
  assert.equal((await ok<string>(['alarm', 'state', 'set', id, '--state', 'alarm', '-f', 'value'])).trim(), 'alarm');
  assert.equal((await ok<string>(['alarm', 'state', 'get', '--name', 'cli-a1', '-f', 'value'])).trim(), 'alarm');
  const history = await ok<Obj[]>(['alarm', 'history', 'show', id, '-f', 'json']);
  assert.deepEqual(history.map((h) => h.type), ['state transition', 'rule change', 'creation']);
  const transitions = await ok<Obj[]>(['alarm', 'history', 'search', '--query', `type="state transition" and alarm_id=${id}`, '-f', 'json']);
  assert.equal(transitions.length, 1);

  const missing = await tally(['alarm', 'show', 'no-such-alarm']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /alarm no-such-alarm not found/);
  for (const a of list) await ok(['alarm', 'delete', String(a.alarm_id)]);
  assert.deepEqual(await ok(['alarm', 'list', '-f', 'json']), []);
});

test('exit codes and messages: 1 for 4xx, 2 for usage errors, 3 when the server cannot be reached', async () => {
  const notFound = await tally(['metric', 'show', '00000000-0000-0000-0000-000000000000']);
  assert.equal(notFound.code, 1);
  assert.match(notFound.stderr, /^tally metric show: 404 Not Found: Metric 00000000-0000-0000-0000-000000000000 does not exist\n$/);
  const invalid = await tally(['archive-policy', 'create', 'bad', '-d', 'granularity:nonsense,points:3']);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /^tally archive-policy create: 400 Bad Request/);
  const noAuth = await runTally(['metric', 'list'], { env: { ...env, TALLY_AUTH: 'none' } });
  assert.equal(noAuth.code, 1);
  assert.match(noAuth.stderr, /401 Unauthorized.*give credentials/);

  const unknownOption = await tally(['metric', 'list', '--no-such-option']);
  assert.equal(unknownOption.code, 2);
  const badColumn = await tally(['metric', 'list', '-c', 'nope']);
  assert.equal(badColumn.code, 2);
  assert.match(badColumn.stderr, /unknown column 'nope'; the columns are: id, archive_policy\/name, name, unit, resource_id/);
  const badFormat = await tally(['metric', 'list', '-f', 'xml']);
  assert.equal(badFormat.code, 2);
  const badMeasure = await tally(['measures', 'add', 'x', '-m', '12']);
  assert.equal(badMeasure.code, 2);
  const missingFile = await tally(['measures', 'batch-metrics', join(dir, 'nope.json')]);
  assert.equal(missingFile.code, 2);
  assert.match(missingFile.stderr, /cannot read .*nope.json/);

  const port = await freePort();
  const down = await runTally(['status'], { env: { ...env, TALLY_ENDPOINT: `http://127.0.0.1:${port}` } });
  assert.equal(down.code, 3);
  assert.equal(down.stderr, `tally status: cannot reach http://127.0.0.1:${port} (from the environment): connection refused - is \`tally serve\` running? set --endpoint or TALLY_ENDPOINT\n`);
  const alarmsDown = await tally(['alarm', 'list', '--alarm-endpoint', `http://127.0.0.1:${port}`]);
  assert.equal(alarmsDown.code, 3);
  assert.match(alarmsDown.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+ \(given as a flag\): connection refused - .*set --alarm-endpoint or TALLY_ALARM_ENDPOINT/);
  // The flag beats the environment.
  assert.equal((await tally(['status', '--endpoint', `http://127.0.0.1:${port}`])).code, 3);
});
