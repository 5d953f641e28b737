// The alarm service end to end, as `tally serve` runs it: measures posted to the metric API
// trip and then clear alarms of every Gnocchi rule type and a composite one, each within an
// evaluation round; a webhook receiver checks Aodh's body and headers (and the HMAC
// signature); with the receiver down for a while, every notification still arrives once
// it is up, in order per alarm, and the only repeats carry the same request id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GnocchiClient } from '@tally/client';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '@tally/alarming/notifier';
import { freePort, poller, startTally } from './tally-process.js';

const SECRET = 'e2e-secret-0123456789';

interface Received {
  path: string;
  requestId: string;
  body: string;
  json: { alarm_name: string; alarm_id: string; severity: string; previous: string; current: string; reason: string; reason_data: Record<string, unknown> };
  headers: http.IncomingHttpHeaders;
}

/** A webhook receiver that can be taken down and brought back on the same port. */
function receiver(port: number): { got: Received[]; up(): Promise<void>; down(): Promise<void> } {
  const got: Received[] = [];
  let server: http.Server | null = null;
  return {
    got,
    async up() {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          got.push({ path: req.url ?? '', requestId: String(req.headers['x-openstack-request-id']), body, json: JSON.parse(body) as Received['json'], headers: req.headers });
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    },
    async down() {
      const s = server;
      server = null;
      if (s) await new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections(); });
    },
  };
}

// Generous: on a loaded 2-core machine the evaluator's rounds and the notifier's retries slow down.
const until = poller(30_000);

