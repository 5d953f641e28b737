import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { FileIncomingStore, type Measures } from '@tally/incoming';
import { FileAggregateStorage, type AggregateStorage, type CommitChange, type FileAggregateStorageOptions } from '@tally/storage';
import { LocalCoordinator, LockLostError, type Coordinator, type Lock } from '@tally/coordination';
import { makeArchivePolicyItem, readMeasures, type ArchivePolicy } from '@tally/timeseries';
import { Processor, type Logger } from './index.js';

const SECOND = 1_000_000_000n;
const BASE = 1_700_000_000n * SECOND;
const POLICY: ArchivePolicy = {
  name: 'exact', backWindow: 1_000_000, aggregationMethods: ['count', 'sum'],
  definition: [makeArchivePolicyItem({ granularity: SECOND, points: 1_000_000 })],
};

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-metricd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Measure i of a metric: its own second, value 2i+1, so the stored count and sum per
 * second say exactly which measures were folded in and how many times.
 */
function span(first: number, n: number): Measures {
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    ts[j] = BASE + BigInt(first + j) * SECOND;
    values[j] = 2 * (first + j) + 1;
  }
  return { ts, values };
}

/** What was sent, per metric: the measure indexes. */
class Ledger {
  readonly sent = new Map<string, number[]>();
  readonly #next = new Map<string, number>();
  constructor(readonly metrics: string[]) {}

  /** The next `n` measures of each metric, as one add. */
  take(metrics: string[], n: number): Map<string, Measures> {
    const out = new Map<string, Measures>();
    for (const m of metrics) {
      const first = this.#next.get(m) ?? 0;
      this.#next.set(m, first + n);
      const list = this.sent.get(m) ?? [];
      for (let i = first; i < first + n; i++) list.push(i);
      this.sent.set(m, list);
      out.set(m, span(first, n));
    }
    return out;
  }
}

interface Node {
  incoming: FileIncomingStore;
  storage: FileAggregateStorage;
  coordinator: LocalCoordinator;
  processor: Processor;
}

type Hook = (op: string, path: string) => void | Promise<void>;

/** Steps of processing a kill can fall before; the writes and links of ingest are not. */
const processing = (op: string): boolean => op !== 'write' && op !== 'link';

/**
 * Records `metric/batch` for every batch a commit folded into a metric, once the commit
 * is done. Folding a batch twice does not always show in the aggregates (the engine
 * keeps one value per timestamp), so the folds themselves are what exactly-once is
 * checked on.
 */
function recording(storage: AggregateStorage, folds: string[]): AggregateStorage {
  return aroundCommits(storage, async (commit, change, id) => {
    await commit();
    for (const batch of change.applied) folds.push(`${id}/${batch}`);
  });
}

/** The node's coordinator, its locks' signal being `lost`'s (a server driver aborts it when the lease or session behind a lock is gone). */
function losingCoordinator(n: Node, lost: AbortController): Coordinator {
  const withSignal = (lock: Lock | null): Lock | null => lock && { signal: lost.signal, release: () => lock.release() };
  return {
    tryLock: async (name) => withSignal(await n.coordinator.tryLock(name)),
    lock: async (name, opts) => withSignal(await n.coordinator.lock(name, opts)) as Lock,
    close: () => n.coordinator.close(),
  };
}

/** `storage` with each commit run by `around`, given the commit to run, its change and the metric. */
function aroundCommits(storage: AggregateStorage,
                       around: (commit: () => Promise<void>, change: CommitChange, metricId: string) => Promise<void>): AggregateStorage {
  return {
    read: (id) => storage.read(id),
    readSplit: (id, key) => storage.readSplit(id, key),
    deleteMetric: (id) => storage.deleteMetric(id),
    close: () => storage.close(),
    update: async (id, options) => {
      const u = await storage.update(id, options);
      return { ...u, commit: (change) => around(() => u.commit(change), change, id) };
    },
  };
}

