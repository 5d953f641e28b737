import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import { eachLimited } from '@tally/retry';
import {
  createDurableFile, fileUrlPath, fsyncDir, isMissing, listDir, readFile,
} from '@tally/files';
import { CorruptStorageError, StorageConfigError, asUnavailable } from './errors.js';
import {
  EMPTY_MANIFEST, decodeManifest, decodeSplit, encodeManifest, encodeSplitHeader, type Manifest,
} from './format.js';
import type { AggregateStorage, CommitChange, MetricRecord, MetricUpdate } from './types.js';
import type { StorageDriver } from './drivers.js';

export interface FileAggregateStorageOptions {
  dir: string;
  /** Parsed manifests kept in memory (default 10 000 metrics). */
  cacheSize?: number;
  /**
   * Test hook: called before each file write and before the manifest rename; throwing
   * (e.g. an error with code ENOSPC) simulates a failing disk. Never set in production.
   */
  faultHook?: (op: 'split' | 'manifest' | 'rename', path: string) => void | Promise<void>;
  /** File operations one commit keeps in flight (default FILE_OPS_IN_FLIGHT). */
  fileOpsInFlight?: number;
}

interface Cached {
  stamp: string;
  manifest: Manifest;
}

const MANIFEST = 'manifest';
const SPLIT_FILE = /^(\d+)-[0-9a-f]{8}-\d+\.split$/;
const TEMP_FILE = /^\.manifest-[0-9a-f]{8}\.tmp$/;
const TRASH = '.trash';
const METRIC_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
/**
 * A commit unlinks the files its manifest superseded by name; one commit in this many also
 * lists the folder, for files a crashed commit left behind (listing on every commit was a
 * readdir per commit for nothing).
 */
const FULL_SWEEP_EVERY = 16;
/**
 * Every file operation (open, write, fsync, close, unlink) runs on libuv's thread pool,
 * which the whole process shares: the API's reads of manifests and splits queue behind
 * whatever is already there. A commit of a metric with many series writes thousands of
 * split files; issued all at once their fsyncs filled the queue, and a read from another
 * tenant waited seconds behind them. So the writes and unlinks of one storage instance
 * (one per thread) keep at most this many operations in flight, fewer than the pool's
 * threads (bin/tally starts 16): the rest of the pool stays free for reads. Measured on a
 * commit of 12 000 split files (ext4, 2 shared cores): 4 in flight took 10-11 s, 8 took
 * 4.4-5.6 s (concurrent fsyncs share journal commits), 16 about as long; unbounded took 13 s
 * and held reads for 12-15 s.
 */
export const FILE_OPS_IN_FLIGHT = 8;

/**
 * Aggregates on a POSIX file system: `<dir>/<id[0:2]>/<id>/` holds a manifest and split
 * files. Split files are immutable and uniquely named; the manifest names the live ones, so
 * renaming a new manifest into place commits everything at once. Commits to one metric must
 * be serialised by the caller across processes (metricd's lock); within a process they are.
 */
export class FileAggregateStorage implements AggregateStorage {
  readonly dir: string;
  readonly #cacheSize: number;
  readonly #faultHook: FileAggregateStorageOptions['faultHook'];
  readonly #inFlight: number;
  readonly #slots: Slots;
  readonly #cache = new Map<string, Cached>();
  readonly #chains = new Map<string, Promise<void>>();

  constructor(options: FileAggregateStorageOptions) {
    this.dir = options.dir;
    this.#cacheSize = options.cacheSize ?? 10_000;
    this.#faultHook = options.faultHook;
    this.#inFlight = Math.max(1, options.fileOpsInFlight ?? FILE_OPS_IN_FLIGHT);
    this.#slots = new Slots(this.#inFlight);
  }

