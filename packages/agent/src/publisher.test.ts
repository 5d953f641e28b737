// The publisher against a real Tally API (in process, over HTTP): resources, metrics,
// archive policies and resource types created as Ceilometer's publisher creates them,
// attribute changes in the resource's history, the store away and back, measures the store
// refuses dropped alone.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GnocchiClient, type JsonValue } from '@tally/client';
import { startTestApi, type TestApi } from '@tally/rest/test-util';
import { DiskBuffer } from './buffer.js';
import type { LogLevel, MeterType, ResourceTypeDefinition, Sample } from './pollster.js';
import { Publisher } from './publisher.js';
import { COMPUTE_RESOURCE_TYPES } from './compute-types.js';

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

type Line = { level: LogLevel; message: string; fields?: Record<string, unknown> };

/**
 * A publisher with its buffer and client to `url`, logging into `lines`, all of it (and
 * the API) closed after the test. The test starts the publisher when it is ready.
 */
async function publisherFor(t: TestContext, api: TestApi, url: string, types: readonly ResourceTypeDefinition[], maxRequestBytes: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tally-publisher-'));
  const lines: Line[] = [];
  const log = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => { lines.push({ level, message, fields }); };
  const client = new GnocchiClient({ url, auth: { type: 'basic', user: 'admin' }, retry: false, timeoutMs: 5_000 });
  const buffer = await DiskBuffer.open(join(dir, 'buffer'), { maxBytes: 1 << 20, log });
  const pub = new Publisher({ client, buffer, log, stateDir: dir, maxRequestBytes, retryBaseMs: 20, retryMaxMs: 100 });
  pub.addResourceTypes(types);
  t.after(async () => {
    await pub.stop(100);
    await buffer.close();
    client.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { lines, client, buffer, pub };
}

test('publishing to Tally: creates what is missing, updates what changed, buffers while the store is away, drops only what it refuses', async (t) => {
  const api = await startTestApi();
  const port = await freePort();
  const { lines, buffer, pub } = await publisherFor(t, api, `http://127.0.0.1:${port}`,
    [{ name: 'vmtest', attributes: { display_name: { type: 'string', required: false, maxLength: 255 } } }], 4096);
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

test("a resource type the store already has in an older shape gets the attributes it lacks, as ceilometer-upgrade adds them", async (t) => {
  const api = await startTestApi();
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
  const { lines, client, pub } = await publisherFor(t, api, url, COMPUTE_RESOURCE_TYPES, 1 << 20);
  // Gnocchi's upgrade makes Ceilometer's older `instance` (no flavor_name, launched_at...): the same here.
  const old = await client.resourceType.get('instance').catch(() => null);
  if (old === null) {
    await client.resourceType.create({ name: 'instance', attributes: {
      display_name: { type: 'string', required: true, min_length: 0, max_length: 255 },
      flavor_id: { type: 'string', required: true, min_length: 0, max_length: 255 },
      host: { type: 'string', required: true, min_length: 0, max_length: 255 },
    } });
  }
  assert.ok(!('flavor_name' in (await client.resourceType.get('instance')).attributes));
  // A resource of the older shape exists: the required attribute added must be filled on it.
  const older = await client.resource.create('instance', { id: 'a7c5d3e1-0b2f-4c6d-8e9f-1a2b3c4d5e6f', display_name: 'old', flavor_id: 'm1', host: 'h' });
  await pub.start();
  const attributes = { display_name: 'vm-1', flavor_id: 'm1.small', flavor_name: 'm1.small', host: 'compute-1', launched_at: '2026-01-01T00:00:00+00:00' };
  await pub.submit('vms', null, [{ meter: 'vcpus', unit: 'vcpu', type: 'gauge', volume: 2, timestamp: at(), resource: { id: VM, type: 'instance', attributes } }]);
  await until('the sample to be published', () => pub.stats.published === 1);
  const type = await client.resourceType.get('instance');
  for (const k of ['flavor_name', 'launched_at', 'created_at', 'deleted_at', 'availability_zone']) assert.ok(k in type.attributes, k);
  assert.equal(type.attributes.flavor_name.required, true);
  assert.equal(type.attributes.launched_at.required, false);
  const vm = await client.resource.get('instance', VM);
  assert.equal(vm.flavor_name, 'm1.small');
  assert.equal((await client.resource.get('instance', older.id)).flavor_name, '');
  assert.ok(lines.some((l) => l.message === 'resource type given the attributes it lacked'));
  // A resource the store had before this agent saw it: the creation meets 409, then it is updated.
  await pub.submit('vms', null, [{ meter: 'vcpus', unit: 'vcpu', type: 'gauge', volume: 4, timestamp: at(),
    resource: { id: older.id, type: 'instance', attributes: { ...attributes, display_name: 'renamed' } } }]);
  await until('the second sample to be published', () => pub.stats.published === 2);
  assert.equal((await client.resource.get('instance', older.id)).display_name, 'renamed');
  assert.ok(!lines.some((l) => l.level === 'error'), JSON.stringify(lines.filter((l) => l.level === 'error')));
});
