import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentConfig } from './config.js';
import type { Discovery, LogLevel, PollContext, Pollster, Sample } from './pollster.js';
import { SourceRunner } from './scheduler.js';

const source = (name: string, interval: number, timeout: number) =>
  parseAgentConfig(`sources:\n  - {name: ${name}, interval: ${interval}, timeout: ${timeout}, pollster: x, meters: ["a", "b"]}\n`).sources[0];

const sample = (meter: string): Sample => ({
  meter, unit: 'x', type: 'gauge', volume: 1, timestamp: BigInt(Date.now()) * 1_000_000n, resource: { id: 'r', type: 'generic', attributes: {} },
});

/** A pollster whose poll does what `poll` says; records the calls and their signals. */
function pollster(poll: (ctx: PollContext, n: number) => Promise<Sample[]>, close: () => Promise<void> = async () => undefined) {
  const calls: { at: number; signal: AbortSignal }[] = [];
  let closed = 0;
  const p: Pollster<string> = {
    name: 'test', meters: [], resourceTypes: [],
    discover: async (): Promise<Discovery<string>> => ({ targets: ['t'] }),
    poll: (ctx) => {
      calls.push({ at: Date.now(), signal: ctx.signal });
      return poll(ctx, calls.length);
    },
    close: async () => {
      closed++;
      await close();
    },
  };
  return { p, calls, closed: () => closed };
}

/**
 * The longest the event loop went without running a timer while it watched, in ms beyond
 * its 20 ms tick: on a loaded machine (CI runs test files side by side on two cores) a
 * process can be held for seconds, and every timer of the scheduler fires that late too.
 */
function loopStalls(): { stop: () => number } {
  let last = Date.now();
  let worst = 0;
  const tick = setInterval(() => {
    const now = Date.now();
    worst = Math.max(worst, now - last - 20);
    last = now;
  }, 20);
  return { stop: () => (clearInterval(tick), Math.max(worst, Date.now() - last - 20)) };
}

function logger() {
  const lines: { level: LogLevel; message: string; fields?: Record<string, unknown> }[] = [];
  return { lines, log: (level: LogLevel, message: string, fields?: Record<string, unknown>) => { lines.push({ level, message, fields }); } };
}

test('a pollster that ignores its signal is abandoned at the timeout and reported; another source goes on polling', async () => {
  const { lines, log } = logger();
  const hung = pollster((_ctx) => new Promise<Sample[]>(() => undefined));
  const good = pollster(async () => [sample('a'), sample('b'), sample('c')]);
  const published: Sample[][] = [];
  const t0 = Date.now();
  const stalls = loopStalls();
  const r1 = new SourceRunner({ source: source('hung', 1, 0.2), pollster: hung.p, log, publish: async () => undefined, random: () => 0, retryBaseMs: 10_000 });
  const r2 = new SourceRunner({ source: source('good', 1, 0.2), pollster: good.p, log, publish: async (s) => { published.push(s); }, random: () => 0 });
  r1.start();
  r2.start();
  await new Promise((r) => setTimeout(r, 3_300));
  await Promise.all([r1.stop(200), r2.stop(200)]);
  const stalled = stalls.stop();
  // The hung source: one call per slot until three are stuck, then slots are skipped.
  assert.equal(hung.calls.length, 3);
  assert.equal(r1.stats.timeouts, 3);
  assert.ok(r1.stats.skipped >= 1);
  assert.ok(hung.calls.every((c) => c.signal.aborted), 'each stuck call was told to stop');
  const timedOut = lines.filter((l) => l.message === 'pollster timed out');
  assert.equal(timedOut.length, 3);
  assert.equal(timedOut[0].fields?.source, 'hung');
  assert.equal(timedOut[0].level, 'error');
  // The good source polled on its phase (random 0: at start, then every second), unhindered:
  // late by no more than the process itself was held.
  assert.equal(good.calls.length, 4);
  good.calls.forEach((c, i) => assert.ok(Math.abs(c.at - t0 - i * 1000) < 150 + stalled, `cycle ${i} at ${c.at - t0} ms (event loop held up to ${stalled} ms)`));
  // Only the meters the source asks for are published.
  assert.deepEqual(published.map((s) => s.map((x) => x.meter)), Array(4).fill(['a', 'b']));
  assert.equal(r2.stats.cycles, 4);
  assert.equal(good.closed(), 1);
  assert.equal(hung.closed(), 1);
});

test('a pollster that throws is reported and retried with backoff within its interval', async () => {
  const { lines, log } = logger();
  const flaky = pollster(async (_ctx, n) => {
    if (n <= 2) throw new Error(`boom ${n}`);
    return [sample('a')];
  });
  const published: Sample[][] = [];
  const r = new SourceRunner({ source: source('flaky', 5, 1), pollster: flaky.p, log, publish: async (s) => { published.push(s); }, random: () => 0.999, retryBaseMs: 100 });
  // random 0.999 puts the first slot at ~5 s; retries come after backoff delays drawn from the same source.
  const t0 = Date.now();
  r.start();
  await new Promise((res) => setTimeout(res, 5_600));
  await r.stop();
  assert.equal(flaky.calls.length, 3);
  assert.ok(flaky.calls[0].at - t0 > 4_900);
  assert.ok(flaky.calls[2].at - flaky.calls[0].at < 500, 'retried within the interval, not at the next slot');
  assert.equal(r.stats.errors, 2);
  assert.equal(r.stats.cycles, 1);
  assert.equal(published.length, 1);
  assert.deepEqual(lines.filter((l) => l.message === 'cycle failed').map((l) => l.fields?.error), ['boom 1', 'boom 2']);
});

test('stop aborts a poll in flight and gives up on a pollster whose close hangs', async () => {
  const { lines, log } = logger();
  let aborted = false;
  const slow = pollster((ctx) => new Promise<Sample[]>((_res, rej) => {
    ctx.signal.addEventListener('abort', () => { aborted = true; rej(new Error('aborted')); });
  }), () => new Promise<void>(() => undefined));
  const r = new SourceRunner({ source: source('slow', 60, 30), pollster: slow.p, log, publish: async () => undefined, random: () => 0 });
  r.start();
  await new Promise((res) => setTimeout(res, 100));
  const t0 = Date.now();
  await r.stop(300);
  assert.ok(aborted);
  assert.ok(Date.now() - t0 < 1_000);
  assert.equal(r.stats.errors, 0, 'a poll cut by stop is not an error');
  assert.ok(lines.some((l) => l.message === 'pollster did not close in time: abandoned'));
});
