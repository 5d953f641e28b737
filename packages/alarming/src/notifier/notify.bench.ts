// Notification latency, from the start of the transaction that queues it to its arrival at
// a webhook receiver (node:http on localhost), on a SQLite index database: with the caller
// waking the notifier after its commit, and with the notifier only polling. Reference: the
// same POST made directly, without the outbox.
// Run: node packages/alarming/dist/notifier/notify.bench.js [notifications=300] [concurrent=4]
import http from 'node:http';
import { sleep } from '@tally/retry';
import { Notifier } from './notifier.js';
import { dialects, enqueueNow, notification, Receiver } from './test-support.js';

const [count = 300, concurrent = 4] = process.argv.slice(2).map(Number);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function report(name: string, lat: number[]): number {
  lat.sort((a, b) => a - b);
  console.log(`${name.padEnd(34)} p50 ${pct(lat, 0.5).toFixed(2).padStart(7)} ms   p99 ${pct(lat, 0.99).toFixed(2).padStart(7)} ms   (${lat.length})`);
  return pct(lat, 0.5);
}

async function viaOutbox(wake: boolean, pollIntervalMs: number): Promise<number[]> {
  const t = await dialects()[0].open();
  const rx = await new Receiver().listen();
  const started = new Map<string, number>();
  const arrived = new Map<string, () => void>();
  rx.reply = (r) => {
    arrived.get(r.headers['x-openstack-request-id'] as string)?.();
    return 200;
  };
  const notifier = new Notifier({ database: t.database, pollIntervalMs, concurrency: 16, perReceiverConcurrency: 8 });
  notifier.start();
  try {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < count) {
        next++;
        const n = notification({ actions: [rx.url()] });
        const received = new Promise<void>((resolve) => arrived.set(n.request_id, resolve));
        started.set(n.request_id, performance.now());
        await enqueueNow(t.database, n);
        if (wake) notifier.wake();
        await received;
        // Let the delivery's outcome be written first: a notification queued meanwhile would
        // be picked up by the round that write wakes, and polling would look faster than it is.
        await sleep(5);
      }
    };
    await Promise.all(Array.from({ length: concurrent }, lane));
    await rx.waitFor(count, 30_000);
  } finally {
    await notifier.stop();
    await rx.close();
    await t.done();
  }
  return rx.received.map((r) => r.at - (started.get(r.headers['x-openstack-request-id'] as string) ?? NaN));
}

async function direct(): Promise<number[]> {
  const rx = await new Receiver().listen();
  const agent = new http.Agent({ keepAlive: true });
  const lat: number[] = [];
  try {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next++ < count) {
        const t0 = performance.now();
        const before = rx.received.length;
        await new Promise<void>((resolve, reject) => {
          const req = http.request(rx.url(), { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end(JSON.stringify(notification()));
        });
        lat.push(rx.received[before].at - t0);
      }
    };
    await Promise.all(Array.from({ length: concurrent }, lane));
  } finally {
    agent.destroy();
    await rx.close();
  }
  return lat;
}

const ref = report('direct POST (reference)', await direct());
const woken = report('outbox, woken after commit', await viaOutbox(true, 1_000));
report('outbox, polling every 100 ms', await viaOutbox(false, 100));
console.log(`woken outbox / direct POST p50: ${(woken / ref).toFixed(1)}x`);