test('tally serve: measures trip and clear alarms of every rule type; webhooks as Aodh posts them, none lost while the receiver is down', { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-alarm-e2e-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ hooks: SECRET }));
  const [port, alarmPort, hookPort] = [await freePort(), await freePort(), await freePort()];
  const hooks = receiver(hookPort);
  t.after(() => hooks.down());
  await hooks.up();
  const tally = await startTally(['serve',
    '--data-dir', join(dir, 'data'), '--port', String(port), '--alarm-port', String(alarmPort), '--rating-port', '0', '--alarm-policy', 'open',
    '--evaluation-interval', '1', '--processing-interval', '100', '--notifier-poll-interval', '0.2', '--notifier-max-backoff', '1',
    '--alarm-hmac-secrets', join(dir, 'secrets.json'),
  ], {}, 'Tally alarm API listening');
  const gnocchi = new GnocchiClient({ url: `http://127.0.0.1:${port}`, auth: { type: 'basic', user: 'admin' }, retry: false });
  t.after(async () => {
    gnocchi.close();
    await tally.stop();
  });
  const aodh = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`http://127.0.0.1:${alarmPort}${path}`, {
      method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
    return res.status === 204 ? null : res.json();
  };

  await gnocchi.archivePolicy.create({ name: 'e2e', aggregation_methods: ['mean'], definition: [{ granularity: 60, points: 60 }] });
  const ids = ['r1', 'r2', 'r3', 'r4'].map(() => crypto.randomUUID());
  const metric: string[] = [];
  for (const id of ids) {
    const r = await gnocchi.resource.create('generic', { id, metrics: { cpu: { archive_policy_name: 'e2e' } } });
    metric.push((r as unknown as { metrics: Record<string, string> }).metrics.cpu);
  }
  const base = { comparison_operator: 'gt', threshold: 50, aggregation_method: 'mean', granularity: 60, evaluation_periods: 1 };
  const hook = (name: string): string => `http://127.0.0.1:${hookPort}/${name}?tally-hmac-key=hooks`;
  const rules: [string, Record<string, unknown>][] = [
    ['gnocchi_resources_threshold', { ...base, metric: 'cpu', resource_id: ids[0], resource_type: 'generic' }],
    ['gnocchi_aggregation_by_metrics_threshold', { ...base, metrics: [metric[1]] }],
    ['gnocchi_aggregation_by_resources_threshold', { ...base, metric: 'cpu', resource_type: 'generic', query: JSON.stringify({ '=': { id: ids[2] } }) }],
    ['composite', { or: [
      { type: 'gnocchi_resources_threshold', ...base, metric: 'cpu', resource_id: ids[3], resource_type: 'generic' },
      { type: 'gnocchi_resources_threshold', ...base, threshold: 1e12, metric: 'cpu', resource_id: ids[3], resource_type: 'generic' },
    ] }],
  ];
  const alarms: string[] = [];
  for (const [type, rule] of rules) {
    const a = await aodh('POST', '/v2/alarms', {
      name: `e2e-${type}`, type, [`${type}_rule`]: rule, severity: 'critical',
      alarm_actions: [hook(`alarm/${type}`)], ok_actions: [hook(`ok/${type}`)],
    }) as { alarm_id: string };
    alarms.push(a.alarm_id);
  }
  const post = async (value: number): Promise<void> => {
    const at = new Date().toISOString();
    await gnocchi.batch.resourcesMetricsMeasures(Object.fromEntries(ids.map((id) => [id, { cpu: [{ timestamp: at, value }] }])));
  };
  const states = async (): Promise<string[]> =>
    Promise.all(alarms.map(async (id) => (await aodh('GET', `/v2/alarms/${id}`) as { state: string }).state));
  const arrived = (current: string, n: number) => async (): Promise<boolean> => hooks.got.filter((g) => g.json.current === current).length >= n;

  // Trip: within an evaluation round of the measures being processed, one webhook per alarm.
  await post(1_000);
  await until('four alarm notifications', arrived('alarm', 4), 4_000);
  // Clear.
  await post(-100_000);
  await until('four ok notifications', arrived('ok', 4), 4_000);

  for (const g of hooks.got) {
    assert.equal(g.headers['content-type'], 'application/json');
    assert.match(g.requestId, /^req-[0-9a-f-]{36}$/);
    assert.deepEqual(Object.keys(g.json), ['alarm_name', 'alarm_id', 'severity', 'previous', 'current', 'reason', 'reason_data']);
    assert.ok(verifySignature(SECRET, g.body, { timestamp: g.headers[TIMESTAMP_HEADER] as string, signature: g.headers[SIGNATURE_HEADER] as string }));
    const i = alarms.indexOf(g.json.alarm_id);
    const type = rules[i][0];
    assert.equal(g.path, `/${g.json.current === 'alarm' ? 'alarm' : 'ok'}/${type}`, 'the tally-hmac-key parameter is not sent');
    assert.equal(g.json.alarm_name, `e2e-${type}`);
    assert.equal(g.json.severity, 'critical');
    if (type === 'composite') {
      assert.equal(g.json.reason_data.type, 'composite');
      assert.match(g.json.reason, /^Composite rule alarm with composition form: .* transition to (alarm|ok)/);
    } else {
      // Aodh's words, and the most recent value written as the float Python holds.
      const [word, value] = g.json.current === 'alarm' ? ['outside', '1000.0'] : ['inside', ''];
      assert.match(g.json.reason, new RegExp(`^Transition to ${g.json.current} due to 1 samples ${word} threshold, most recent: `));
      if (value) assert.match(g.body, /"most_recent": 1000\.0/);
      assert.equal(g.json.reason_data.type, 'threshold');
    }
  }
  assert.deepEqual(await states(), ['ok', 'ok', 'ok', 'ok']);

  // The receiver goes down; the alarms trip and clear again meanwhile.
  await hooks.down();
  const before = hooks.got.length;
  await post(10_000_000);
  await until('the alarms to trip', async () => (await states()).every((s) => s === 'alarm'));
  await post(-1e10);
  await until('the alarms to clear', async () => (await states()).every((s) => s === 'ok'));
  const pending = await aodh('GET', '/v2/deliveries?status=pending') as { alarm_id: string }[];
  assert.ok(pending.length >= 4, `notifications wait for the receiver (${pending.length} pending)`);
  await hooks.up();
  await until('every notification after the receiver came back', async () => hooks.got.length - before >= 8 && hooks.got);

  // Every state change the alarms recorded was announced, once per request id, in order per alarm.
  const byRequest = new Map<string, string>();
  for (const g of hooks.got) {
    const seen = byRequest.get(g.requestId);
    if (seen !== undefined) assert.equal(g.body.replace(/"reason_data".*/, ''), seen, 'a repeat carries the same notification');
    byRequest.set(g.requestId, g.body.replace(/"reason_data".*/, ''));
  }
  for (const [i, id] of alarms.entries()) {
    const history = (await aodh('GET', `/v2/alarms/${id}/history`) as { type: string; detail: string }[])
      .filter((h) => h.type === 'state transition').reverse().map((h) => (JSON.parse(h.detail) as { state: string }).state);
    const announced: string[] = [];
    for (const g of hooks.got) {
      if (g.json.alarm_id !== id) continue;
      if (announced.length && hooks.got.findIndex((x) => x.requestId === g.requestId) !== hooks.got.indexOf(g)) continue;
      announced.push(g.json.current);
    }
    assert.deepEqual(announced, history, `alarm ${rules[i][0]}: every transition announced once, in order`);
    assert.deepEqual(history, ['alarm', 'ok', 'alarm', 'ok']);
  }
  const delivered = await aodh('GET', '/v2/deliveries?status=delivered&limit=100') as unknown[];
  assert.equal(delivered.length, 16);
  assert.deepEqual(await aodh('GET', '/v2/deliveries?status=pending'), []);
});
