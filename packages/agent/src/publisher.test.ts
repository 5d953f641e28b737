// The publisher against a real Tally API (in process, over HTTP): resources, metrics,
// archive policies and resource types created as Ceilometer's publisher creates them,
// attribute changes in the resource's history, the store away and back, measures the store
// refuses dropped alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GnocchiClient, type JsonValue } from '@tally/client';
import { startTestApi } from '@tally/rest/test-util';
import { DiskBuffer } from './buffer.js';
import type { LogLevel, MeterType, Sample } from './pollster.js';
import { Publisher } from './publisher.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 8_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const VM = 'f6a3a6f4-6c4e-4b1c-9d59-6b3b0a6e7f01';
const PROJECT = '9a1d2b7e-3f4c-4e5d-8a6b-7c8d9e0f1a2b';
let clock = Date.UTC(2026, 0, 1) * 1_000_000;
const at = (): bigint => BigInt(clock += 1_000_000_000) * 1n;

function sample(meter: string, type: MeterType, volume: number, attributes: Record<string, JsonValue>, unit = 'ns', ts = at()): Sample {
  return { meter, unit, type, volume, timestamp: ts, resource: { id: VM, type: 'vmtest', attributes } };
}

test('publishing to Tally: creates what is missing, updates what changed, buffers while the store is away, drops only what it refuses', async (t) => {
  const api = await startTestApi();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tally-publisher-'));
  const lines: { level: LogLevel; message: string; fields?: Record<string, unknown> }[] = [];
  const log = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => { lines.push({ level, message, fields }); };
  const client = new GnocchiClient({ url: `http://127.0.0.1:${port}`, auth: { type: 'basic', user: 'admin' }, retry: false, timeoutMs: 5_000 });
  const buffer = await DiskBuffer.open(join(dir, 'buffer'), { maxBytes: 1 << 20, log });
  const pub = new Publisher({ client, buffer, log, stateDir: dir, maxRequestBytes: 4096, retryBaseMs: 20, retryMaxMs: 100 });
  pub.addResourceTypes([{ name: 'vmtest', attributes: { display_name: { type: 'string', required: false, maxLength: 255 } } }]);
  t.after(async () => {
    await pub.stop(100);
    await buffer.close();
    client.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await pub.start();

  // The store is not listening yet: cycles wait in the buffer, in order.
  const attrs = { display_name: 'one', project_id: PROJECT };
  const cycles: Sample[][] = [];
  for (let i = 0; i < 5; i++) {
    cycles.push([sample('cpu', 'cumulative', 1e9 * (i + 1), attrs), sample('memory.usage', 'gauge', 100 + i, attrs, 'MB')]);
    await pub.submit('vms', null, cycles[i]);
  }
  await until('the store to be found away', () => !pub.stats.storeUp);
  assert.equal(buffer.stats().samples, 10);
  assert.ok(lines.some((l) => l.level === 'warn' && /store unavailable/.test(l.message)));

  await api.app.listen({ port, host: '127.0.0.1' });
  await until('the buffer to drain', () => buffer.stats().samples === 0);
  assert.equal(pub.stats.published, 10);

  const g = new GnocchiClient({ url: `http://127.0.0.1:${port}`, auth: { type: 'basic', user: 'admin' }, retry: false });
  t.after(() => g.close());
  const r = await g.resource.get('vmtest', VM) as unknown as { project_id: string; display_name: string; metrics: Record<string, string> };
  assert.equal(r.project_id, PROJECT);
  assert.equal(r.display_name, 'one');
  const cpu = await g.metric.get(r.metrics.cpu);
  assert.equal(cpu.unit, 'ns');
  assert.equal(cpu.archive_policy.name, 'ceilometer-low-rate');
  assert.deepEqual(cpu.archive_policy.aggregation_methods.sort(), ['mean', 'rate:mean']);
  const mem = await g.metric.get(r.metrics['memory.usage']);
  assert.equal(mem.unit, 'MB');
  assert.equal(mem.archive_policy.name, 'ceilometer-low');
  // Every measure of every cycle, once: the raw values through a 1-second rate needs the policy's 5 min; read the mean per 5 min instead.
  const means = await g.metric.measures(r.metrics['memory.usage'], { refresh: true });
  assert.deepEqual(means.map((m) => m[2]), [102]);

  // A renamed resource is updated: its history shows both names.
  await pub.submit('vms', null, [sample('cpu', 'cumulative', 9e9, { display_name: 'renamed', project_id: PROJECT })]);
  await until('the rename to be sent', () => pub.stats.published === 11);
  const history = await g.resource.history('vmtest', VM);
  assert.deepEqual(history.items.map((h) => (h as unknown as { display_name: string }).display_name), ['one', 'renamed']);
  assert.ok(lines.some((l) => l.message === 'resource attributes changed: updated'));

  // A metric the store refuses (an archive policy it does not have) is dropped alone, with the store's message.
  const [ok1, bad, ok2] = [sample('vcpus', 'gauge', 2, { display_name: 'renamed', project_id: PROJECT }, 'vcpu'), sample('disk.usage', 'gauge', 5, { display_name: 'renamed', project_id: PROJECT }, 'B'), sample('power.state', 'gauge', 1, { display_name: 'renamed', project_id: PROJECT }, 'state')];
  await pub.submit('vms', null, [ok1]);
  await pub.submit('odd', 'no-such-policy', [bad]);
  await pub.submit('vms', null, [ok2]);
  await until('the batch to be sent', () => buffer.stats().samples === 0);
  assert.equal(pub.stats.rejected, 1);
  const refused = lines.find((l) => l.message === 'store refused measures: dropped');
  assert.equal(refused?.fields?.metric, 'disk.usage');
  assert.match(String(refused?.fields?.message), /no-such-policy/);
  const after = await g.resource.get('vmtest', VM) as unknown as { metrics: Record<string, string> };
  assert.ok(after.metrics.vcpus && after.metrics['power.state'] && !after.metrics['disk.usage']);
  assert.equal(pub.stats.published, 13);
});
