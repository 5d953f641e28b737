import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileIncomingStore } from '@tally/incoming';
import type { Processor } from './processor.js';
import { runWorker } from './worker.js';

test('an idle worker scans as soon as measures are added, not at the end of its pause', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-worker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const incoming = new FileIncomingStore({ dir, sacks: 2 });
  const scans: number[] = [];
  let listed = 0;
  // Only what the loop uses: the sack count and one sack's processing (here: a count of
  // the batches waiting, so that the loop sees work and then idles).
  const processor = {
    sacks: incoming.sacks,
    processSack: async (sack: number) => {
      if (sack === 0) scans.push(Date.now());
      const ids = await incoming.listBatches(sack);
      const fresh = ids.length - (sack === 0 ? listed : 0);
      if (sack === 0) listed = ids.length;
      return { batches: ids.length, metrics: 0, measures: Math.max(0, fresh), quarantined: 0 };
    },
  } as unknown as Processor;
  const abort = new AbortController();
  const loop = runWorker({ processor, intervalMs: 60_000, signal: abort.signal, watch: (onNew) => incoming.watch(onNew) });
  // Let it go idle: a pause of 10 ms, then 20, 40 ... up to a minute.
  await new Promise((r) => setTimeout(r, 700));
  const before = scans.length;
  const added = Date.now();
  const metric = '5a301761-f78b-46e2-8900-8b4f6fe6f3c5';
  await incoming.add(new Map([[metric, { ts: BigInt64Array.of(1n), values: Float64Array.of(1) }]]));
  for (let i = 0; i < 100 && scans.length === before; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(scans.length > before, 'scanned after the add');
  // The pause under way when the add came was 640 ms long (10, 20, ... doubling): without
  // a wake the scan would come hundreds of milliseconds later.
  assert.ok(scans[before] - added < 300, `woken ${scans[before] - added} ms after the add`);
  abort.abort();
  await loop;
  await incoming.close();
});

test('a worker given its sacks visits only those, and every sack once per sweep', async () => {
  const visits = new Map<number, number>();
  let scans = 0;
  const processor = {
    sacks: 6,
    processSack: async (sack: number) => {
      visits.set(sack, (visits.get(sack) ?? 0) + 1);
      return { batches: 0, metrics: 0, measures: 0, quarantined: 0 };
    },
  } as unknown as Processor;
  const abort = new AbortController();
  let owned: ReadonlySet<number> = new Set([1, 4]);
  const loop = runWorker({
    processor, intervalMs: 1, signal: abort.signal, owned: () => owned, sweepEvery: 4,
    onScan: () => {
      if (++scans === 8) abort.abort();
    },
  });
  await loop;
  // 8 scans: two of them sweeps (every sack once each), six over sacks 1 and 4 only.
  assert.deepEqual([...visits.keys()].sort(), [0, 1, 2, 3, 4, 5]);
  for (const s of [0, 2, 3, 5]) assert.equal(visits.get(s), 2, `sack ${s} visited by the sweeps only`);
  assert.equal(visits.get(1), 8);
  assert.equal(visits.get(4), 8);
  // Ownership is read at each scan: a change applies from the next one.
  visits.clear();
  owned = new Set([2]);
  scans = 0;
  const abort2 = new AbortController();
  await runWorker({ processor, intervalMs: 1, signal: abort2.signal, owned: () => owned, sweepEvery: 100, onScan: () => { if (++scans === 3) abort2.abort(); } });
  assert.deepEqual([...visits.entries()], [[2, 3]]);
});

test('a woken worker scans once the burst of new measures pauses, or after settleMaxMs if it does not', async (t) => {
  const scans: number[] = [];
  const processor = {
    sacks: 1,
    processSack: async () => {
      scans.push(performance.now());
      return { batches: 0, metrics: 0, measures: 0, quarantined: 0 };
    },
  } as unknown as Processor;
  let wake: () => void = () => undefined;
  const abort = new AbortController();
  // A failed assertion must not leave the loop in its minute-long pause.
  t.after(() => abort.abort());
  const loop = runWorker({
    processor, intervalMs: 60_000, settleMs: 80, settleMaxMs: 400, signal: abort.signal,
    watch: (onNew) => {
      wake = onNew;
      return () => undefined;
    },
  });
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  // Idle: its pause has grown far beyond the test's length.
  await sleep(700);
  const waitScan = async (after: number): Promise<number> => {
    for (let i = 0; i < 200 && scans.length === after; i++) await sleep(5);
    assert.ok(scans.length > after, 'scanned');
    return scans[after];
  };

  // A burst of wakes 20 ms apart for 200 ms: no scan during it, one once it is 80 ms quiet.
  let before = scans.length;
  let last = 0;
  for (let i = 0; i < 10; i++) {
    wake();
    last = performance.now();
    await sleep(20);
    assert.equal(scans.length, before, `no scan while the burst goes on (${i})`);
  }
  let scanned = await waitScan(before);
  assert.ok(scanned - last >= 79, `scanned ${(scanned - last).toFixed(0)} ms after the last wake`);
  assert.ok(scanned - last < 1000, 'and not at the end of the idle pause');

  // Wakes that never pause: the scan comes after settleMaxMs all the same.
  await sleep(300);
  before = scans.length;
  const first = performance.now();
  let stop = false;
  const burst = (async () => {
    while (!stop) {
      wake();
      await sleep(10);
    }
  })();
  scanned = await waitScan(before);
  stop = true;
  await burst;
  assert.ok(scanned - first >= 399, `scanned ${(scanned - first).toFixed(0)} ms into an endless burst`);
  assert.ok(scanned - first < 1500, `scanned ${(scanned - first).toFixed(0)} ms into an endless burst, not never`);
  abort.abort();
  await loop;
});
