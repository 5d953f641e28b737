import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { readlinkSync, type BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import { eachLimited } from '@tally/retry';
import {
  blockingFileOps, CoalescedFolderSync, errnoCode, fileUrlPath, isMissing, listDir, poolFileOps, type FileOps,
} from '@tally/files';
import { CorruptStorageError, StorageConfigError, asUnavailable } from './errors.js';
import {
  EMPTY_MANIFEST, PACK_TRAILER_BYTES, decodeManifest, decodePackTrailer, decodeSplit, encodeManifest, encodePackTrailer,
  encodeSplitHeader, nextApplied, packName, recordOf, type Manifest, type SplitRef,
} from './format.js';
import { RecordCache } from './record-cache.js';
import type { AggregateStorage, CommitChange, MetricSnapshot, MetricUpdate, UpdateOptions } from './types.js';
import type { StorageDriver } from './drivers.js';

export interface FileAggregateStorageOptions {
  dir: string;
  /** Parsed manifests kept in memory (default 10 000 metrics). */
  cacheSize?: number;
  /**
   * Test hook: called before each pack write and before the manifest rename; throwing
   * (e.g. an error with code ENOSPC) simulates a failing disk. Never set in production.
   */
  faultHook?: (op: 'pack' | 'rename', path: string) => void | Promise<void>;
  /** File operations one commit keeps in flight (default FILE_OPS_IN_FLIGHT). */
  fileOpsInFlight?: number;
  /** Bytes of split payloads readSplit keeps in memory (default RECORD_CACHE_BYTES; 0: none). */
  recordCacheBytes?: number;
  /**
   * The instance serves a thread that does nothing else (a processing thread): file
   * operations other than fsyncs and the unlinks of superseded files block it instead of
   * going through libuv's thread pool (see blockingFileOps). Never on a thread with an
   * event loop serving requests.
   */
  blockingIo?: boolean;
}

interface Cached {
  stamp: string;
  manifest: Manifest;
}

const MANIFEST = 'manifest';
const SPLIT_FILE = /^(\d+)-[0-9a-f]{8}-\d+\.split$/;
const PACK_FILE = /^(\d+)-[0-9a-f]{8}\.pack$/;
const TEMP_FILE = /^\.manifest-[0-9a-f]{8}\.tmp$/;
/**
 * A commit copies the live records of a cold pack into its own cold pack when they fill
 * less than this share of it (splits deleted by retention, or rewritten after they had
 * moved): that bounds the dead space to about 1 / LIVE_SHARE of the live data, while each
 * record is copied a bounded number of times.
 */
const LIVE_SHARE = 0.5;
/** Default bound of the split payloads a storage instance keeps in memory. */
export const RECORD_CACHE_BYTES = 32 * 1024 * 1024;
/** Largest hot pack an update() reads whole rather than split by split. */
const HOT_REGION_READ_MAX = 4 * 1024 * 1024;
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
 * Aggregates on a POSIX file system: `<dir>/<id[0:2]>/<id>/` holds the metric's packs and
 * `manifest`, a symbolic link to the live one. A commit writes one new pack (the splits it
 * changed, then the manifest naming every live split's pack and offset) with one fsync,
 * a second one only when splits it did not rewrite move out of the previous pack (see
 * #plan), and renames a new link over `manifest`: everything becomes visible at once. Packs are
 * immutable and uniquely named, so readers that followed the old link keep a consistent
 * view until they look again. (Metrics written before packs existed keep their split files
 * and manifest file until commits replace them.) Commits to one metric must be serialised
 * by the caller across processes (metricd's lock); within a process they are.
 */
export class FileAggregateStorage implements AggregateStorage {
  readonly dir: string;
  readonly #cacheSize: number;
  readonly #faultHook: FileAggregateStorageOptions['faultHook'];
  readonly #inFlight: number;
  readonly #slots: Slots;
  readonly #records: RecordCache | null;
  readonly #io: FileOps;
  readonly #folderSync: CoalescedFolderSync;
  /** Prefix folders whose entry in the root a completed sync made durable. */
  readonly #durablePrefixes = new Set<string>();
  readonly #cache = new Map<string, Cached>();
  readonly #chains = new Map<string, Promise<void>>();
  /** For each manifest this instance read or wrote: the (hot) pack it lives in. */
  readonly #own = new WeakMap<Manifest, string>();

  constructor(options: FileAggregateStorageOptions) {
    this.dir = options.dir;
    this.#cacheSize = options.cacheSize ?? 10_000;
    this.#faultHook = options.faultHook;
    this.#inFlight = Math.max(1, options.fileOpsInFlight ?? FILE_OPS_IN_FLIGHT);
    this.#slots = new Slots(this.#inFlight);
    const cacheBytes = options.recordCacheBytes ?? RECORD_CACHE_BYTES;
    this.#records = cacheBytes > 0 ? new RecordCache(cacheBytes) : null;
    this.#io = options.blockingIo === true ? blockingFileOps : poolFileOps;
    this.#folderSync = new CoalescedFolderSync((path) => this.#io.fsyncDir(path));
  }

  async read(metricId: string): Promise<MetricSnapshot> {
    const manifest = await this.#manifest(metricId);
    return { ...recordOf(manifest), readSplit: (key) => this.#readSplit(metricId, key, manifest, true) };
  }

  async update(metricId: string, options: UpdateOptions = {}): Promise<MetricUpdate> {
    const base = await this.#manifest(metricId);
    const hot = this.#own.get(base);
    const hotBytes = hot === undefined ? 0 : base.packs.get(hot) ?? 0;
    // A commit reads back the splits the previous one wrote (the open tails of its series),
    // which are the previous hot pack's records: one read of them all instead of one file
    // operation per split.
    let region: Promise<Buffer | null> | null = null;
    return {
      ...recordOf(base),
      readSplit: async (key) => {
        const ref = base.splits.get(key);
        if (hot !== undefined && ref?.file === hot && hotBytes <= HOT_REGION_READ_MAX) {
          const path = join(this.#metricDir(metricId), hot);
          region ??= this.#io.readRange(path, 0, hotBytes).catch((err: unknown) => {
            if (isMissing(err)) return null; // superseded meanwhile: follow the manifest below
            throw asUnavailable(err, 'reading split');
          });
          const bytes = await region;
          if (bytes !== null && bytes.length === hotBytes) {
            return decodeSplit(bytes.subarray(ref.offset, ref.offset + ref.length), path);
          }
        }
        return this.#readSplit(metricId, key, base, false);
      },
      commit: (change) => this.#serialised(metricId, () => this.#commit(metricId, change, base, options.signal)),
    };
  }

  readSplit(metricId: string, key: string): Promise<Uint8Array | null> {
    return this.#readSplit(metricId, key, null, true);
  }

  /**
   * `first`: a manifest already read (update()) to follow first; otherwise the cached one.
   * `cache`: keep the payload for later reads. Reads (dashboards) ask for the same splits
   * again; processing reads each split once per fold, from the pack it wrote last, and
   * would only fill the memory of its threads with splits nobody reads again.
   */
  async #readSplit(metricId: string, key: string, first: Manifest | null, cache: boolean): Promise<Uint8Array | null> {
    for (let attempt = 0; ; attempt++) {
      const manifest = attempt === 0 && first !== null ? first : await this.#manifest(metricId, attempt > 0);
      const ref = manifest.splits.get(key);
      if (ref === undefined) return null;
      const cached = this.#records?.get(recordKey(metricId, ref));
      if (cached !== undefined) return cached;
      const path = join(this.#metricDir(metricId), ref.file);
      try {
        const payload = decodeSplit(await readRecord(this.#io, path, ref), path);
        if (cache) this.#records?.set(recordKey(metricId, ref), payload);
        return payload;
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
  async #commit(metricId: string, change: CommitChange, base: Manifest, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const dir = this.#metricDir(metricId);
    const cached = this.#cache.get(metricId);
    const current = base.gen > 0 && cached?.manifest === base ? base : await this.#manifest(metricId);
    if (current.gen === 0) await this.#createMetricDir(dir);
    const gen = current.gen + 1;
    const nonce = randomBytes(4).toString('hex');
    const hot = packName(gen, nonce);
    const cold = packName(gen, randomBytes(4).toString('hex'));
    const written: string[] = [];
    let next: Manifest;
    try {
      const plan = await this.#plan(dir, hot, cold, current, change);
      next = plan.manifest;
      const files: Array<[string, Uint8Array[]]> = [[hot, plan.hot]];
      if (plan.cold.length > 0) files.push([cold, plan.cold]);
      await this.#each(files, async ([name, parts]) => {
        const path = join(dir, name);
        await this.#faultHook?.('pack', path);
        signal?.throwIfAborted();
        await this.#io.createDurable(path, parts);
        written.push(path);
      });
      signal?.throwIfAborted();
      await this.#publish(dir, hot, nonce);
    } catch (err) {
      await this.#each(written, (path) => this.#io.unlink(path).catch(() => undefined));
      throw asUnavailable(err, `committing metric ${metricId}`);
    }
    await this.#published(metricId, dir, current, next, `pack:${hot}`);
  }

  /**
   * What a commit writes. The splits it puts go to the hot pack, which ends with the new
   * manifest: most of them are the open tails of series, which the next commit rewrites.
   * The records of the previous hot pack that this commit does not rewrite (splits that
   * closed, or were written once) move to a cold pack, so that a hot pack is always wholly
   * dead once superseded and no dead tail or manifest outlives its commit. Cold packs whose
   * live records fill less than LIVE_SHARE of them (splits deleted or rewritten later) are
   * copied into the new cold pack too.
   */
  async #plan(dir: string, hot: string, cold: string, current: Manifest, change: CommitChange)
    : Promise<{ manifest: Manifest; hot: Uint8Array[]; cold: Uint8Array[] }> {
    const splits = new Map(current.splits);
    for (const key of change.del) splits.delete(key);
    for (const key of change.put.keys()) splits.delete(key);
    const previousHot = this.#own.get(current);
    const live = new Map<string, number>();
    for (const ref of splits.values()) {
      if (ref.length >= 0) live.set(ref.file, (live.get(ref.file) ?? 0) + ref.length);
    }
    const packs = new Map<string, number>();
    const moving = new Set<string>();
    for (const [name, size] of current.packs) {
      const bytes = live.get(name) ?? 0;
      if (bytes === 0) continue;
      if (name === previousHot || bytes < size * LIVE_SHARE) moving.add(name);
      else packs.set(name, size);
    }
    const moves = [...splits].filter(([, ref]) => moving.has(ref.file));
    const records = await this.#mapLimited(moves, ([, ref]) => readRecord(this.#io, join(dir, ref.file), ref));
    const coldParts: Uint8Array[] = [];
    let offset = 0;
    for (let i = 0; i < moves.length; i++) {
      const [key, ref] = moves[i];
      const record = records[i];
      if (record.length !== ref.length) throw new CorruptStorageError(join(dir, ref.file), 'truncated split record');
      coldParts.push(record);
      splits.set(key, { file: cold, offset, length: record.length });
      offset += record.length;
    }
    if (offset > 0) packs.set(cold, offset);
    const hotParts: Uint8Array[] = [];
    offset = 0;
    for (const [key, data] of change.put) {
      const header = encodeSplitHeader(data);
      hotParts.push(header, data);
      splits.set(key, { file: hot, offset, length: header.length + data.length });
      offset += header.length + data.length;
    }
    packs.set(hot, offset);
    const manifest: Manifest = { gen: current.gen + 1, state: change.state, applied: nextApplied(current.applied, change), splits, packs };
    const encoded = encodeManifest(manifest);
    this.#own.set(manifest, hot);
    hotParts.push(encoded, encodePackTrailer(encoded.length));
    return { manifest, hot: hotParts, cold: coldParts };
  }

  /** The commit point: a new link to the pack renamed over `manifest` (the folder fsync follows). */
  async #publish(dir: string, pack: string, nonce: string): Promise<void> {
    const temp = join(dir, `.manifest-${nonce}.tmp`);
    await this.#io.symlink(pack, temp);
    try {
      await this.#faultHook?.('rename', join(dir, MANIFEST));
      await this.#io.rename(temp, join(dir, MANIFEST));
    } catch (err) {
      await this.#io.unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  /** After the rename: the new manifest is live, whatever happens next. */
  async #published(metricId: string, dir: string, previous: Manifest, next: Manifest, stamp: string): Promise<void> {
    try {
      await this.#io.fsyncDir(dir);
    } catch (err) {
      // Visible but maybe not durable; the files it names must stay.
      this.#cache.delete(metricId);
      throw asUnavailable(err, `syncing metric ${metricId}`);
    }
    this.#remember(metricId, stamp, next);
    // Freeing superseded files is best effort: a crash here only leaves orphans.
    if (next.gen % FULL_SWEEP_EVERY === 0) {
      await this.#sweep(metricId, next).catch(() => undefined);
      return;
    }
    const live = filesOf(next);
    const superseded = [...filesOf(previous)].filter((f) => !live.has(f));
    // On the thread pool whatever the instance's file operations: an unlink waits on the
    // file system's journal (0.15-0.3 ms each, up to milliseconds), which held a processing
    // thread doing them itself for 6 % of its time; the thread folds other metrics meanwhile.
    await this.#each(superseded, (f) => poolFileOps.unlink(join(dir, f)).catch(() => undefined));
  }

  /**
   * First commit of a metric: its folder and the prefix folder must survive a crash too.
   * The root is synced until this instance has seen a sync of it complete after the prefix
   * folder existed (that prefix's entry is durable from then on: 256 prefixes for UUIDs),
   * and syncs of a folder that concurrent first commits share are coalesced.
   */
  async #createMetricDir(dir: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true });
      const prefix = dirname(dir);
      const syncs = [this.#folderSync.sync(prefix)];
      if (!this.#durablePrefixes.has(prefix)) {
        syncs.push(this.#folderSync.sync(this.dir).then(() => void this.#durablePrefixes.add(prefix)));
      }
      await Promise.all(syncs);
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
      await this.#io.rename(this.#metricDir(metricId), target);
      await this.#io.fsyncDir(dirname(this.#metricDir(metricId)));
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
    const live = filesOf(manifest);
    const garbage = (await listDir(dir))
      .filter((name) => name !== MANIFEST && !live.has(name) && (PACK_FILE.test(name) || SPLIT_FILE.test(name) || TEMP_FILE.test(name)));
    await this.#each(garbage, (name) => poolFileOps.unlink(join(dir, name)).catch(() => undefined));
  }

  /**
   * The manifest, from cache when the link still names the same pack (packs are never
   * rewritten), or for a manifest file of older metrics when a stat proves it unchanged.
   */
  async #manifest(metricId: string, fresh = false): Promise<Manifest> {
    const path = join(this.#metricDir(metricId), MANIFEST);
    for (let attempt = 0; ; attempt++) {
      let pack: string;
      try {
        // Synchronous on purpose: every read of a metric starts here, and the link is a
        // few bytes of a local directory the kernel keeps cached, read in a few
        // microseconds, where the thread pool's round trip cost 30-150 us of CPU and more
        // of waiting (most of an aggregates request across 100 metrics). What follows the
        // link when it changed (the pack's manifest) is read asynchronously.
        pack = readlinkSync(path);
      } catch (err) {
        if (isMissing(err)) {
          this.#cache.delete(metricId);
          return EMPTY_MANIFEST;
        }
        if (errnoCode(err) === 'EINVAL') return this.#manifestFile(metricId, path, fresh);
        throw asUnavailable(err, 'reading manifest');
      }
      if (!PACK_FILE.test(pack)) throw new CorruptStorageError(path, `links to ${JSON.stringify(pack)}, not a pack`);
      const stamp = `pack:${pack}`;
      const cached = this.#cache.get(metricId);
      if (!fresh && cached?.stamp === stamp) return cached.manifest;
      const manifest = await this.#loadPack(join(dirname(path), pack));
      if (manifest !== null) {
        this.#remember(metricId, stamp, manifest);
        return manifest;
      }
      // Another process committed and freed that pack between our readlink and open.
      if (attempt >= 3) throw new CorruptStorageError(path, `links to ${pack}, which keeps disappearing`);
    }
  }

  /** The manifest at the end of a pack; null when the pack is gone. */
  async #loadPack(path: string): Promise<Manifest | null> {
    try {
      const manifest = await this.#io.withFile(path, async (size, read) => {
        if (size < PACK_TRAILER_BYTES) throw new CorruptStorageError(path, 'truncated pack');
        const trailer = await read(size - PACK_TRAILER_BYTES, PACK_TRAILER_BYTES);
        const length = decodePackTrailer(trailer, size, path);
        return decodeManifest(await read(size - PACK_TRAILER_BYTES - length, length), path);
      });
      this.#own.set(manifest, path.slice(path.lastIndexOf('/') + 1));
      return manifest;
    } catch (err) {
      if (isMissing(err)) return null;
      if (err instanceof CorruptStorageError) throw err;
      throw asUnavailable(err, 'reading manifest');
    }
  }

  /** A manifest file (metrics last committed before packs). */
  async #manifestFile(metricId: string, path: string, fresh: boolean): Promise<Manifest> {
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
    let bytes: Buffer;
    try {
      bytes = await this.#io.readFile(path);
    } catch (err) {
      // Replaced by a link since the stat: follow it.
      if (isMissing(err) || errnoCode(err) === 'ELOOP') return this.#manifest(metricId, true);
      throw asUnavailable(err, 'reading manifest');
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

  /** `fn` of each of `items`, in order, within this instance's bound on file operations in flight. */
  async #mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
    const out = new Array<R>(items.length);
    await this.#each(items.map((item, i) => [item, i] as const), async ([item, i]) => {
      out[i] = await fn(item);
    });
    return out;
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


/** Where a split's payload is, as a cache key: files are immutable and never renamed. */
function recordKey(metricId: string, ref: SplitRef): string {
  return `${metricId}/${ref.file}/${ref.offset}`;
}

/** A split's record: a range of a pack, or a whole split file. */
function readRecord(io: FileOps, path: string, ref: SplitRef): Promise<Buffer> {
  return ref.length < 0 ? io.readFile(path) : io.readRange(path, ref.offset, ref.length);
}

/** The files a manifest keeps alive: those its splits name and its own pack. */
function filesOf(m: Manifest): Set<string> {
  const files = new Set(m.packs.keys());
  for (const ref of m.splits.values()) files.add(ref.file);
  return files;
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
  open: async (url, options) => {
    let dir: string;
    try {
      dir = fileUrlPath(url);
    } catch (err) {
      throw new StorageConfigError(`storage URL ${(err as Error).message}`);
    }
    return new FileAggregateStorage({ dir, blockingIo: options?.dedicatedThread === true });
  },
};
