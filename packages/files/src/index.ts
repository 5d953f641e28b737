// File-system helpers of the file drivers (incoming, storage, coordination): errno
// classification, durable writes (file and folder fsync) and a fast whole-file read.
import {
  close as closeCallback, closeSync, fstat as fstatCallback, fstatSync, fsync as fsyncCallback, open as openCallback, openSync, read as readCallback,
  unlink as unlinkCallback, writev as writevCallback,
  readFile as readFileCallback, readFileSync, readSync, renameSync, symlinkSync, unlinkSync, writevSync,
} from 'node:fs';
import { readdir, rename, symlink, unlink } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The `code` of a Node system error (ENOENT, ENOSPC, ...) or driver error; undefined otherwise. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The errno code when `err` is a system error (the machine failed: disk full, I/O error,
 * read-only file system), undefined when it is anything else (a bug, a domain error).
 * Drivers turn the former into their "unavailable" error.
 */
export function systemErrorCode(err: unknown): string | undefined {
  const code = errnoCode(err);
  return code !== undefined && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/**
 * Whether process `pid` runs on this machine (EPERM: it does, as another user). Files named
 * after their writer's pid are left alone while it runs, whoever reuses a dead one's id.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

export function isMissing(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT';
}

/** For `.catch(ignoreMissing)`: a file already gone is what the caller wanted. */
export function ignoreMissing(err: unknown): void {
  if (!isMissing(err)) throw err;
}

/**
 * The whole file. fs/promises' readFile costs ~3x the callback version (measured: 250 vs
 * 80 us for 4 KiB), and reads of splits and batches are hot.
 */
export const readFile: (path: string) => Promise<Buffer> = promisify(readFileCallback);

const openFd = promisify(openCallback);
const closeFd = promisify(closeCallback);
const readFd = promisify(readCallback);
const fstatFd = promisify(fstatCallback);
const fsyncFd = promisify(fsyncCallback);
const writevFd = promisify(writevCallback);
const unlinkPath = promisify(unlinkCallback);

/**
 * `length` bytes of the file from `offset` (fewer at the end of the file). Callback fs
 * underneath, for the same reason as readFile: a split read is hot.
 */
export async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const fd = await openFd(path, 'r');
  try {
    return await poolReadAt(fd)(offset, length);
  } finally {
    await closeFd(fd);
  }
}

/** `length` bytes from `offset` by as many `read` calls as partial reads need; fewer at the end of the file. */
async function readFully(
  offset: number, length: number, read: (buf: Buffer, at: number, n: number, position: number) => number | Promise<number>,
): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = await read(buf, got, length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Positional reads of the open file `fd` through the thread pool, or blocking. */
const poolReadAt = (fd: number): ReadAt => (offset, length) => readFully(offset, length, async (buf, at, n, position) => (await readFd(fd, buf, at, n, position)).bytesRead);
const blockingReadAt = (fd: number): ReadAt => (offset, length) => readFully(offset, length, (buf, at, n, position) => readSync(fd, buf, at, n, position));

// libuv hands at most IOV_MAX (1024 on Linux) buffers to one writev; stay well below.
const MAX_IOV = 512;

/** Writes every buffer at `position` onwards through `writev` (which answers the bytes it wrote), handling partial writes and IOV_MAX. */
async function writeBuffers(
  buffers: readonly ArrayBufferView[], position: number, writev: (chunk: Uint8Array[], position: number) => number | Promise<number>,
): Promise<void> {
  let queue = buffers.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  while (queue.length > 0) {
    const bytesWritten = await writev(queue.slice(0, MAX_IOV), position);
    // No progress on a regular file means the disk is full.
    if (bytesWritten === 0) throw Object.assign(new Error('no progress writing file'), { code: 'ENOSPC' });
    position += bytesWritten;
    queue = skipBytes(queue, bytesWritten);
  }
}

function skipBytes(queue: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < queue.length && n >= queue[i].byteLength) n -= queue[i++].byteLength;
  const rest = queue.slice(i);
  if (n > 0) rest[0] = rest[0].subarray(n);
  return rest;
}

/** Positional reads of one open file: `length` bytes from `offset` (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/**
 * The file operations of a driver that writes durably, in two flavours with one meaning.
 * `poolFileOps` runs each on libuv's thread pool (the event loop never waits on the disk);
 * `blockingFileOps` runs every operation but fsync as a blocking call on the calling thread,
 * for threads that serve nothing else (processing threads): each pool round trip costs
 * two thread switches and a wake-up, and a commit of the aggregate storage made about
 * fifteen of them in a row. Measured on an idle machine, a server folding 10 rounds of 100
 * metrics x 500 measures (perf stat over its life, three alternating pairs): 72 000-74 000
 * context switches with the pool, 39 000-41 000 blocking; a round 168-385 ms against
 * 111-251. fsync stays on the pool in both (it waits for the device, milliseconds), so
 * concurrent commits still overlap their fsyncs.
 */
