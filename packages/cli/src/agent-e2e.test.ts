// The metering agent end to end, as users run it: `tally serve` and `tally agent` (the host
// pollster and the example plugin, found by name in node_modules). Resources and metrics
// appear with Ceilometer's types, units and archive policies; the store killed mid-run and
// the agent killed (SIGKILL) during the outage, both restarted on their folders: every
// cycle the agent says it published arrives, once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GnocchiClient } from '@tally/client';
import { freePort, poller, startTally, TALLY, type TallyProcess } from './tally-process.js';

const EXAMPLE = fileURLToPath(new URL('../../agent-pollster-example', import.meta.url));

const until = poller(15_000);

interface AgentRun { child: ChildProcess; lines: Record<string, unknown>[] }

function startAgent(args: string[]): AgentRun {
  const child = spawn(process.execPath, [TALLY, 'agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: AgentRun = { child, lines: [] };
  let rest = '';
  child.stdout?.on('data', (d: Buffer) => {
    rest += d.toString();
    const parts = rest.split('\n');
    rest = parts.pop() as string;
    for (const p of parts) if (p.startsWith('{')) run.lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
  return run;
}

const exited = (c: ChildProcess): Promise<void> => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));
/** Cycles of `source` the agent logged as published (written to its buffer, durable). */
const cycles = (run: AgentRun, source: string): number => run.lines.filter((l) => l.msg === 'cycle published' && l.source === source).length;

test('tally agent publishes into tally serve; the store and the agent killed and restarted lose no sample', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-agent-e2e-'));
  const runs: AgentRun[] = [];
  let tally: TallyProcess | null = null;
  let g: GnocchiClient | null = null;
  // One hook, in order: the processes first, then their folder.
  t.after(async () => {
    for (const r of runs) r.child.kill('SIGKILL');
    await Promise.all(runs.map((r) => exited(r.child)));
    g?.close();
    if (tally) {
      const child = tally.child;
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await tally.stop();
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  mkdirSync(join(dir, 'node_modules', '@tally'), { recursive: true });
  symlinkSync(EXAMPLE, join(dir, 'node_modules', '@tally', 'agent-pollster-example'));
  mkdirSync(join(dir, 'watched'));
  writeFileSync(join(dir, 'watched', 'f'), 'z'.repeat(4321));
  writeFileSync(join(dir, 'polling.yaml'), `
sources:
  - name: host
    interval: 2
    pollster: host
    meters: ["hardware.cpu.*", "hardware.memory.*", "hardware.network.*"]
  - name: folder
    interval: 1
    pollster: "@tally/agent-pollster-example"
    archive_policy: e2e-count
    meters: ["folder.size"]
    options: { paths: [${JSON.stringify(join(dir, 'watched'))}] }
health_interval: 1
# The store is away for several seconds below: without a short ceiling, the agent's next try
# could come up to a minute after the store is back.
publish_retry_max: 1
`);
  const port = await freePort();
  const serveArgs = ['serve', '--data-dir', join(dir, 'data'), '--port', String(port), '--alarm-port', '0', '--rating-port', '0', '--processing-interval', '100'];
  tally = await startTally(serveArgs);
  g = new GnocchiClient({ url: `http://127.0.0.1:${port}`, auth: { type: 'basic', user: 'admin' }, retry: false });
  await g.archivePolicy.create({ name: 'e2e-count', aggregation_methods: ['count'], definition: [{ granularity: 1, points: 86400 }] });

  const agentArgs = ['--config', join(dir, 'polling.yaml'), '--gnocchi-url', `http://127.0.0.1:${port}`, '--data-dir', join(dir, 'agent'), '--log-level', 'debug', '--name', 'e2e'];
  runs.push(startAgent(agentArgs));

  // Resources and metrics as Ceilometer shapes them.
  const host = hostname();
  const gc = g;
  const hostRes = await until('the host resource', async () => {
    try {
      return await gc.resource.get('host', host) as unknown as { host_name: string; metrics: Record<string, string> };
    } catch {
      return null;
    }
  });
  assert.equal(hostRes.host_name, host);
  await until('host metrics', async () => Object.keys((await gc.resource.get('host', host) as unknown as { metrics: object }).metrics).length >= 10);
  const metrics = (await g.resource.get('host', host) as unknown as { metrics: Record<string, string> }).metrics;
  const load = await g.metric.get(metrics['hardware.cpu.load.1min']);
  assert.deepEqual([load.unit, load.archive_policy.name], ['process', 'ceilometer-low']);
  const memory = await g.metric.get(metrics['hardware.memory.total']);
  assert.equal(memory.unit, 'KB');
  const rxId = await until('an interface\'s metrics', async () => {
    const items = (await gc.resource.search('host_network_interface', { '=': { host_name: host } })).items as unknown as { metrics: Record<string, string> }[];
    return items.map((i) => i.metrics['hardware.network.incoming.bytes']).find((m) => m !== undefined);
  });
  const rx = await g.metric.get(rxId);
  assert.deepEqual([rx.unit, rx.archive_policy.name], ['B', 'ceilometer-low-rate']);
  const agentRes = await until('the agent resource', async () => (await gc.resource.search('agent', { '=': { agent_name: 'e2e' } })).items[0]);
  assert.equal(agentRes.type, 'agent');

  // The store is killed mid-run; the agent keeps polling into its buffer.
  await until('a few folder cycles', () => cycles(runs[0], 'folder') >= 3);
  tally.child.kill('SIGKILL');
  await exited(tally.child);
  tally = null;
  await until('the agent to notice', () => runs[0].lines.some((l) => l.msg === 'store unavailable: samples stay in the buffer until it answers'));
  await until('cycles buffered during the outage', () => cycles(runs[0], 'folder') >= 6);
  // The agent is killed during the outage, and restarted on its folder.
  runs[0].child.kill('SIGKILL');
  await exited(runs[0].child);
  runs.push(startAgent(agentArgs));
  await until('the restarted agent to find its buffer', () => runs[1].lines.find((l) => l.msg === 'buffer holds samples not yet published'));
  await until('more cycles after the restart', () => cycles(runs[1], 'folder') >= 2);
  // The store comes back on the same folder.
  tally = await startTally(serveArgs);
  await until('the agent to reach the store again', () => runs[1].lines.some((l) => l.msg === 'store reachable again: sending buffered samples'));
  // However long the machine takes to send what was buffered: the agent says when it is done.
  await until('the buffer to drain', () => runs[1].lines.some((l) => l.msg === 'buffer drained: every buffered sample is published'), 60_000);
  runs[1].child.kill('SIGTERM');
  await exited(runs[1].child);
  const stopped = runs[1].lines.find((l) => l.msg === 'agent stopped');
  assert.equal(stopped?.bufferedSamples, 0, 'everything buffered was sent before the agent stopped');

  // Every folder cycle the agent published is a measure of folder.size, once. A cycle being
  // written when the first agent was killed may have reached the buffer without its log
  // line: at most one more.
  const produced = cycles(runs[0], 'folder') + cycles(runs[1], 'folder');
  const folder = (await g.resource.search('folder', { '=': { path: join(dir, 'watched') } })).items[0] as unknown as { metrics: Record<string, string> };
  const counts = await g.metric.measures(folder.metrics['folder.size'], { aggregation: 'count', refresh: true });
  const stored = counts.reduce((s, m) => s + m[2], 0);
  assert.ok(stored === produced || stored === produced + 1, `stored ${stored} measures for ${produced} cycles published`);
});

test('SIGHUP reloads the configuration: removed sources stop, new ones start; an invalid file leaves the running agent as it was', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-agent-reload-'));
  const config = join(dir, 'polling.yaml');
  const sources = (...names: string[]): string => `sources:\n${names.map((n) => `  - name: ${n}\n    interval: 1\n    pollster: host\n    meters: ["hardware.cpu.load.*"]\n`).join('')}health_interval: 0\n`;
  writeFileSync(config, sources('a', 'b'));
  // No store listens there: the agent buffers, which is all this test needs of it.
  const run = startAgent(['--config', config, '--gnocchi-url', `http://127.0.0.1:${await freePort()}`, '--data-dir', join(dir, 'agent'), '--log-level', 'debug']);
  t.after(async () => {
    run.child.kill('SIGKILL');
    await exited(run.child);
    rmSync(dir, { recursive: true, force: true });
  });
  await until('both sources to poll', () => cycles(run, 'a') >= 1 && cycles(run, 'b') >= 1);

  writeFileSync(config, sources('b', 'c'));
  run.child.kill('SIGHUP');
  const reloaded = await until('the reload', () => run.lines.find((l) => l.msg === 'configuration reloaded'));
  assert.deepEqual([...(reloaded.sources as string[])].sort(), ['b', 'c']);
  const at = run.lines.indexOf(reloaded);
  await until('source c to poll', () => cycles(run, 'c') >= 1);
  await new Promise((r) => setTimeout(r, 2_500));
  const after = run.lines.slice(at + 1);
  assert.ok(!after.some((l) => l.msg === 'cycle published' && l.source === 'a'), 'the removed source polls no more');
  assert.ok(after.some((l) => l.msg === 'cycle published' && l.source === 'b'));

  writeFileSync(config, 'sources: [{ name: broken }]\n');
  run.child.kill('SIGHUP');
  await until('the refusal', () => run.lines.some((l) => l.msg === 'configuration not reloaded: the running agent goes on'));
  const n = cycles(run, 'c');
  await until('source c to go on polling', () => cycles(run, 'c') > n);
  assert.equal(run.child.exitCode, null);
});