  async read(metricId: string): Promise<MetricRecord> {
    return recordOf(await this.#manifest(metricId));
  }

  async update(metricId: string): Promise<MetricUpdate> {
    const base = await this.#manifest(metricId);
    return {
      ...recordOf(base),
      readSplit: (key) => this.#readSplit(metricId, key, base),
      commit: (change) => this.#serialised(metricId, () => this.#commit(metricId, change, base)),
    };
  }

  readSplit(metricId: string, key: string): Promise<Uint8Array | null> {
    return this.#readSplit(metricId, key, null);
  }

  /** `first`: a manifest already read (update()) to follow first; otherwise the cached one. */
  async #readSplit(metricId: string, key: string, first: Manifest | null): Promise<Uint8Array | null> {
    for (let attempt = 0; ; attempt++) {
      const manifest = attempt === 0 && first !== null ? first : await this.#manifest(metricId, attempt > 0);
      const file = manifest.splits.get(key);
      if (file === undefined) return null;
      const path = join(this.#metricDir(metricId), file);
      try {
        return decodeSplit(await readFile(path), path);
      } catch (err) {
        // Another process committed and removed this file since we read the manifest:
        // reload the manifest (bypassing the cache) and follow it to the new file.
        if (!isMissing(err)) throw asUnavailable(err, 'reading split');
        if (attempt >= 3) throw new CorruptStorageError(path, 'listed in the manifest but missing');
      }
    }
  }

  deleteMetric(metricId: string): Promise<void> {
    return this.#serialised(metricId, () => this.#delete(metricId));
  }

  async close(): Promise<void> {
    await Promise.all(this.#chains.values());
    this.#cache.clear();
  }

  /**
   * `base`: the manifest an update() read. It is used as is while it is still what this
   * instance last read or wrote for the metric (no commit of this process came between);
   * otherwise the manifest is read again.
   */
  async #commit(metricId: string, change: CommitChange, base: Manifest): Promise<void> {
    const dir = this.#metricDir(metricId);
    const current = base.gen > 0 && this.#cache.get(metricId)?.manifest === base
      ? base
      : await this.#manifest(metricId);
    if (current.gen === 0) await this.#createMetricDir(dir);
    const gen = current.gen + 1;
    const nonce = randomBytes(4).toString('hex');
    const written: string[] = [];
    let next: Manifest;
    let stamp: string;
    try {
      const splits = await this.#writeSplits(dir, gen, nonce, current.splits, change, written);
      next = { gen, state: new Uint8Array(change.state), applied: nextApplied(current.applied, change), splits };
      stamp = await this.#writeManifest(dir, nonce, next, written);
    } catch (err) {
      await this.#each(written, (p) => unlink(p).catch(() => undefined));
      throw asUnavailable(err, `committing metric ${metricId}`);
    }
    await this.#published(metricId, dir, current, next, stamp);
  }

  /** After the rename: the new manifest is live, whatever happens next. */
  async #published(metricId: string, dir: string, previous: Manifest, next: Manifest, stamp: string): Promise<void> {
    try {
      await fsyncDir(dir);
    } catch (err) {
      // Visible but maybe not durable; the split files it names must stay.
      this.#cache.delete(metricId);
      throw asUnavailable(err, `syncing metric ${metricId}`);
    }
    this.#remember(metricId, stamp, next);
    // Freeing superseded files is best effort: a crash here only leaves orphans.
    if (next.gen % FULL_SWEEP_EVERY === 0) {
      await this.#sweep(metricId, next).catch(() => undefined);
      return;
    }
    const live = new Set(next.splits.values());
    const superseded = [...new Set(previous.splits.values())].filter((f) => !live.has(f));
    await this.#each(superseded, (f) => unlink(join(dir, f)).catch(() => undefined));
  }