/** The components one process opens on the data folder. */
function openNode(dir: string, o: { hook?: Hook; log?: Logger; maxBatchesPerRound?: number; folds?: string[] } = {}): Node {
  const incoming = new FileIncomingStore({ dir: join(dir, 'incoming'), sacks: 4, faultHook: o.hook });
  const storage = new FileAggregateStorage({ dir: join(dir, 'storage'), faultHook: o.hook as FileAggregateStorageOptions['faultHook'] });
  const coordinator = new LocalCoordinator({ dir: join(dir, 'locks') });
  const policies = async (ids: string[]): Promise<Map<string, ArchivePolicy>> => new Map(ids.map((id) => [id, POLICY]));
  const processor = new Processor({
    incoming, storage: recording(storage, o.folds ?? []), coordinator, policies, log: o.log, maxBatchesPerRound: o.maxBatchesPerRound,
  });
  return { incoming, storage, coordinator, processor };
}

function assertNoRepeat(folds: string[], why: string): void {
  const seen = new Set<string>();
  for (const f of folds) {
    assert.ok(!seen.has(f), `${why}: batch folded twice into a metric (${f})`);
    seen.add(f);
  }
}

async function closeNode(n: Node): Promise<void> {
  await n.incoming.close();
  await n.storage.close();
  await n.coordinator.close();
}

async function processAll(n: Node): Promise<void> {
  for (let s = 0; s < n.processor.sacks; s++) await n.processor.processSack(s, { wait: true });
}

/** Count and sum per measure index, as stored. */
async function stored(storage: FileAggregateStorage, metricId: string): Promise<Map<number, { count: number; sum: number }>> {
  const rec = await storage.read(metricId);
  const out = new Map<number, { count: number; sum: number }>();
  if (rec.state === null) return out;
  const read = (aggregation: string) => readMeasures(POLICY, rec.state, { aggregation, granularity: SECOND }, (k) => storage.readSplit(metricId, k));
  const [counts, sums] = [await read('count'), await read('sum')];
  for (let i = 0; i < counts.ts.length; i++) {
    out.set(Number((counts.ts[i] - BASE) / SECOND), { count: counts.values[i], sum: sums.values[i] });
  }
  return out;
}

/** Every measure of `expected` stored exactly once with its own value, and nothing else. */
async function assertExactlyOnce(storage: FileAggregateStorage, expected: Map<string, number[]>, why: string): Promise<void> {
  for (const [metric, indexes] of expected) {
    const got = await stored(storage, metric);
    assert.deepEqual([...got.keys()].sort((a, b) => a - b), [...indexes].sort((a, b) => a - b), `${why}: measures of ${metric}`);
    for (const [i, { count, sum }] of got) {
      assert.equal(count, 1, `${why}: ${metric} measure ${i} counted ${count} times`);
      assert.equal(sum, 2 * i + 1, `${why}: ${metric} measure ${i} sum`);
    }
  }
}

