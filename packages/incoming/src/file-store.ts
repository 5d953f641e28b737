import {
  linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, watch, type FSWatcher,
} from 'node:fs';
import { link, mkdir, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  FolderSyncer, blockingFileOps, errnoCode, fileUrlPath, fsyncDir, ignoreMissing, isMissing, listDir, poolFileOps, processAlive,
  type FileOps, type ReadAt,
} from '@tally/files';
import {
  CorruptBatchError, FIXED_HEADER, decodeBatch, decodeParked, encodeBatch, encodeParked, entryViews, headerLength, parseHeader,
  validateMeasures, type BatchEntry,
} from './batch-format.js';
import { backlogOf } from './backlog.js';
import { IncomingClosedError, IncomingConfigError, asUnavailable } from './errors.js';
import { BATCH_ID, nextBatchId, parkedEntryOf, parkedName, pidOfBatchId, sackFor } from './ids.js';
import type { Backlog, BacklogOptions, IncomingStore, Measures, ParkedEntry } from './types.js';
import type { IncomingDriver } from './drivers.js';

export interface FileIncomingStoreOptions {
  dir: string;
  /** Sack count, fixed when the folder is first used (default DEFAULT_SACKS); see changeSackCount. */
  sacks?: number;
  /** Upper bound of bytes merged into one group commit (default 64 MiB). */
  maxFlushBytes?: number;
  /**
   * Test hook: called before the batch file is written, before each link of it into a
   * sack folder and before batches are deleted from a sack; throwing (e.g. an error with
   * code ENOSPC) simulates a failing disk, never settling simulates a process killed
   * there. Never set in production.
   */
  faultHook?: (op: 'write' | 'link' | 'delete', path: string) => void | Promise<void>;
  /**
   * The instance serves a thread that does nothing else (a processing thread): batch reads
   * block it instead of going through libuv's thread pool, where a batch read cost five
   * round trips (open, stat, two reads, close), each two thread switches. Writes, fsyncs and
   * deletions stay on the pool. Never on a thread with an event loop serving requests.
   */
  blockingIo?: boolean;
}

interface Pending {
  measures: Map<string, Measures>;
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const META_FILE = 'incoming.json';
/**
 * Sacks of a new store. A sack is the unit of processing parallelism (one worker at a time
 * per sack), and each costs per batch: a flush links its file into every sack it touches,
 * and every sack opens, reads and unlinks it on its own. With the embedded default's one
 * or two processing threads, 8 sacks leave room for four times as many workers; measured
 * (walk3 ingest, 2 threads, 2 cores), 32 sacks processed 15-25 % fewer measures per second
 * than 8. More workers: `tally change-sack-size`.
 */
export const DEFAULT_SACKS = 8;
const FORMAT = 'tally-incoming-1';
const TEMP_PREFIX = '.tmp-';
/** Batches that failed their checks, as `<batch id>.sack-<n>` (see quarantine()). */
const QUARANTINE = 'quarantine';
/** Parked measures (see park()), as `parked/sack-<n>/<batch id>.<metric id>`. */
const PARKED = 'parked';
/** A temp file this old is garbage even if its writer's pid is alive again (pid reuse). */
const TEMP_MAX_AGE_MS = 60 * 60 * 1000;

/**
 * Unprocessed measures on a local (or shared POSIX) file system, one folder per sack.
 * `add` group-commits: calls arriving while a flush runs are merged into the next one.
 * A flush writes one file and hard-links it into the folder of every sack it touches, so
 * it pays one file fsync whatever the number of sacks (a file per sack cost one fsync each,
 * and new-file fsyncs do not overlap on ext4: 25 ms for 31 sacks against 2.7 ms for one
 * file, measured with 100 metrics of 100 measures; the links and folder fsyncs add 9 ms).
 * A sack's reader keeps the entries of its own sack; the file's space is freed when the
 * last sack has deleted its link.
 */
export class FileIncomingStore implements IncomingStore {
  readonly dir: string;
  readonly sacks: number;
  readonly #maxFlushBytes: number;
  readonly #faultHook: FileIncomingStoreOptions['faultHook'];
  #queue: Pending[] = [];
  /**
   * What backlog() last counted in each sack. Batch files never change once published, so
   * /v1/status re-reads only the headers of new files, and recounts only sacks whose
   * listing changed: polling it while tens of thousands of batches wait must not cost the
   * API thread a file open per batch (measured: one core busy with 32 000 batches waiting,
   * polled every 100 ms).
   */
  #counted: SackCount[];
  #flushing: Promise<void> | null = null;
  #closed = false;
  /** Measures in each parked file, by path: a parked file never changes once written. */
  readonly #parkedCounts = new Map<string, number>();
  /** The sack folders, kept open for the fsyncs that publish batches and deletions. */
  readonly #folders = new FolderSyncer();
  /** How batches are read (see blockingIo). */
  readonly #reads: FileOps;

