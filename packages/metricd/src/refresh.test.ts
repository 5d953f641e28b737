import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { serveRefreshes } from './refresh.js';

test('refresh requests sent while the processor is still opening wait for it and are all answered', async () => {
  const { port1, port2 } = new MessageChannel();
  const refreshed: string[] = [];
  let open: (p: { refreshMetric(id: string): Promise<void> }) => void = () => undefined;
  const opening = new Promise<{ refreshMetric(id: string): Promise<void> }>((resolve) => { open = resolve; });
  const drained = serveRefreshes(port1, opening);
  const answers: unknown[] = [];
  port2.on('message', (m) => answers.push(m));
  port2.postMessage({ type: 'refresh', id: 1, metricId: 'a' });
  port2.postMessage({ type: 'refresh', id: 2, metricId: 'b' });
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(answers, [], 'nothing answered before the processor is open');
  open({ refreshMetric: async (id) => { refreshed.push(id); } });
  await new Promise((r) => setTimeout(r, 30));
  await drained();
  assert.deepEqual(refreshed.sort(), ['a', 'b']);
  assert.deepEqual((answers as { id: number; error?: unknown }[]).map((a) => [a.id, a.error]).sort(), [[1, undefined], [2, undefined]]);
  port1.close();
  port2.close();
});