export interface FileOps {
  /** `length` bytes from `offset` (fewer at the end of the file). */
  readRange(path: string, offset: number, length: number): Promise<Buffer>;
  /**
   * Opens `path` for reading and gives `fn` its size and positional reads of it; the file is
   * closed when `fn` settles. For reads that locate their bytes from the file's end (a
   * trailer naming the length before it) with one open.
   */
  withFile<T>(path: string, fn: (size: number, read: ReadAt) => Promise<T>): Promise<T>;
  readFile(path: string): Promise<Buffer>;
  /**
   * Creates `path` (EEXIST if it exists), writes `buffers` and fsyncs the file; a failure
   * removes what was created. The folder entry is not yet durable: fsync the folder (or
   * rename/link the file and fsync the target folder).
   */
  createDurable(path: string, buffers: readonly ArrayBufferView[]): Promise<void>;
  fsyncDir(path: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

export const poolFileOps: FileOps = {
  readRange,
  withFile: async (path, fn) => {
    const fd = await openFd(path, 'r');
    try {
      const { size } = await fstatFd(fd);
      return await fn(size, poolReadAt(fd));
    } finally {
      await closeFd(fd);
    }
  },
  readFile,
  // On file descriptors and callbacks rather than fs/promises' FileHandle, which costs more
  // per call on the thread that waits (a FileHandle object and its close per file): the
  // incoming store's group commit makes one of these per acknowledged request batch.
  createDurable: async (path, buffers) => {
    const fd = await openFd(path, 'wx');
    try {
      await writeBuffers(buffers, 0, async (chunk, position) => writevFd(fd, chunk, position).then((r) => r.bytesWritten));
      await fsyncFd(fd);
    } catch (err) {
      await unlinkPath(path).catch(() => undefined);
      throw err;
    } finally {
      await closeFd(fd);
    }
  },
  fsyncDir,
  symlink: (target, path) => symlink(target, path),
  rename,
  unlink,
};

/** A blocking call's result, or its error, as a promise (the FileOps contract). */
function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}

export const blockingFileOps: FileOps = {
  readRange: async (path, offset, length) => {
    const fd = openSync(path, 'r');
    try {
      return await blockingReadAt(fd)(offset, length);
    } finally {
      closeSync(fd);
    }
  },
  withFile: async (path, fn) => {
    const fd = openSync(path, 'r');
    try {
      const { size } = fstatSync(fd);
      return await fn(size, blockingReadAt(fd));
    } finally {
      closeSync(fd);
    }
  },
  readFile: (path) => settled(() => readFileSync(path)),
  createDurable: async (path, buffers) => {
    const fd = openSync(path, 'wx');
    try {
      await writeBuffers(buffers, 0, (chunk, position) => writevSync(fd, chunk, position));
      await fsyncFd(fd);
    } catch (err) {
      try {
        unlinkSync(path);
      } catch {
        // Removing the partial file is best effort; the write's error is the one to report.
      }
      throw err;
    } finally {
      closeSync(fd);
    }
  },
  fsyncDir: async (path) => {
    const fd = openSync(path, 'r');
    try {
      await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
  },
  symlink: (target, path) => settled(() => symlinkSync(target, path)),
  rename: (from, to) => settled(() => renameSync(from, to)),
  unlink: (path) => settled(() => unlinkSync(path)),
};

/** Makes the entries of a folder (creations, renames, links, unlinks) durable. */
export async function fsyncDir(path: string): Promise<void> {
  const fd = await openFd(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

/**
 * fsync of folders kept open: one thread-pool round trip a sync instead of three (open,
 * fsync, close), for a writer that makes the same few folders durable on every commit (the
 * incoming store's sacks). A descriptor names the folder it was opened on; callers keep it
 * only for folders that are never replaced.
 */
export class FolderSyncer {
  readonly #fds = new Map<string, Promise<number>>();
  /** Syncs under way: a descriptor is closed only once none uses it (its number could be reused). */
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  sync(path: string): Promise<void> {
    if (this.#closed) return fsyncDir(path);
    let fd = this.#fds.get(path);
    if (fd === undefined) {
      fd = openFd(path, 'r');
      this.#fds.set(path, fd);
      // A folder that could not be opened is tried again next time.
      fd.catch(() => this.#fds.delete(path));
    }
    const done = fd.then((n) => fsyncFd(n));
    const tracked = done.catch(() => undefined).finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    return done;
  }

  /** Closes the folders once their syncs are over; later syncs open and close their folder each time. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#inFlight);
    const fds = [...this.#fds.values()];
    this.#fds.clear();
    await Promise.all(fds.map((fd) => fd.then((n) => closeFd(n)).catch(() => undefined)));
  }
}

/**
 * fsyncs of folders that concurrent writers add entries to, coalesced: a caller gets a sync
 * that started after its call (so it covers the entries the caller made before), joining
 * one queued behind the sync in flight when there is one. Writers that create entries in
 * one folder at about the same time (a storage's first commits of new metrics, each making
 * a folder under the same parent) then pay one or two fsyncs of it, not one each.
 */
export class CoalescedFolderSync {
  readonly #running = new Map<string, Promise<void>>();
  readonly #queued = new Map<string, Promise<void>>();

  constructor(private readonly syncFolder: (path: string) => Promise<void> = fsyncDir) {}

  sync(path: string): Promise<void> {
    const queued = this.#queued.get(path);
    if (queued !== undefined) return queued;
    const running = this.#running.get(path);
    if (running === undefined) return this.#start(path);
    const next = running.catch(() => undefined).then(() => {
      this.#queued.delete(path);
      return this.#start(path);
    });
    this.#queued.set(path, next);
    return next;
  }

  #start(path: string): Promise<void> {
    const p = this.syncFolder(path).finally(() => {
      if (this.#running.get(path) === p) this.#running.delete(path);
    });
    this.#running.set(path, p);
    return p;
  }
}

/** Names in a folder; none when it does not exist (or is not a folder). */
export async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

/**
 * The absolute path a `file://` URL names: `file:///var/lib/tally/incoming` (or
 * `file://localhost/...`). Throws RangeError, naming the URL, for anything else, such as
 * `file://data/x` (a host) or `file:data` (which URL parsers silently make absolute).
 */
export function fileUrlPath(url: string): string {
  if (!/^file:\/\//i.test(url)) throw new RangeError(`${url}: not a file:// URL`);
  try {
    return fileURLToPath(url);
  } catch (err) {
    throw new RangeError(`${url}: ${(err as Error).message} (write file:///absolute/path)`);
  }
}