  /** Opens (creating if needed) the store; throws IncomingConfigError on a sack mismatch. */
  constructor(options: FileIncomingStoreOptions) {
    this.dir = options.dir;
    this.#maxFlushBytes = options.maxFlushBytes ?? 64 * 1024 * 1024;
    this.#faultHook = options.faultHook;
    this.#reads = options.blockingIo === true ? blockingFileOps : poolFileOps;
    this.sacks = initFolder(this.dir, options.sacks);
    this.#counted = Array.from({ length: this.sacks }, () => EMPTY_COUNT);
    this.#cleanTemporaryFiles();
  }

  sackOf(metricId: string): number {
    return sackFor(metricId, this.sacks);
  }

  add(measures: Map<string, Measures>): Promise<void> {
    if (this.#closed) return Promise.reject(new IncomingClosedError());
    let bytes: number;
    try {
      bytes = validateMeasures(measures);
    } catch (err) {
      // Rejected before queueing so one bad caller can never fail a shared flush.
      return Promise.reject(err);
    }
    if (bytes === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#queue.push({ measures, bytes, resolve, reject });
      this.#flushing ??= this.#drain();
    });
  }

  async listBatches(sack: number): Promise<string[]> {
    const names = await readdir(this.#sackDir(sack));
    return names.filter((n) => BATCH_ID.test(n)).sort();
  }

  /**
   * The batch's measures of metrics in `sack`: the header, then only the sack's own range
   * of the file (a file holds every sack of its flush). CorruptBatchError when what it
   * reads fails its checks (see `quarantine`).
   */
  async readBatch(sack: number, id: string): Promise<Map<string, Measures>> {
    const path = this.#batchPath(sack, id);
    const label = `${sack}/${id}`;
    const mine = (e: BatchEntry): boolean => this.#entrySack(e) === sack;
    return this.#reads.withFile(path, async (size, read) => {
      const header = await readWholeHeader(read, size, label);
      const entries = parseHeader(header, size, label);
      if (entries.some((e) => e.crc === null)) {
        return decodeBatch(await read(0, size), label, mine); // format 1: one CRC for all data
      }
      const kept = entries.filter(mine);
      if (kept.length === 0) return new Map<string, Measures>();
      const start = kept[0].offset;
      const end = kept[kept.length - 1].offset + kept[kept.length - 1].count * 16;
      // Entries are sorted by sack, so the sack's data is one contiguous range.
      if (kept.some((e, i) => i > 0 && e.offset !== kept[i - 1].offset + kept[i - 1].count * 16)) {
        throw new CorruptBatchError(label, 'entries of one sack are not contiguous');
      }
      const data = await read(start, end - start);
      if (data.length !== end - start) throw new CorruptBatchError(label, 'truncated data');
      return entryViews(data, start, kept, label);
    });
  }

