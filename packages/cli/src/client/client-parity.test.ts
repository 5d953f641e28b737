// Parity with the reference CLIs: the same commands through python3-gnocchiclient's `gnocchi`
// and python3-aodhclient's `aodh`, and through `tally`, against the same Tally, print the
// same columns and values in JSON. Skipped, saying why, where those CLIs are not installed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, poller, startTally, type TallyProcess } from '../tally-process.js';
import { runCommand, runTally } from './run-tally.js';

const installed = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const HAVE_GNOCCHI = installed('gnocchi');
const HAVE_AODH = installed('aodh');
if (!HAVE_GNOCCHI) console.log('# client parity: `gnocchi` (python3-gnocchiclient) is not installed: its comparisons are skipped');
if (!HAVE_AODH) console.log('# client parity: `aodh` (python3-aodhclient) is not installed: its comparisons are skipped');

let server: TallyProcess | undefined;
let dir: string;
let endpoint: string;
let alarmEndpoint: string;
// Both CLIs print timestamps in the local zone: the same one for both.
const ENV = { TZ: 'UTC', NO_COLOR: '1' };
const until = poller(30_000);

before(async () => {
  if (!HAVE_GNOCCHI && !HAVE_AODH) return;
  dir = mkdtempSync(join(tmpdir(), 'tally-client-parity-'));
  const [port, alarmPort] = [await freePort(), await freePort()];
  endpoint = `http://127.0.0.1:${port}`;
  alarmEndpoint = `http://127.0.0.1:${alarmPort}`;
  server = await startTally(['serve', '--data-dir', join(dir, 'data'), '--port', String(port), '--alarm-port', String(alarmPort),
    '--rating-port', '0', '--processing-interval', '100', '--evaluation-interval', '3600'], {}, 'Tally alarm API listening');
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function output(cmd: string, args: string[]): Promise<string> {
  const r = await runCommand(cmd, args, { env: { ...ENV, XDG_CONFIG_HOME: join(dir, 'config') } });
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} -> ${r.code}\n${r.stderr}`);
  return r.stdout;
}

const TALLY_ARGS = () => [join(import.meta.dirname, '../../../../bin/tally')];
const GNOCCHI_ARGS = () => ['--os-auth-type', 'gnocchi-basic', '--user', 'admin', '--endpoint', endpoint];
const tallyText = (args: string[]) => output(process.execPath, [...TALLY_ARGS(), ...args, '--endpoint', endpoint, '--alarm-endpoint', alarmEndpoint]);
const tally = async (args: string[]) => JSON.parse(await tallyText([...args, '-f', 'json'])) as unknown;
const gnocchi = async (args: string[]) => JSON.parse(await output('gnocchi', [...GNOCCHI_ARGS(), ...args, '-f', 'json'])) as unknown;
const aodh = async (args: string[]) => JSON.parse(await output('aodh', ['--os-auth-type', 'gnocchi-basic', '--user', 'admin', '--aodh-endpoint', alarmEndpoint, ...args, '-f', 'json'])) as unknown;

async function same(reference: (a: string[]) => Promise<unknown>, args: string[], normalise: (v: unknown) => unknown = (v) => v): Promise<unknown> {
  const [ref, ours] = [normalise(await reference(args)), normalise(await tally(args))];
  assert.deepEqual(ours, ref, `tally ${args.join(' ')} differs from the reference CLI`);
  // Same columns in the same order, not only the same values.
  const keys = (v: unknown) => (Array.isArray(v) ? (v.length > 0 ? Object.keys(v[0] as object) : []) : Object.keys(v as object));
  assert.deepEqual(keys(ours), keys(ref));
  return ours;
}

test('gnocchi and tally print the same JSON for archive policies, metrics, measures, resources, resource types, aggregates and status', { skip: !HAVE_GNOCCHI && 'gnocchi is not installed' }, async () => {
  const run = (args: string[]) => runTally([...args, '--endpoint', endpoint], { env: ENV });
  assert.equal((await run(['archive-policy', 'create', 'parity', '-d', 'granularity:1m,points:60', '-m', 'mean', '-m', 'max'])).code, 0);
  assert.equal((await run(['archive-policy-rule', 'create', 'parity-rule', '-a', 'parity', '-m', 'parity.*'])).code, 0);
  assert.equal((await run(['resource-type', 'create', 'parity-type', '-a', 'flavor:string:false:max_length=8', '-a', 'cores:number:true:min=1'])).code, 0);
  assert.equal((await run(['resource', 'create', 'parity-a', '-t', 'parity-type', '-a', 'flavor:x', '-a', 'cores:2', '-n', 'parity.cpu'])).code, 0);
  assert.equal((await run(['resource', 'update', 'parity-a', '-t', 'parity-type', '-a', 'cores:4'])).code, 0);
  assert.equal((await run(['resource', 'create', 'parity-b', '-a', 'project_id:p', '-n', 'parity.cpu'])).code, 0);
  const metric = JSON.parse((await run(['metric', 'show', 'parity.cpu', '-r', 'parity-a', '-f', 'json'])).stdout) as { id: string };
  const lines = Array.from({ length: 120 }, (_v, i) => `2024-01-01T00:${String(Math.floor(i / 2)).padStart(2, '0')}:${i % 2 ? '30' : '00'}@${i}`).join('\n');
  assert.equal((await runTally(['measures', 'add', metric.id, '--file', '-', '--endpoint', endpoint], { env: ENV, input: lines })).code, 0);
  await until('the measures processed', async () => {
    const s = (await tally(['status'])) as Record<string, number>;
    return s['storage/total number of measures to process'] === 0;
  });

  await same(gnocchi, ['archive-policy', 'list']);
  await same(gnocchi, ['archive-policy', 'show', 'parity']);
  await same(gnocchi, ['archive-policy-rule', 'list']);
  await same(gnocchi, ['archive-policy-rule', 'show', 'parity-rule']);
  await same(gnocchi, ['metric', 'list']);
  await same(gnocchi, ['metric', 'show', metric.id]);
  await same(gnocchi, ['metric', 'show', 'parity.cpu', '-r', 'parity-a']);
  const ms = await same(gnocchi, ['measures', 'show', metric.id]) as unknown[];
  assert.equal(ms.length, 60);
  await same(gnocchi, ['measures', 'show', metric.id, '--aggregation', 'max', '--start', '2024-01-01T00:10:00', '--stop', '2024-01-01T00:20:00']);
  await same(gnocchi, ['measures', 'show', metric.id, '--granularity', '60', '--resample', '600']);
  await same(gnocchi, ['measures', 'aggregation', '-m', metric.id, '--aggregation', 'max']);
  await same(gnocchi, ['resource', 'list']);
  await same(gnocchi, ['resource', 'list', '-t', 'parity-type', '--details']);
  await same(gnocchi, ['resource', 'show', 'parity-a', '-t', 'parity-type']);
  await same(gnocchi, ['resource', 'history', 'parity-a', '-t', 'parity-type']);
  await same(gnocchi, ['resource', 'search', 'project_id=p']);
  await same(gnocchi, ['resource-type', 'list']);
  await same(gnocchi, ['resource-type', 'show', 'parity-type']);
  await same(gnocchi, ['aggregates', `(aggregate max (metric ${metric.id} mean))`, '--granularity', '60', '--stop', '2024-01-01T00:10:00']);
  await same(gnocchi, ['aggregates', '(metric parity.cpu mean)', 'original_resource_id="parity-a"', '--groupby', 'original_resource_id', '--stop', '2024-01-01T00:05:00']);
  await same(gnocchi, ['status']);

  // The tables people read, and the csv, yaml and value outputs, are cliff's, character for
  // character (where no float is whole: gnocchi prints a granularity of 60 as 60.0).
  for (const args of [['archive-policy', 'list'], ['resource', 'show', 'parity-a', '-t', 'parity-type'], ['resource', 'list'], ['resource-type', 'show', 'parity-type'], ['status'],
    ['resource', 'list', '-f', 'csv'], ['metric', 'list', '-f', 'csv'], ['resource', 'show', 'parity-a', '-t', 'parity-type', '-f', 'yaml'], ['metric', 'list', '-f', 'yaml'],
    ['resource', 'list', '-f', 'value', '-c', 'id', '-c', 'type']]) {
    assert.equal(await tallyText(args), await output('gnocchi', [...GNOCCHI_ARGS(), ...args]), `tally ${args.join(' ')}: the output differs`);
  }
});

/** A composite rule is printed as indented JSON: compared as the rule it encodes. */
const parsedComposite = (v: unknown): unknown => {
  const a = v as Record<string, unknown>;
  return typeof a.composite_rule === 'string' ? { ...a, composite_rule: JSON.parse(a.composite_rule) } : v;
};

test('aodh and tally print the same JSON for alarm list, show, state and history', { skip: !HAVE_AODH && 'aodh is not installed' }, async () => {
  const metric = (await tally(['metric', 'create', 'parity-alarmed', '-a', 'low'])) as { id: string };
  const threshold = (await tally(['alarm', 'create', '--name', 'parity-threshold', '-t', 'gnocchi_aggregation_by_metrics_threshold', '--metric', metric.id,
    '--threshold', '5', '--aggregation-method', 'mean', '--granularity', '300', '--comparison-operator', 'ge',
    '--time-constraint', 'name=nights;start=0 22 * * *;duration=36000'])) as { alarm_id: string };
  await tally(['alarm', 'create', '--name', 'parity-event', '-t', 'event', '--event-type', 'compute.*', '--query', 'traits.cpu<=3;name=string::x']);
  await tally(['alarm', 'create', '--name', 'parity-composite', '-t', 'composite', '--composite-rule',
    JSON.stringify({ and: [{ type: 'gnocchi_aggregation_by_metrics_threshold', metrics: [metric.id], threshold: 1, aggregation_method: 'mean', granularity: 300, comparison_operator: 'gt' }] })]);
  await tally(['alarm', 'state', 'set', threshold.alarm_id, '--state', 'alarm']);

  await same(aodh, ['alarm', 'list']);
  await same(aodh, ['alarm', 'list', '--filter', 'type=event']);
  await same(aodh, ['alarm', 'list', '--query', 'state=alarm or name="parity-event"']);
  await same(aodh, ['alarm', 'show', threshold.alarm_id]);
  await same(aodh, ['alarm', 'show', 'parity-event']);
  await same(aodh, ['alarm', 'show', '--name', 'parity-composite'], parsedComposite);
  await same(aodh, ['alarm', 'state', 'get', threshold.alarm_id]);
  await same(aodh, ['alarm-history', 'show', threshold.alarm_id]);
  await same(aodh, ['alarm-history', 'search', '--query', `alarm_id=${threshold.alarm_id}`]);
});
