// A notifier process killed (SIGKILL) while a delivery is in flight: another notifier takes
// the row over once the lease runs out and delivers it, with the same request id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Notifier } from './notifier.js';
import { listAttempts, listDeliveries } from './history.js';
import { dialects, enqueueNow, notification, Receiver, until } from './test-support.js';

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));

for (const d of dialects()) {
  test(`${d.name}: a notification in flight when its notifier is killed is still delivered`, async () => {
    const t = await d.open();
    const rx = await new Receiver().listen();
    // The first request is never answered: the doomed notifier is killed while waiting.
    rx.reply = () => (rx.received.length === 1 ? 'hang' : 200);
    const child = spawn(process.execPath, [CHILD, t.url, '1000', '1500'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let survivor: Notifier | null = null;
    try {
      const ready = await Promise.race([
        once(child.stdout, 'data').then(([b]) => String(b)),
        once(child, 'exit').then(([code]) => `exited with ${String(code)}`),
      ]);
      assert.equal(ready, 'ready\n');
      const n = notification({ actions: [rx.url()] });
      await enqueueNow(t.database, n);
      await rx.waitFor(1);
      const killed = once(child, 'exit');
      child.kill('SIGKILL');
      await killed;
      const [row] = await listDeliveries(t.database.db, { alarm_id: n.alarm_id });
      assert.equal(row.status, 'pending', 'the killed notifier recorded nothing');

      survivor = new Notifier({ database: await t.reopen(), id: 'survivor', timeoutMs: 1000, leaseMs: 1500, pollIntervalMs: 20 });
      const t0 = Date.now();
      survivor.start();
      await rx.waitFor(2, 10_000);
      await until(async () => (await listDeliveries(t.database.db, { alarm_id: n.alarm_id, status: 'delivered' })).length === 1, 5_000, 'delivered');
      assert.ok(Date.now() - t0 < 3_000, 'taken over once the lease ran out');
      assert.deepEqual(rx.received.map((r) => r.headers['x-openstack-request-id']), [n.request_id, n.request_id],
        'delivered again, with the same request id');
      assert.equal(rx.received[1].body, rx.received[0].body);
      const attempts = await listAttempts(t.database.db, { alarm_id: n.alarm_id });
      assert.deepEqual(attempts.map((a) => [a.notifier, a.outcome]), [['survivor', 'delivered']]);
    } finally {
      child.kill('SIGKILL');
      await survivor?.stop();
      await rx.close();
      await t.done();
    }
  });
}