/** Several adds, each touching several sacks. */
async function ingest(incoming: FileIncomingStore, ledger: Ledger, adds: number): Promise<void> {
  for (let a = 0; a < adds; a++) {
    await incoming.add(ledger.take(ledger.metrics.filter((_, i) => (i + a) % 3 !== 0), 2 + (a % 3)));
  }
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

test('a processor killed at any step and a new one started: every measure counted exactly once', async (t) => {
  const metrics = Array.from({ length: 6 }, () => randomUUID());
  // A clean run counts the steps (batch deletes, pack writes, renames) a kill can fall before.
  let steps = 0;
  {
    const dir = tempDir(t);
    const ledger = new Ledger(metrics);
    const n = openNode(dir, { hook: (op) => void (steps += processing(op) ? 1 : 0) });
    await ingest(n.incoming, ledger, 5);
    await processAll(n);
    await closeNode(n);
    assert.ok(steps > 10, `${steps} steps`);
  }
  for (let kill = 1; kill <= steps; kill++) {
    const dir = tempDir(t);
    const ledger = new Ledger(metrics);
    const folds: string[] = [];
    // Two processes die in turn, at the kill-th step of each; a third finishes the work.
    for (const round of [0, 1]) {
      let calls = 0;
      let died: () => void = () => undefined;
      const dead = new Promise<void>((resolve) => (died = resolve));
      // From the kill on, every step of the dead process waits forever, as a killed one would.
      const hook: Hook = (op) => {
        if (!processing(op) || ++calls < kill) return;
        died();
        return new Promise<void>(() => undefined);
      };
      const n = openNode(dir, { hook, folds });
      if (round === 0) await ingest(n.incoming, ledger, 5);
      else await n.incoming.add(ledger.take(metrics, 3)); // more work arriving after the crash
      // Past its last step the process finishes instead.
      await Promise.race([dead, processAll(n)]);
      await settle();
      // The kernel drops a dead process's locks; its other handles are simply abandoned.
      await n.coordinator.close();
    }
    const survivor = openNode(dir, { folds });
    await processAll(survivor);
    assertNoRepeat(folds, `kill at step ${kill}`);
    await assertExactlyOnce(survivor.storage, ledger.sent, `kill at step ${kill}`);
    const backlog = await survivor.incoming.backlog();
    assert.equal(backlog.measures, 0, `kill at step ${kill}: backlog drained`);
    await closeNode(survivor);
  }
});

test('a corrupt or torn batch is quarantined, once; the sack, its later batches and the other sacks go on', async (t) => {
  const dir = tempDir(t);
  const metrics = Array.from({ length: 16 }, () => randomUUID());
  const ledger = new Ledger(metrics);
  const errors: Array<{ sack: number; batch: string }> = [];
  const log: Logger = {
    info: () => undefined,
    warn: () => undefined,
    error: (obj) => void errors.push(obj as { sack: number; batch: string }),
  };
  const n = openNode(dir, { log, maxBatchesPerRound: 2 });
  const sackOf = (m: string): number => n.incoming.sackOf(m);
  const sacks = [...new Set(metrics.map(sackOf))].sort();
  assert.ok(sacks.length >= 3, 'the metrics span several sacks');
  const sentBy: Array<Map<string, Measures>> = [];
  for (let b = 0; b < 5; b++) {
    const add = ledger.take(metrics, 4);
    sentBy.push(add);
    await n.incoming.add(add);
  }
  const batchIds = await n.incoming.listBatches(sacks[0]);
  assert.equal(batchIds.length, 5);
  const file = (sack: number, b: number): string => join(dir, 'incoming', `sack-${sack}`, batchIds[b]);
  // Batch 1: one byte flipped in the last value of sack[1]'s range (that sack only).
  const flipped = sacks[1];
  const bytes = readFileSync(file(flipped, 1));
  // Entries are sorted by sack: the sacks after it hold the end of the file.
  const rangeEnd = bytes.length - metrics.filter((m) => sackOf(m) > flipped).length * 4 * 16;
  bytes[rangeEnd - 2] ^= 0x20;
  writeFileSync(file(flipped, 1), bytes);
  // Batch 3: torn (truncated), which every sack's link to the file sees.
  truncateSync(file(sacks[0], 3), readFileSync(file(sacks[0], 3)).length - 100);
  const torn = readFileSync(file(sacks[0], 3));

  for (let s = 0; s < n.processor.sacks; s++) await n.processor.processSack(s);
  // Lost: sack `flipped`'s share of batch 1, and all of batch 3. Nothing else.
  const expected = new Map<string, number[]>();
  for (const m of metrics) {
    const lost = new Set([12, 13, 14, 15, ...(sackOf(m) === flipped ? [4, 5, 6, 7] : [])]);
    expected.set(m, (ledger.sent.get(m) ?? []).filter((i) => !lost.has(i)));
  }
  await assertExactlyOnce(n.storage, expected, 'after quarantine');
  const backlog = await n.incoming.backlog();
  assert.deepEqual(backlog, { metrics: 0, measures: 0, perMetric: null, quarantined: 2, parkedMeasures: 0, parkedMetrics: 0 });
  const quarantine = readdirSync(join(dir, 'incoming', 'quarantine')).sort();
  assert.deepEqual(quarantine, [
    `${batchIds[1]}.sack-${flipped}`, ...sacks.map((s) => `${batchIds[3]}.sack-${s}`),
  ].sort());
  assert.ok(readFileSync(join(dir, 'incoming', 'quarantine', `${batchIds[1]}.sack-${flipped}`)).equals(bytes), 'kept intact');
  assert.ok(readFileSync(join(dir, 'incoming', 'quarantine', `${batchIds[3]}.sack-${sacks[0]}`)).equals(torn));
  assert.deepEqual(errors.map((e) => `${e.batch}/${e.sack}`).sort(), quarantine.map((q) => q.replace('.sack-', '/')));
  // Later passes have nothing left to complain about: logged once.
  await n.incoming.add(ledger.take(metrics, 1));
  for (let s = 0; s < n.processor.sacks; s++) await n.processor.processSack(s);
  assert.equal(errors.length, quarantine.length);
  for (const m of metrics) expected.get(m)?.push(20);
  await assertExactlyOnce(n.storage, expected, 'after a later batch');
  await closeNode(n);
});

test('two processors on one data folder, same sacks, racing ingest: nothing counted twice or lost', async (t) => {
  const dir = tempDir(t);
  const metrics = Array.from({ length: 12 }, () => randomUUID());
  const ledger = new Ledger(metrics);
  const writer = openNode(dir);
  const folds: string[] = [];
  const a = openNode(dir, { maxBatchesPerRound: 3, folds });
  const b = openNode(dir, { maxBatchesPerRound: 3, folds });
  let ingesting = true;
  const folded = { a: 0, b: 0 };
  const loop = async (n: Node, who: 'a' | 'b'): Promise<void> => {
    for (;;) {
      const last = !ingesting;
      for (let s = 0; s < n.processor.sacks; s++) {
        // Both try every sack; one of them refreshes the way GET ?refresh=true does.
        const r = who === 'b' && s % 2 === 0
          ? await n.processor.processSack(s, { wait: true })
          : await n.processor.processSack(s);
        folded[who] += r?.measures ?? 0;
      }
      if (last) return;
      await new Promise((r) => setImmediate(r));
    }
  };
  const workers = [loop(a, 'a'), loop(b, 'b')];
  for (let i = 0; i < 40; i++) {
    const chosen = metrics.filter((_, j) => (i * 7 + j) % 4 !== 0);
    await Promise.all([writer.incoming.add(ledger.take(chosen.slice(0, 5), 3)), writer.incoming.add(ledger.take(chosen.slice(5), 2))]);
  }
  ingesting = false;
  await Promise.all(workers);
  await processAll(a); // what arrived during the last scan of both
  const total = [...ledger.sent.values()].reduce((x, l) => x + l.length, 0);
  assertNoRepeat(folds, 'two processors');
  await assertExactlyOnce(a.storage, ledger.sent, 'two processors');
  assert.equal((await writer.incoming.backlog()).measures, 0);
  assert.ok(folded.a + folded.b <= total, `folded ${folded.a} + ${folded.b} of ${total}`);
  for (const n of [writer, a, b]) await closeNode(n);
});

test('a fold that fails while another is still committing: the sack lock is released only after that commit', async (t) => {
  const dir = tempDir(t);
  const sackOf = new FileIncomingStore({ dir: join(dir, 'incoming'), sacks: 4 });
  // Two metrics of one sack, so that one round folds both at once.
  const failing = randomUUID();
  let slow = randomUUID();
  while (sackOf.sackOf(slow) !== sackOf.sackOf(failing)) slow = randomUUID();
  await sackOf.close();
  const events: string[] = [];
  let failed: () => void = () => undefined;
  const didFail = new Promise<void>((r) => (failed = r));
  let waiting: () => void = () => undefined;
  const isWaiting = new Promise<void>((r) => (waiting = r));
  let open: () => void = () => undefined;
  const gate = new Promise<void>((r) => (open = r));
  const hook: Hook = async (op, path) => {
    if (path.includes(failing)) {
      failed();
      throw new Error('disk says no');
    }
    if (path.includes(slow) && op === 'rename') {
      waiting();
      await gate;
    }
  };
  const n = openNode(dir, { hook });
  const base = n.coordinator;
  const coordinator: Coordinator = {
    tryLock: async (name) => watched(await base.tryLock(name)),
    lock: async (name, opts) => watched(await base.lock(name, opts)) as Lock,
    close: () => base.close(),
  };
  function watched(lock: Lock | null): Lock | null {
    return lock && { signal: lock.signal, release: async () => { events.push('released'); await lock.release(); } };
  }
  const storage: AggregateStorage = {
    read: (id) => n.storage.read(id),
    readSplit: (id, key) => n.storage.readSplit(id, key),
    deleteMetric: (id) => n.storage.deleteMetric(id),
    close: () => n.storage.close(),
    update: async (id) => {
      const u = await n.storage.update(id);
      return { ...u, commit: async (change) => { await u.commit(change); events.push(`committed ${id === slow ? 'slow' : 'failing'}`); } };
    },
  };
  const policies = async (ids: string[]): Promise<Map<string, ArchivePolicy>> => new Map(ids.map((id) => [id, POLICY]));
  const processor = new Processor({ incoming: n.incoming, storage, coordinator, policies });
  await n.incoming.add(new Map([[failing, span(0, 3)], [slow, span(0, 3)]]));

  const outcome = processor.processSack(n.incoming.sackOf(slow), { wait: true }).then(() => null, (err: unknown) => err);
  await Promise.all([didFail, isWaiting]);
  await settle(); // time for a premature release to happen
  const beforeGate = [...events];
  open();
  const err = await outcome;
  assert.equal((err as Error | null)?.message, 'disk says no', 'the first error is thrown');
  assert.deepEqual(beforeGate, [], 'nothing released while the slow commit is in flight');
  assert.deepEqual(events, ['committed slow', 'released']);
  // The batch stays in incoming for the failed metric; the slow one's fold is kept.
  assert.equal((await n.incoming.listBatches(n.incoming.sackOf(slow))).length, 1);
  assert.equal((await stored(n.storage, slow)).size, 3);
  await closeNode(n);
});

test('a sack lock lost between rounds: no further round runs under it, the rest waits for the next holder', async (t) => {
  const n = openNode(tempDir(t));
  const metric = randomUUID();
  const sack = n.incoming.sackOf(metric);
  for (let i = 0; i < 3; i++) await n.incoming.add(new Map([[metric, span(i * 10, 10)]]));
  const lost = new AbortController();
  const coordinator = losingCoordinator(n, lost);
  let commits = 0;
  const storage = aroundCommits(n.storage, async (commit) => {
    await commit();
    commits++;
    lost.abort(new LockLostError(`sack-${sack}`, 'lease expired'));
  });
  const policies = async (ids: string[]): Promise<Map<string, ArchivePolicy>> => new Map(ids.map((id) => [id, POLICY]));
  const processor = new Processor({ incoming: n.incoming, storage, coordinator, policies, maxBatchesPerRound: 1 });
  await assert.rejects(processor.processSack(sack), LockLostError);
  assert.equal(commits, 1, 'nothing folded after the loss');
  assert.equal((await n.incoming.listBatches(sack)).length, 2);
  await n.processor.processSack(sack, { wait: true });
  assert.equal((await n.incoming.listBatches(sack)).length, 0, 'the next holder folds the rest');
  assert.equal((await stored(n.storage, metric)).size, 30);
  await closeNode(n);
});

test('a sack lock lost during a round: no metric of the round commits after the loss, the next holder folds them', async (t) => {
  const n = openNode(tempDir(t));
  const first = randomUUID();
  const sack = n.incoming.sackOf(first);
  const metrics = [first];
  while (metrics.length < 4) {
    const id = randomUUID();
    if (n.incoming.sackOf(id) === sack) metrics.push(id);
  }
  await n.incoming.add(new Map(metrics.map((id) => [id, span(0, 5)])));
  const lost = new AbortController();
  const coordinator = losingCoordinator(n, lost);
  let tried = 0;
  let committed = 0;
  const storage = aroundCommits(n.storage, async (commit) => {
    // The second fold reaches its commit past the processor's look at the signal: the
    // lock goes then, and the storage is what must refuse to publish.
    if (++tried === 2) lost.abort(new LockLostError(`sack-${sack}`, 'lease expired'));
    await commit();
    committed++;
  });
  const policies = async (ids: string[]): Promise<Map<string, ArchivePolicy>> => new Map(ids.map((id) => [id, POLICY]));
  const processor = new Processor({ incoming: n.incoming, storage, coordinator, policies, concurrency: 1 });
  await assert.rejects(processor.processSack(sack), LockLostError);
  assert.equal(committed, 1, 'only the fold committed before the loss');
  assert.equal(tried, 2, 'no fold starts after the loss');
  const folded = await Promise.all(metrics.map(async (id) => (await n.storage.read(id)).applied.size));
  assert.deepEqual(folded.sort(), [0, 0, 0, 1]);
  assert.equal((await n.incoming.listBatches(sack)).length, 1, 'the batch stays for the next holder');
  await n.processor.processSack(sack, { wait: true });
  assert.equal((await n.incoming.listBatches(sack)).length, 0);
  for (const id of metrics) assert.equal((await stored(n.storage, id)).size, 5, 'each metric folded once, whoever folded it');
  await closeNode(n);
});

test('a metric whose aggregates fail their checks: its measures are parked, the sack goes on; once repaired they are folded once', async (t) => {
  const dir = tempDir(t);
  const n = openNode(dir);
  const broken = randomUUID();
  const sack = n.incoming.sackOf(broken);
  const healthy: string[] = [];
  while (healthy.length < 2) {
    const id = randomUUID();
    if (n.incoming.sackOf(id) === sack) healthy.push(id);
  }
  const ledger = new Ledger([broken, ...healthy]);
  const errors: Array<{ metric?: string; msg?: string }> = [];
  const log: Logger = { info: () => undefined, warn: () => undefined, error: (o, msg) => errors.push({ ...(o as { metric?: string }), msg }) };
  const policies = async (ids: string[]): Promise<Map<string, ArchivePolicy>> => new Map(ids.map((id) => [id, POLICY]));
  const processor = new Processor({ incoming: n.incoming, storage: n.storage, coordinator: n.coordinator, policies, log, parkedRetryMs: 3_600_000 });
  await n.incoming.add(ledger.take([broken, ...healthy], 5));
  await processor.processSack(sack, { wait: true });

  // Damage a record of the broken metric's last pack (the open splits the next fold reads).
  const mdir = join(dir, 'storage', broken.slice(0, 2), broken);
  const pack = join(mdir, readlinkSync(join(mdir, 'manifest')));
  const good = readFileSync(pack);
  const bad = Buffer.from(good);
  bad[24] ^= 0xff;
  writeFileSync(pack, bad);

  await n.incoming.add(ledger.take([broken, ...healthy], 5));
  const r = await processor.processSack(sack, { wait: true });
  assert.equal(r?.parked, 1);
  assert.deepEqual(await n.incoming.listBatches(sack), [], 'the batch is deleted: the sack goes on');
  const parked = await n.incoming.listParked(sack);
  assert.deepEqual(parked.map((e) => e.metricId), [broken]);
  assert.equal(errors.filter((e) => e.metric === broken).length, 1, 'logged');
  // Before its next try, the metric's new measures are parked behind the others, not folded.
  await n.incoming.add(ledger.take([broken, healthy[0]], 5));
  await processor.processSack(sack, { wait: true });
  assert.equal((await n.incoming.listParked(sack)).length, 2);
  assert.equal(errors.filter((e) => e.metric === broken).length, 1, 'logged once, not on every round');
  const backlog = await n.incoming.backlog({ perMetric: true });
  assert.deepEqual([backlog.measures, backlog.parkedMeasures, backlog.parkedMetrics, backlog.perMetric?.get(broken)], [10, 10, 1, 10]);
  await assertExactlyOnce(n.storage, new Map(healthy.map((id) => [id, ledger.sent.get(id) as number[]])), 'the healthy metrics');

  // Repaired; a new processor tries at once (the pause is per process).
  writeFileSync(pack, good);
  const next = new Processor({ incoming: n.incoming, storage: n.storage, coordinator: n.coordinator, policies, log });
  const folded = await next.processSack(sack);
  assert.equal(folded?.measures, 10);
  assert.equal(folded?.parked, 0);
  assert.deepEqual(await n.incoming.listParked(sack), []);
  assert.equal((await n.incoming.backlog()).measures, 0);
  await assertExactlyOnce(n.storage, ledger.sent, 'after the repair');
  await closeNode(n);
});

test('parked measures left by a crash (batch not yet deleted, or folded but not yet unparked) are folded once', async (t) => {
  const n = openNode(tempDir(t));
  const a = randomUUID();
  const sack = n.incoming.sackOf(a);
  let b = randomUUID();
  while (n.incoming.sackOf(b) !== sack) b = randomUUID();
  const ledger = new Ledger([a, b]);
  const policies = async (ids: string[]): Promise<Map<string, ArchivePolicy>> => new Map(ids.map((id) => [id, POLICY]));
  const folds: string[] = [];
  const storage = recording(n.storage, folds);
  const fresh = (): Processor => new Processor({ incoming: n.incoming, storage, coordinator: n.coordinator, policies });
  // Crash after parking, before the batch was deleted: both are there.
  await n.incoming.add(ledger.take([a, b], 4));
  const [first] = await n.incoming.listBatches(sack);
  await n.incoming.park(sack, { batchId: first, metricId: a }, (await n.incoming.readBatch(sack, first)).get(a) as Measures);
  await fresh().processSack(sack);
  assert.deepEqual(await n.incoming.listParked(sack), []);
  assert.deepEqual(await n.incoming.listBatches(sack), []);
  await assertExactlyOnce(n.storage, ledger.sent, 'batch and parked copy');
  // Crash after a try folded a parked batch, before it was unparked: its id is applied.
  await n.incoming.add(ledger.take([a, b], 4));
  const [second] = await n.incoming.listBatches(sack);
  const part = (await n.incoming.readBatch(sack, second)).get(a) as Measures;
  await fresh().processSack(sack);
  await n.incoming.park(sack, { batchId: second, metricId: a }, part);
  // A try with new batches of the metric, killed before its unpark: the parked batch must
  // stay applied (not be forgotten by that commit), or the next try folds it again.
  await n.incoming.add(ledger.take([a, b], 4));
  let kill = true;
  const killing = new Proxy(n.incoming, {
    get(target, prop) {
      if (prop === 'unpark' && kill) return async () => { kill = false; throw new Error('killed before unparking'); };
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  const dying = new Processor({ incoming: killing, storage, coordinator: n.coordinator, policies });
  await assert.rejects(dying.processSack(sack), /killed before unparking/);
  assert.equal((await n.incoming.listParked(sack)).length, 1);
  await fresh().processSack(sack);
  assert.deepEqual(await n.incoming.listParked(sack), []);
  assert.equal((await n.incoming.backlog()).measures, 0);
  await assertExactlyOnce(n.storage, ledger.sent, 'a parked batch already folded');
  assertNoRepeat(folds, 'parked copies');
  await closeNode(n);
});

test('an empty sack is visited without taking its lock; a sack with batches is locked and processed', async (t) => {
  const n = openNode(tempDir(t));
  const locked: string[] = [];
  const coordinator: Coordinator = {
    tryLock: async (name) => {
      locked.push(name);
      return n.coordinator.tryLock(name);
    },
    lock: (name, opts) => n.coordinator.lock(name, opts),
    close: () => n.coordinator.close(),
  };
  const policies = async (ids: string[]): Promise<Map<string, ArchivePolicy>> => new Map(ids.map((id) => [id, POLICY]));
  const processor = new Processor({ incoming: n.incoming, storage: n.storage, coordinator, policies });
  const metric = randomUUID();
  const sack = n.incoming.sackOf(metric);
  const other = (sack + 1) % n.incoming.sacks;
  assert.deepEqual(await processor.processSack(other), { batches: 0, metrics: 0, measures: 0, quarantined: 0, parked: 0 });
  assert.deepEqual(locked, [], 'no lock asked for an empty sack');
  await n.incoming.add(new Map([[metric, span(0, 5)]]));
  assert.equal((await processor.processSack(sack))?.measures, 5);
  assert.deepEqual(locked, [`sack-${sack}`]);
  assert.equal((await stored(n.storage, metric)).size, 5);
  await closeNode(n);
});
