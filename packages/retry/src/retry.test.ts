import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AbortedError, Backoff, eachLimited, retry, sleep } from './index.js';

test('backoff ceilings double from the base up to the bound, delays stay under them', () => {
  const b = new Backoff({ baseMs: 10, maxMs: 100, random: () => 0.999 });
  const ceilings: number[] = [];
  for (let i = 0; i < 6; i++) {
    const c = b.ceiling;
    ceilings.push(c);
    const d = b.next();
    assert.ok(d < c && d >= 0.99 * c);
  }
  assert.deepEqual(ceilings, [10, 20, 40, 80, 100, 100]);
  b.reset();
  assert.equal(b.ceiling, 10);
});

test('backoff stays finite after very many attempts', () => {
  const b = new Backoff({ baseMs: 1, maxMs: 7 });
  for (let i = 0; i < 5000; i++) assert.ok(b.next() < 7);
});

test('retry returns the first success and reports each wait', async () => {
  const seen: number[] = [];
  const r = await retry(async (n) => {
    if (n < 3) throw new Error(`fail ${n}`);
    return n * 10;
  }, { baseMs: 1, maxMs: 2, onRetry: (_e, n) => seen.push(n) });
  assert.equal(r, 30);
  assert.deepEqual(seen, [1, 2]);
});

test('retry gives up after its attempts with the last error, and at once on a non-retryable one', async () => {
  let calls = 0;
  await assert.rejects(retry(async (n) => { calls++; throw new Error(`fail ${n}`); }, { attempts: 4, baseMs: 1, maxMs: 1 }), /fail 4/);
  assert.equal(calls, 4);
  calls = 0;
  await assert.rejects(
    retry(async () => { calls++; throw new TypeError('fatal'); }, { attempts: 4, baseMs: 1, retryable: (e) => !(e instanceof TypeError) }),
    TypeError,
  );
  assert.equal(calls, 1);
});

test('sleep rejects when aborted, before or during the wait', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  const p = sleep(5_000, ac.signal);
  setTimeout(() => ac.abort(), 10);
  await assert.rejects(p, AbortedError);
  assert.ok(Date.now() - t0 < 2_000);
  await assert.rejects(sleep(1, ac.signal), AbortedError);
});

test('eachLimited keeps at most `limit` in flight, starts nothing after a failure, and throws only once the started ones settled', async () => {
  let inFlight = 0;
  let most = 0;
  const started: number[] = [];
  let slowDone = false;
  const run = eachLimited([0, 1, 2, 3, 4, 5], 2, async (i) => {
    started.push(i);
    inFlight++;
    most = Math.max(most, inFlight);
    try {
      if (i === 0) {
        await sleep(30);
        slowDone = true;
      } else if (i === 1) {
        await sleep(5);
        throw new Error('item 1 failed');
      }
    } finally {
      inFlight--;
    }
  });
  await assert.rejects(run, /item 1 failed/);
  assert.ok(slowDone, 'the slow item settled before the error was thrown');
  assert.deepEqual(started, [0, 1]);
  assert.equal(most, 2);
  const all: number[] = [];
  await eachLimited([1, 2, 3, 4, 5], 3, async (i) => { all.push(i); });
  assert.deepEqual(all.sort(), [1, 2, 3, 4, 5]);
});