  /** Deletes batches durably: once resolved they cannot reappear after a crash. */
  async deleteBatches(sack: number, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const paths = ids.map((id) => this.#batchPath(sack, id));
    await this.#faultHook?.('delete', this.#sackDir(sack));
    await Promise.all(paths.map((p) => unlink(p).catch(ignoreMissing)));
    // Storage forgets applied ids once batches are gone; a delete undone by a crash
    // would make the batch look new again and be applied twice.
    await this.#folders.sync(this.#sackDir(sack));
  }

  /**
   * Moves the sack's link of a batch to `<dir>/quarantine/<id>.sack-<n>`. The file is the
   * one every sack of its flush links to, so the quarantined copy is the whole batch as
   * written, while the other sacks' links (whose ranges may be sound) stay in place.
   */
  async quarantine(sack: number, id: string): Promise<void> {
    const target = join(this.dir, QUARANTINE);
    await mkdir(target, { recursive: true });
    await rename(this.#batchPath(sack, id), join(target, `${id}.sack-${sack}`));
    await Promise.all([this.#folders.sync(this.#sackDir(sack)), fsyncDir(target)]);
  }

  /**
   * Writes the metric's measures as a batch file of their own (same format, one entry)
   * under a temp name, then renames it into the sack's parked folder: a crash leaves the
   * previous file or the new one, never half of one.
   */
  async park(sack: number, entry: ParkedEntry, measures: Measures): Promise<void> {
    const dir = this.#parkedDir(sack);
    const final = this.#parkedPath(sack, entry);
    const encoded = encodeParked(entry.metricId, measures, sack);
    const created = await mkdir(dir, { recursive: true });
    // A folder made here must survive a crash as well as the file in it.
    if (created !== undefined) await Promise.all([fsyncDir(join(this.dir, PARKED)), fsyncDir(this.dir)]);
    const temp = join(dir, TEMP_PREFIX + nextBatchId());
    try {
      await poolFileOps.createDurable(temp, encoded.buffers);
      await rename(temp, final);
      await this.#folders.sync(dir);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw asUnavailable(err, 'parking measures');
    }
  }

  async listParked(sack: number): Promise<ParkedEntry[]> {
    const entries: ParkedEntry[] = [];
    for (const name of (await listDir(this.#parkedDir(sack))).sort()) {
      const entry = parkedEntryOf(name);
      if (entry !== null && PARKED_METRIC.test(entry.metricId)) entries.push(entry);
    }
    return entries;
  }

  async readParked(sack: number, entry: ParkedEntry): Promise<Measures> {
    const path = this.#parkedPath(sack, entry);
    const label = `${PARKED}/sack-${sack}/${parkedFileName(entry)}`;
    return decodeParked(await this.#reads.readFile(path), label, entry.metricId);
  }

  async unpark(sack: number, entries: ParkedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const paths = entries.map((e) => this.#parkedPath(sack, e));
    await Promise.all(paths.map((p) => unlink(p).catch(ignoreMissing)));
    await this.#folders.sync(this.#parkedDir(sack));
  }

  /** Counts from the batch headers only; corrupt or vanished files are skipped. */
  async backlog(options: BacklogOptions = {}): Promise<Backlog> {
    const sacks = Array.from({ length: this.sacks }, (_, s) => s);
    const [counts, parked] = await Promise.all([Promise.all(sacks.map((s) => this.#countSack(s))), this.#countParked()]);
    const quarantined = new Set((await listDir(join(this.dir, QUARANTINE))).map((n) => n.split('.')[0])).size;
    return backlogOf(counts.map((c) => c.perMetric), parked, quarantined, options);
  }

  /** Parked measures per metric; each file's header is read once (a parked file never changes). */
  async #countParked(): Promise<Map<string, number>> {
    const perMetric = new Map<string, number>();
    const seen = new Set<string>();
    // One listing when nothing was ever parked (GET /v1/status is polled).
    const folders = new Set(await listDir(join(this.dir, PARKED)));
    for (let sack = 0; sack < this.sacks; sack++) {
      if (!folders.has(`sack-${sack}`)) continue;
      for (const entry of await this.listParked(sack)) {
        const path = this.#parkedPath(sack, entry);
        let n = this.#parkedCounts.get(path);
        if (n === undefined) {
          const read = await readHeader(path, path);
          if (read === 'missing' || read === null) continue;
          n = read.reduce((sum, e) => sum + e.count, 0);
          this.#parkedCounts.set(path, n);
        }
        seen.add(path);
        perMetric.set(entry.metricId, (perMetric.get(entry.metricId) ?? 0) + n);
      }
    }
    for (const path of [...this.#parkedCounts.keys()]) if (!seen.has(path)) this.#parkedCounts.delete(path);
    return perMetric;
  }

  /**
   * New batches are hard links appearing in the sack folders: the kernel says so (inotify
   * through fs.watch), whichever process wrote them. Deletions fire too; a caller woken
   * for nothing just finds an empty scan.
   */
  watch(onNew: () => void): () => void {
    const watchers: FSWatcher[] = [];
    for (let s = 0; s < this.sacks; s++) {
      try {
        const w = watch(this.#sackDir(s), { persistent: false }, () => onNew());
        w.on('error', () => w.close());
        watchers.push(w);
      } catch {
        // No watch (no inotify, too many watches): processing falls back to its scans.
      }
    }
    return () => {
      for (const w of watchers) w.close();
    };
  }

  /** Waits for queued adds to be durable, then refuses new ones. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing) await this.#flushing;
    await this.#folders.close();
  }

  /** Removes temp files left by crashed writers (their pid is gone, or they are very old). */
  #cleanTemporaryFiles(): void {
    let parked: string[] = [];
    try {
      parked = readdirSync(join(this.dir, PARKED));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    const dirs = [
      ...Array.from({ length: this.sacks }, (_, s) => this.#sackDir(s)),
      ...parked.filter((name) => /^sack-\d+$/.test(name)).map((name) => join(this.dir, PARKED, name)),
    ];
    for (const dir of dirs) {
      for (const name of readdirSync(dir)) {
        if (name.startsWith(TEMP_PREFIX) && isAbandoned(join(dir, name), name)) {
          try {
            unlinkSync(join(dir, name));
          } catch {
            // Removed by another process opening the store at the same time.
          }
        }
      }
    }
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#takeGroup();
      try {
        await this.#flush(group);
        for (const p of group) p.resolve();
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
    this.#flushing = null;
  }

  #takeGroup(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length && (n === 0 || bytes + this.#queue[n].bytes <= this.#maxFlushBytes)) {
      bytes += this.#queue[n++].bytes;
    }
    return this.#queue.splice(0, n);
  }

  /**
   * One group commit: the file is written and fsynced under a temp name before it is
   * linked anywhere, so a failure while writing leaves nothing visible.
   */
  async #flush(group: Pending[]): Promise<void> {
    const metrics = mergeGroup(group);
    if (metrics.size === 0) return;
    // Hashing an id to its sack is per metric on the ingest path: once per flush.
    const sackOfId = new Map([...metrics.keys()].map((m) => [m, this.sackOf(m)]));
    const sacks = [...new Set(sackOfId.values())];
    const id = nextBatchId();
    const temp = join(this.#sackDir(sacks[0]), TEMP_PREFIX + id);
    try {
      await this.#faultHook?.('write', temp);
      await poolFileOps.createDurable(temp, encodeBatch(metrics, (m) => sackOfId.get(m) as number).buffers);
    } catch (err) {
      throw asUnavailable(err, 'writing incoming batch');
    }
    await this.#publish(temp, id, sacks);
  }

  /**
   * Links the file into each sack folder, makes the links durable, drops the temp name. A
   * file for one sack (the temp is in its folder) is renamed instead: one call, not two.
   */
  async #publish(temp: string, id: string, sacks: number[]): Promise<void> {
    const linked: string[] = [];
    try {
      // allSettled: the undo below must not race links still being made.
      const results = await Promise.allSettled(sacks.map(async (sack) => {
        const final = join(this.#sackDir(sack), id);
        await this.#faultHook?.('link', final);
        if (sacks.length === 1) await rename(temp, final);
        else await link(temp, final);
        linked.push(final);
      }));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      await Promise.all(sacks.map((sack) => this.#folders.sync(this.#sackDir(sack))));
    } catch (err) {
      // Best effort undo: a reader may in theory have seen a link in this short window.
      await Promise.all(linked.map((p) => unlink(p).catch(() => undefined)));
      await unlink(temp).catch(() => undefined);
      throw asUnavailable(err, 'publishing incoming batch');
    }
    // The links are durable; the temp name is garbage (cleaned at open if a crash keeps it).
    if (sacks.length > 1) await unlink(temp).catch(() => undefined);
  }

  /** Sack of a batch entry: written in it since format 2, hashed from the id before. */
  #entrySack(e: BatchEntry): number {
    return e.sack >= 0 ? e.sack : this.sackOf(e.metricId);
  }

  async #countSack(sack: number): Promise<SackCount> {
    const previous = this.#counted[sack];
    const ids = await this.listBatches(sack);
    if (sameList(ids, previous.ids)) return previous;
    const headers = new Map<string, BatchEntry[] | null>();
    const perMetric = new Map<string, number>();
    let measures = 0;
    for (const id of ids) {
      let entries = previous.headers.get(id);
      if (entries === undefined) {
        const read = await readHeader(this.#batchPath(sack, id), `${sack}/${id}`);
        if (read === 'missing') continue; // processed since the listing
        // Only this sack's entries are kept: the file is listed in every sack it touches.
        entries = read === null ? null : read.filter((e) => this.#entrySack(e) === sack);
      }
      headers.set(id, entries);
      for (const e of entries ?? []) {
        perMetric.set(e.metricId, (perMetric.get(e.metricId) ?? 0) + e.count);
        measures += e.count;
      }
    }
    // Only batches still listed are kept: the cache is never larger than the backlog. A
    // batch that vanished meanwhile makes the listing differ next time, so it is recounted.
    const count = { ids, headers, perMetric, measures };
    this.#counted[sack] = count;
    return count;
  }

  #sackDir(sack: number): string {
    if (!Number.isInteger(sack) || sack < 0 || sack >= this.sacks) {
      throw new RangeError(`sack ${sack} out of range [0, ${this.sacks})`);
    }
    return join(this.dir, `sack-${sack}`);
  }

  #parkedDir(sack: number): string {
    this.#sackDir(sack); // checks the range
    return join(this.dir, PARKED, `sack-${sack}`);
  }

  #parkedPath(sack: number, entry: ParkedEntry): string {
    return join(this.#parkedDir(sack), parkedFileName(entry));
  }

  #batchPath(sack: number, id: string): string {
    if (!BATCH_ID.test(id)) throw new RangeError(`invalid batch id ${JSON.stringify(id)}`);
    return join(this.#sackDir(sack), id);
  }
}

/** A metric id that is a safe file name (as the storage's), for a parked file's name. */
const PARKED_METRIC = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$/;

function parkedFileName(entry: ParkedEntry): string {
  if (!PARKED_METRIC.test(entry.metricId)) throw new RangeError(`metric id ${JSON.stringify(entry.metricId)} cannot be parked`);
  return parkedName(entry);
}

interface SackCount {
  /** The listing these figures were counted from. */
  ids: readonly string[];
  headers: Map<string, BatchEntry[] | null>;
  perMetric: Map<string, number>;
  measures: number;
}

const EMPTY_COUNT: SackCount = { ids: [], headers: new Map(), perMetric: new Map(), measures: 0 };

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The measures of every caller of one flush, by metric (a metric's parts in caller order). */
function mergeGroup(group: Pending[]): Map<string, Measures[]> {
  const metrics = new Map<string, Measures[]>();
  for (const p of group) {
    for (const [id, m] of p.measures) {
      if (m.ts.length === 0) continue;
      const parts = metrics.get(id);
      if (parts) parts.push(m);
      else metrics.set(id, [m]);
    }
  }
  return metrics;
}

/**
 * Changes the sack count of a store that holds nothing (Gnocchi's change-sack-size): every
 * process maps metrics to sacks by the count it read at start, so all of them must be
 * stopped, and measures waiting in sacks would land in the wrong one, so the backlog must
 * have been processed. Refuses (IncomingConfigError) otherwise; returns the counts.
 */
export async function changeSackCountOfFolder(dir: string, sacks: number): Promise<{ from: number; to: number }> {
  if (!Number.isInteger(sacks) || sacks < 1 || sacks > 65536) {
    throw new RangeError(`sacks must be an integer in [1, 65536], got ${sacks}`);
  }
  const meta = join(dir, META_FILE);
  const from = readMeta(meta);
  if (from === null) throw new IncomingConfigError(`${dir} is not an incoming store (no ${META_FILE})`);
  let waiting = 0;
  for (let s = 0; s < from; s++) {
    for (const folder of [join(dir, `sack-${s}`), join(dir, PARKED, `sack-${s}`)]) {
      try {
        waiting += readdirSync(folder).length;
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    }
  }
  if (waiting > 0) {
    throw new IncomingConfigError(`${dir} still holds ${waiting} file(s) of measures: stop every Tally process but the processing workers, let them empty the backlog, stop them, then retry`);
  }
  if (sacks !== from) {
    const temp = join(dir, `.${META_FILE}.${process.pid}.${Date.now()}`);
    writeFileSync(temp, JSON.stringify({ format: FORMAT, sacks }), { flush: true });
    renameSync(temp, meta);
    for (let s = 0; s < sacks; s++) mkdirSync(join(dir, `sack-${s}`), { recursive: true });
    for (let s = sacks; s < from; s++) rmSync(join(dir, `sack-${s}`), { recursive: true, force: true });
    await fsyncDir(dir);
  }
  return { from, to: sacks };
}

/** `file:///path`: FileIncomingStore in that folder. */
export const fileIncomingDriver: IncomingDriver = {
  open: async (url, options) => new FileIncomingStore({ dir: folderOf(url), sacks: options.sacks, blockingIo: options.dedicatedThread === true }),
  changeSackCount: (url, sacks) => changeSackCountOfFolder(folderOf(url), sacks),
};

function folderOf(url: string): string {
  try {
    return fileUrlPath(url);
  } catch (err) {
    throw new IncomingConfigError(`incoming URL ${(err as Error).message}`);
  }
}

/** Creates or checks the metadata file and sack folders; returns the sack count. */
function initFolder(dir: string, sacks: number | undefined): number {
  if (sacks !== undefined && (!Number.isInteger(sacks) || sacks < 1 || sacks > 65536)) {
    throw new RangeError(`sacks must be an integer in [1, 65536], got ${sacks}`);
  }
  mkdirSync(dir, { recursive: true });
  const meta = join(dir, META_FILE);
  const actual = readMeta(meta) ?? createMeta(dir, meta, sacks ?? DEFAULT_SACKS);
  if (sacks !== undefined && actual !== sacks) {
    throw new IncomingConfigError(`${dir} holds ${actual} sacks, not ${sacks} (tally change-sack-size changes it)`);
  }
  for (let s = 0; s < actual; s++) mkdirSync(join(dir, `sack-${s}`), { recursive: true });
  return actual;
}

function readMeta(meta: string): number | null {
  let text: string;
  try {
    text = readFileSync(meta, 'utf8');
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  const parsed = JSON.parse(text) as { format?: unknown; sacks?: unknown };
  if (parsed.format !== FORMAT || typeof parsed.sacks !== 'number') {
    throw new IncomingConfigError(`${meta}: not a ${FORMAT} store`);
  }
  return parsed.sacks;
}

/** Create-if-absent via link(): when two processes race, exactly one metadata file wins. */
function createMeta(dir: string, meta: string, sacks: number): number {
  const temp = join(dir, `.${META_FILE}.${process.pid}.${Date.now()}`);
  writeFileSync(temp, JSON.stringify({ format: FORMAT, sacks }), { flush: true });
  try {
    linkSync(temp, meta);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  } finally {
    unlinkSync(temp);
  }
  return readMeta(meta) ?? sacks;
}

/** Bytes read from the start of a batch in one go: its whole header, unless it names many metrics. */
const HEADER_READ = 4096;

/** The header block of an open batch file of `size` bytes (unverified). */
async function readWholeHeader(read: ReadAt, size: number, label: string): Promise<Buffer> {
  const first = await read(0, Math.min(size, HEADER_READ));
  // A file shorter than the fixed part reads as zeros there, which headerLength refuses.
  const fixed = Buffer.alloc(FIXED_HEADER);
  first.copy(fixed, 0, 0, Math.min(first.length, FIXED_HEADER));
  const length = headerLength(fixed, label, size);
  if (length <= first.length) return first.subarray(0, length);
  const header = await read(0, length);
  if (header.length !== length) throw new CorruptBatchError(label, 'truncated header');
  return header;
}

/** The batch's entries; null when it is corrupt, 'missing' when it is gone. */
async function readHeader(path: string, label: string): Promise<BatchEntry[] | null | 'missing'> {
  try {
    return await poolFileOps.withFile(path, async (size, read) => parseHeader(await readWholeHeader(read, size, label), size, label));
  } catch (err) {
    if (isMissing(err)) return 'missing'; // processed meanwhile
    if (err instanceof CorruptBatchError) return null;
    throw err;
  }
}

function isAbandoned(path: string, name: string): boolean {
  const id = name.slice(TEMP_PREFIX.length);
  if (!BATCH_ID.test(id)) return ageMs(path) > TEMP_MAX_AGE_MS;
  const pid = pidOfBatchId(id);
  if (pid === process.pid) return false;
  return !processAlive(pid) || ageMs(path) > TEMP_MAX_AGE_MS;
}

/** Sync: the store cleans temp files while it opens, in its constructor. */
function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