  /** Writes and fsyncs every new split; returns the resulting key -> file map. */
  async #writeSplits(
    dir: string, gen: number, nonce: string, previous: Map<string, string>,
    change: CommitChange, written: string[],
  ): Promise<Map<string, string>> {
    const splits = new Map(previous);
    for (const key of change.del) splits.delete(key);
    const files: Array<[string, Uint8Array]> = [];
    for (const [key, data] of change.put) {
      const name = `${gen}-${nonce}-${files.length}.split`;
      splits.set(key, name);
      files.push([name, data]);
    }
    await this.#each(files, async ([name, data]) => {
      await this.#writeDurable('split', join(dir, name), [encodeSplitHeader(data), data], written);
    });
    return splits;
  }

  /**
   * The commit point: temp manifest, fsync, rename over the live one (folder fsync follows).
   * Returns the new manifest's stamp, taken from the written file (a rename keeps its inode
   * and mtime).
   */
  async #writeManifest(dir: string, nonce: string, next: Manifest, written: string[]): Promise<string> {
    const temp = join(dir, `.manifest-${nonce}.tmp`);
    const stamp = await this.#writeDurable('manifest', temp, [encodeManifest(next)], written);
    await this.#faultHook?.('rename', join(dir, MANIFEST));
    await rename(temp, join(dir, MANIFEST));
    return stamp;
  }

  /** Writes and fsyncs a new file; returns its stamp. */
  async #writeDurable(
    op: 'split' | 'manifest', path: string, parts: Uint8Array[], written: string[],
  ): Promise<string> {
    await this.#faultHook?.(op, path);
    const stats = await createDurableFile(path, parts);
    written.push(path);
    return stampFrom(stats);
  }

  /** First commit of a metric: its folder and the prefix folder must survive a crash too. */
  async #createMetricDir(dir: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true });
      await fsyncDir(dirname(dir));
      await fsyncDir(this.dir);
    } catch (err) {
      throw asUnavailable(err, `creating ${dir}`);
    }
  }

  async #delete(metricId: string): Promise<void> {
    const trash = join(this.dir, TRASH);
    const target = join(trash, `${metricId}.${randomBytes(4).toString('hex')}`);
    this.#cache.delete(metricId);
    try {
      await mkdir(trash, { recursive: true });
      // A rename is atomic: readers see the whole metric or nothing, never half a folder.
      await rename(this.#metricDir(metricId), target);
      await fsyncDir(dirname(this.#metricDir(metricId)));
    } catch (err) {
      if (isMissing(err)) return;
      throw asUnavailable(err, `deleting metric ${metricId}`);
    }
    // Everything in the trash is garbage, including what a delete cut short by a crash left.
    await this.#removeAll(trash).catch(() => undefined);
  }

  /**
   * Empties the trash: each entry is a deleted metric's folder of split files. A recursive
   * rm would issue an unlink per file at once (thousands for a big metric), so the files
   * go a few at a time and the rm only removes what is left.
   */
  async #removeAll(trash: string): Promise<void> {
    for (const entry of await listDir(trash)) {
      const path = join(trash, entry);
      await this.#each(await listDir(path), (name) => rm(join(path, name), { recursive: true, force: true }));
      await rm(path, { recursive: true, force: true });
    }
  }

  /**
   * Deletes the files of one metric its manifest does not name: called within a commit,
   * which holds the metric, every such file is garbage (a crashed commit's).
   */
  async #sweep(metricId: string, manifest: Manifest): Promise<void> {
    const dir = this.#metricDir(metricId);
    const live = new Set(manifest.splits.values());
    const garbage = (await listDir(dir))
      .filter((name) => name !== MANIFEST && !live.has(name) && (SPLIT_FILE.test(name) || TEMP_FILE.test(name)));
    await this.#each(garbage, (name) => unlink(join(dir, name)).catch(() => undefined));
  }

  /** The manifest, from cache when a stat proves the file unchanged (another process may write). */
  async #manifest(metricId: string, fresh = false): Promise<Manifest> {
    const path = join(this.#metricDir(metricId), MANIFEST);
    let stamp: string;
    try {
      stamp = await stampOf(path);
    } catch (err) {
      if (!isMissing(err)) throw asUnavailable(err, 'reading manifest');
      this.#cache.delete(metricId);
      return EMPTY_MANIFEST;
    }
    const cached = this.#cache.get(metricId);
    if (!fresh && cached?.stamp === stamp) return cached.manifest;
    return this.#load(metricId, path, stamp);
  }

  async #load(metricId: string, path: string, stamp: string): Promise<Manifest> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if (!isMissing(err)) throw asUnavailable(err, 'reading manifest');
      this.#cache.delete(metricId);
      return EMPTY_MANIFEST; // deleted between stat and read
    }
    // If the file was replaced after our stat, the content is newer than the stamp: the next
    // stat will differ and reload it, so the cache is never staler than the disk.
    const manifest = decodeManifest(bytes, path);
    this.#remember(metricId, stamp, manifest);
    return manifest;
  }

  #remember(metricId: string, stamp: string, manifest: Manifest): void {
    this.#cache.delete(metricId); // re-insert: Map order doubles as LRU order
    this.#cache.set(metricId, { stamp, manifest });
    if (this.#cache.size > this.#cacheSize) {
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
  }

  #metricDir(metricId: string): string {
    if (!METRIC_ID.test(metricId)) throw new RangeError(`invalid metric id ${JSON.stringify(metricId)}`);
    return join(this.dir, metricId.slice(0, 2), metricId);
  }

  /** `fn` over `items`, within this instance's bound on file operations in flight. */
  #each<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
    return eachLimited(items, this.#inFlight, (item) => this.#slots.run(() => fn(item)));
  }

  /** Runs operations on one metric one at a time within this process. */
  #serialised(metricId: string, op: () => Promise<void>): Promise<void> {
    const previous = this.#chains.get(metricId) ?? Promise.resolve();
    const run = previous.then(op, op);
    const tail = run.catch(() => undefined);
    this.#chains.set(metricId, tail);
    void tail.then(() => {
      if (this.#chains.get(metricId) === tail) this.#chains.delete(metricId);
    });
    return run;
  }
}

/** A counting semaphore: at most `size` calls of run() in flight, the others wait in order. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}


/** A caller's view of a manifest: copies, so that nobody can alter the cached one. */
function recordOf(m: Manifest): MetricRecord {
  return { state: m.state && new Uint8Array(m.state), applied: new Set(m.applied) };
}

function nextApplied(current: Set<string>, change: CommitChange): Set<string> {
  const applied = new Set(current);
  for (const id of change.forget) applied.delete(id);
  for (const id of change.applied) applied.add(id);
  return applied;
}

/** Identity of a file version: a rename-replaced manifest always changes inode or mtime. */
async function stampOf(path: string): Promise<string> {
  return stampFrom(await stat(path, { bigint: true }));
}

function stampFrom(s: BigIntStats): string {
  return `${s.ino}:${s.mtimeNs}:${s.size}`;
}


/** `file:///path`: FileAggregateStorage in that folder. */
export const fileStorageDriver: StorageDriver = {
  open: async (url) => {
    let dir: string;
    try {
      dir = fileUrlPath(url);
    } catch (err) {
      throw new StorageConfigError(`storage URL ${(err as Error).message}`);
    }
    return new FileAggregateStorage({ dir });
  },
};
