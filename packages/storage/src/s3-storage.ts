import { createHash, randomBytes } from 'node:crypto';
import {
  CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { eachLimited, retry } from '@tally/retry';
import { CorruptStorageError, StorageConfigError, StorageUnavailableError } from './errors.js';
import {
  EMPTY_MANIFEST, decodeManifest, decodeSplit, encodeManifest, encodeSplitHeader, nextApplied, packName, recordOf,
  type Manifest, type SplitRef,
} from './format.js';
import { RecordCache } from './record-cache.js';
import { RECORD_CACHE_BYTES } from './file-storage.js';
import type { AggregateStorage, CommitChange, MetricSnapshot, MetricUpdate, UpdateOptions } from './types.js';
import type { StorageDriver } from './drivers.js';

export interface S3AggregateStorageOptions {
  /**
   * The client (createS3Client), which the storage owns from then on: close() destroys it.
   * Its own retries should be off (maxAttempts 1): this class retries.
   */
  client: S3Client;
  bucket: string;
  /** Prepended to every object key ("" or ending in "/"). */
  prefix?: string;
  /** Parsed manifests kept in memory (default 10 000 metrics). */
  cacheSize?: number;
  /** Bytes of split payloads readSplit keeps in memory (default RECORD_CACHE_BYTES; 0: none). */
  recordCacheBytes?: number;
  /** Requests one commit or delete keeps in flight (default REQUESTS_IN_FLIGHT). */
  requestsInFlight?: number;
  /** Tries of each request, the first included (default 5), and the backoff between them. */
  attempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /**
   * Test hook: called before the pack PUT and before the manifest PUT; throwing simulates
   * a crash or a failing server at that point. Never set in production.
   */
  faultHook?: (op: 'pack' | 'manifest', key: string) => void | Promise<void>;
}

interface Cached {
  etag: string;
  manifest: Manifest;
}

/**
 * Whole objects one update() fetched, by name: its commit copies records out of them
 * without fetching them again (packs are immutable, so they stay valid).
 */
type Fetched = Map<string, Promise<Buffer | null>>;

/** Requests (GETs, DeleteObjects) one commit or delete keeps in flight. */
export const REQUESTS_IN_FLIGHT = 16;
/**
 * A commit deletes the objects its manifest superseded by name; one commit in this many
 * also lists the metric's objects and deletes those no manifest names (what a commit that
 * failed or crashed before or during its manifest PUT left behind).
 */
const FULL_SWEEP_EVERY = 16;
/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000;
/**
 * A commit copies the live records of an older pack into its own when they fill less than
 * this share of it: a series that stops changing (a closed split) keeps its record in the
 * pack of its last commit, whose other records die at the next commit. The copies ride in
 * the pack the commit PUTs anyway, so compaction costs bytes, not requests (beyond one
 * ranged GET of a pack the update did not fetch); stored bytes stay below 1 / LIVE_SHARE
 * of the live ones.
 */
export const LIVE_SHARE = 0.25;
/**
 * Most packs a metric's manifest names. Past it a commit also copies the records of the
 * pack with the fewest live bytes: with the bounded migration of older split objects,
 * this bounds a metric's objects whatever its splits do.
 */
export const MAX_LIVE_PACKS = 8;
/** Sparse packs a commit fetches (one ranged GET each) to compact; the others wait for later commits. */
const COMPACTIONS_PER_COMMIT = 4;
/**
 * Split objects of the layout before packs (one object per split) that a commit copies
 * into its pack, one GET each: a metric written that way moves to packs over its next
 * commits, with a bounded cost for each.
 */
export const LEGACY_MOVES_PER_COMMIT = 32;
/**
 * A read of a split in a pack this small GETs the whole pack and caches its other live
 * splits too (a dashboard asks for several series of a metric); in a larger pack it GETs
 * the record's range. On Swift over loopback a GET took about the same time up to 256 KB
 * as a 2 KB range (16-30 ms), 1 MB about 32 ms and 4 MB about 65 ms; on AWS a request
 * costs tens of ms and is billed while 256 KB is a few ms of transfer.
 */
const WHOLE_PACK_READ_MAX = 256 * 1024;
/**
 * An update() reads back the splits the previous commit wrote (the open tails its fold
 * merges into), which are the records of that commit's pack: one GET of it, up to this
 * size, instead of one per split.
 */
const HOT_PACK_READ_MAX = 4 * 1024 * 1024;
const MANIFEST = 'manifest';
const METRIC_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const PACK_GEN = /^(\d+)-[0-9a-f]{8}\.pack$/;

/**
 * Aggregates in an S3 bucket: `<prefix><metric id>/manifest` and the packs it names,
 * `<prefix><metric id>/<gen>-<8 hex>.pack`. A pack is the split records (format.ts: each
 * with its CRC) one commit wrote, back to back; the manifest (format.ts's, as on files)
 * names each live split by pack, offset and length, and lists the live packs with their
 * sizes. (Unlike a pack on files, it does not end with a copy of the manifest: the
 * manifest object is the one commit point, and for a small metric that copy would be most
 * of the bytes of every PUT.) Packs are never rewritten: a commit PUTs one new pack
 * holding every split it changed (and the records it compacts, see LIVE_SHARE), then PUTs
 * the manifest, which is the commit point (S3 replaces an object whole, never partly),
 * then deletes the packs no live split points into any more. A reader reads the manifest,
 * then the records it names (a ranged GET, or the whole pack when it is small); one that
 * finds a pack gone (a later commit freed it) reads the manifest again. Metrics last
 * written before packs name one object per split (`<gen>-<8 hex>-<n>.split`, length -1 in
 * the manifest): those are read as before and copied into packs by the next commits
 * (LEGACY_MOVES_PER_COMMIT each). Commits to one metric must be
 * serialised across processes by the caller (metricd's lock); within a process they are.
 *
 * Garbage: a commit that fails before its manifest PUT deletes the pack it wrote; when the
 * manifest PUT itself fails the manifest may have been written all the same (a lost
 * answer), so the pack stays. Whatever a crash or such a failure leaves is deleted by a
 * later commit's sweep (one in FULL_SWEEP_EVERY lists the metric's objects), or by
 * deleteMetric, which deletes every object under the metric's name.
 *
 * Requests: a commit is one PUT of its pack (none when it changed no split) and one of
 * the manifest, whatever the number of splits it changed, plus one DeleteObjects when a
 * pack died; update() is one GET of the manifest, and its fold's reads one GET of the
 * previous commit's pack. A read is a conditional GET of the manifest (304 without a body
 * while it has not changed) plus, for a split not yet cached, one GET: records are
 * immutable, so their payloads are cached for good.
 */
export class S3AggregateStorage implements AggregateStorage {
  readonly bucket: string;
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #cacheSize: number;
  readonly #inFlight: number;
  readonly #attempts: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #faultHook: S3AggregateStorageOptions['faultHook'];
  readonly #records: RecordCache | null;
  readonly #cache = new Map<string, Cached>();
  readonly #chains = new Map<string, Promise<void>>();
  /** Whole-pack GETs under way, by object key: concurrent reads of one pack share one. */
  readonly #fetching: Fetched = new Map();

  constructor(options: S3AggregateStorageOptions) {
    this.#client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.#cacheSize = options.cacheSize ?? 10_000;
    this.#inFlight = Math.max(1, options.requestsInFlight ?? REQUESTS_IN_FLIGHT);
    this.#attempts = options.attempts ?? 5;
    this.#baseMs = options.retryBaseMs ?? 50;
    this.#maxMs = options.retryMaxMs ?? 2_000;
    this.#faultHook = options.faultHook;
    const cacheBytes = options.recordCacheBytes ?? RECORD_CACHE_BYTES;
    this.#records = cacheBytes > 0 ? new RecordCache(cacheBytes) : null;
  }

  /** Creates the bucket when it does not exist yet. */
  async ensureBucket(): Promise<void> {
    const exists = await this.#send('checking bucket', async () => {
      try {
        await this.#client.send(new HeadBucketCommand({ Bucket: this.bucket }));
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    });
    if (exists) return;
    await this.#send('creating bucket', async () => {
      try {
        await this.#client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      } catch (err) {
        // Another process created it meanwhile.
        if (s3ErrorName(err) !== 'BucketAlreadyOwnedByYou') throw err;
      }
    });
  }

  async read(metricId: string): Promise<MetricSnapshot> {
    const manifest = await this.#manifest(metricId);
    return { ...recordOf(manifest), readSplit: (key) => this.#readSplit(metricId, key, manifest, null) };
  }

  async update(metricId: string, options: UpdateOptions = {}): Promise<MetricUpdate> {
    const base = await this.#manifest(metricId);
    const fetched: Fetched = new Map();
    return {
      ...recordOf(base),
      readSplit: (key) => this.#readSplit(metricId, key, base, fetched),
      commit: (change) => this.#serialised(metricId, () => this.#commit(metricId, change, base, fetched, options.signal)),
    };
  }

  readSplit(metricId: string, key: string): Promise<Uint8Array | null> {
    return this.#readSplit(metricId, key, null, null);
  }

  deleteMetric(metricId: string): Promise<void> {
    return this.#serialised(metricId, () => this.#delete(metricId));
  }

  async close(): Promise<void> {
    await Promise.all(this.#chains.values());
    this.#cache.clear();
    this.#client.destroy();
  }

  /**
   * `first`: a manifest already read (read(), update()) to follow first; otherwise the
   * current one. `fetched`: an update's objects; the payload is then not cached (a fold
   * reads each split once), while API reads ask for the same splits again.
   */
  async #readSplit(metricId: string, key: string, first: Manifest | null, fetched: Fetched | null): Promise<Uint8Array | null> {
    for (let attempt = 0; ; attempt++) {
      const manifest = attempt === 0 && first !== null ? first : await this.#manifest(metricId);
      const ref = manifest.splits.get(key);
      if (ref === undefined) return null;
      const object = this.#key(metricId, ref.file);
      const cached = this.#records?.get(recordId(object, ref));
      if (cached !== undefined) return cached;
      const record = await this.#fetchRecord(metricId, manifest, ref, fetched);
      if (record !== null) {
        const payload = decodeSplit(record, object);
        if (fetched === null) this.#records?.set(recordId(object, ref), payload);
        return payload;
      }
      // A commit of another process freed it after we read the manifest: follow the new one.
      if (attempt >= 3) throw new CorruptStorageError(object, 'named by the manifest but missing');
    }
  }

  /** The record `ref` names (header and payload); null when its object is gone. */
  async #fetchRecord(metricId: string, manifest: Manifest, ref: SplitRef, fetched: Fetched | null): Promise<Buffer | null> {
    const object = this.#key(metricId, ref.file);
    if (ref.length < 0) return this.#whole(object, ref.file, fetched);
    const size = manifest.packs.get(ref.file);
    if (size === undefined) throw new CorruptStorageError(object, 'absent from the manifest\'s pack table');
    const hot = fetched !== null && packGen(ref.file) === manifest.gen;
    // Without a record cache, the rest of a pack a read fetched whole would be thrown away.
    const whole = size <= (hot ? HOT_PACK_READ_MAX : WHOLE_PACK_READ_MAX) && (fetched !== null || this.#records !== null);
    if (!whole) {
      return this.#range(object, ref.offset, ref.length);
    }
    const pack = await this.#whole(object, ref.file, fetched);
    if (pack === null) return null;
    if (pack.length !== size) throw new CorruptStorageError(object, `${pack.length} bytes where the manifest says ${size}`);
    if (fetched === null) this.#cacheRecords(object, manifest, ref.file, pack);
    return pack.subarray(ref.offset, ref.offset + ref.length);
  }

  /** Caches the payloads of every split `manifest` keeps in `pack`, whose bytes a read fetched whole. */
  #cacheRecords(object: string, manifest: Manifest, pack: string, bytes: Buffer): void {
    if (this.#records === null) return;
    for (const ref of manifest.splits.values()) {
      if (ref.file !== pack) continue;
      const id = recordId(object, ref);
      if (this.#records.get(id) !== undefined) continue;
      try {
        this.#records.set(id, decodeSplit(bytes.subarray(ref.offset, ref.offset + ref.length), object));
      } catch (err) {
        // Reported by the read of that split itself, should one come.
        if (!(err instanceof CorruptStorageError)) throw err;
      }
    }
  }

  /**
   * The whole object: once per update (`fetched`), or shared with the reads asking for it
   * at the same time.
   */
  #whole(object: string, name: string, fetched: Fetched | null): Promise<Buffer | null> {
    if (fetched !== null) return shared(fetched, name, () => this.#get(object, 'reading pack'), true);
    return shared(this.#fetching, object, () => this.#get(object, 'reading pack'), false);
  }

  /**
   * `base`: the manifest an update() read, used as is while it is still what this instance
   * last read or wrote for the metric; otherwise the manifest is read again.
   */
  async #commit(metricId: string, change: CommitChange, base: Manifest, fetched: Fetched, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const current = this.#cache.get(metricId)?.manifest === base ? base : await this.#manifest(metricId);
    const gen = current.gen + 1;
    const pack = packName(gen, randomBytes(4).toString('hex'));
    const splits = new Map(current.splits);
    for (const key of change.del) splits.delete(key);
    for (const key of change.put.keys()) splits.delete(key);
    const moved = await this.#moved(metricId, current, splits, fetched);
    const parts: Uint8Array[] = [];
    let size = 0;
    for (const [key, data] of change.put) {
      const header = encodeSplitHeader(data);
      parts.push(header, data);
      splits.set(key, { file: pack, offset: size, length: header.length + data.length });
      size += header.length + data.length;
    }
    for (const [key, record] of moved) {
      parts.push(record);
      splits.set(key, { file: pack, offset: size, length: record.length });
      size += record.length;
    }
    const named = new Set<string>();
    for (const ref of splits.values()) if (ref.length >= 0) named.add(ref.file);
    const packs = new Map([...current.packs].filter(([name]) => named.has(name)));
    if (size > 0) packs.set(pack, size);
    const next: Manifest = { gen, state: change.state, applied: nextApplied(current.applied, change), splits, packs };

    if (size > 0) {
      const packKey = this.#key(metricId, pack);
      try {
        await this.#faultHook?.('pack', packKey);
        await this.#put(packKey, parts, 'writing pack', signal);
        // Lost while the pack went out: no manifest names it yet, and none will.
        signal?.throwIfAborted();
      } catch (err) {
        // The manifest was not written: nothing names the pack, which a PUT that failed
        // without an answer may have stored all the same.
        await this.#deleteKeys([packKey]).catch(() => undefined);
        throw err;
      }
    }
    const manifestKey = this.#key(metricId, MANIFEST);
    let etag: string;
    try {
      await this.#faultHook?.('manifest', manifestKey);
      etag = await this.#put(manifestKey, [encodeManifest(next)], `committing metric ${metricId}`, signal);
    } catch (err) {
      // The manifest may have been stored without an answer reaching us: the next commit
      // must read it rather than build on the one cached.
      this.#cache.delete(metricId);
      throw err;
    }
    this.#remember(metricId, etag, next);
    // Freeing superseded objects is best effort: what stays is found by a later sweep.
    if (gen % FULL_SWEEP_EVERY === 0) {
      await this.#sweep(metricId, next).catch(() => undefined);
      return;
    }
    const live = filesOf(next);
    const superseded = [...filesOf(current)].filter((f) => !live.has(f)).map((f) => this.#key(metricId, f));
    await this.#deleteKeys(superseded).catch(() => undefined);
  }

  /**
   * The records a commit copies into its pack (key -> record), out of `splits` (what
   * `current` keeps that the commit does not rewrite): those of packs whose live bytes
   * fell below LIVE_SHARE of them, those of the emptiest packs past MAX_LIVE_PACKS, and
   * split objects of the older layout.
   */
  async #moved(metricId: string, current: Manifest, splits: ReadonlyMap<string, SplitRef>, fetched: Fetched): Promise<Array<[string, Buffer]>> {
    const liveBytes = new Map<string, number>();
    const legacy: Array<[string, SplitRef]> = [];
    for (const [key, ref] of splits) {
      if (ref.length < 0) legacy.push([key, ref]);
      else liveBytes.set(ref.file, (liveBytes.get(ref.file) ?? 0) + ref.length);
    }
    const moving = new Set<string>();
    const kept: Array<{ name: string; live: number }> = [];
    let fetches = 0;
    // Sparsest first, so that the bound on fetches leaves the least useful ones for later.
    const candidates = [...liveBytes].map(([name, live]) => ({ name, live, share: live / (current.packs.get(name) ?? live) }))
      .sort((a, b) => a.share - b.share);
    for (const p of candidates) {
      if (p.share < LIVE_SHARE && (fetched.has(p.name) || fetches++ < COMPACTIONS_PER_COMMIT)) moving.add(p.name);
      else kept.push(p);
    }
    // The commit's own pack joins those kept.
    kept.sort((a, b) => a.live - b.live);
    while (kept.length + 1 > MAX_LIVE_PACKS) moving.add((kept.shift() as { name: string }).name);

    const byPack = new Map<string, Array<[string, SplitRef]>>();
    for (const [key, ref] of splits) {
      if (!moving.has(ref.file)) continue;
      const list = byPack.get(ref.file) ?? [];
      list.push([key, ref]);
      byPack.set(ref.file, list);
    }
    const jobs: Array<Array<[string, SplitRef]>> = [...byPack.values()];
    for (const entry of legacy.slice(0, LEGACY_MOVES_PER_COMMIT)) jobs.push([entry]);
    const out: Array<[string, Buffer]> = [];
    await eachLimited(jobs, this.#inFlight, async (refs) => {
      const file = refs[0][1].file;
      const object = this.#key(metricId, file);
      let bytes: Buffer | null;
      let start: number;
      if (refs[0][1].length < 0 || fetched.has(file)) {
        bytes = await this.#whole(object, file, fetched);
        start = 0;
      } else {
        // One range from the first live record to the end of the last.
        start = Math.min(...refs.map(([, r]) => r.offset));
        const end = Math.max(...refs.map(([, r]) => r.offset + r.length));
        bytes = await this.#range(object, start, end - start);
      }
      if (bytes === null) throw new CorruptStorageError(object, 'named by the manifest but missing');
      for (const [key, ref] of refs) {
        const record = ref.length < 0 ? bytes : bytes.subarray(ref.offset - start, ref.offset - start + ref.length);
        if (ref.length >= 0 && record.length !== ref.length) throw new CorruptStorageError(object, 'truncated split record');
        decodeSplit(record, object); // a damaged record is reported, not copied on
        out.push([key, record]);
      }
    });
    // In the order of the manifest, whatever order the GETs answered in.
    const order = new Map([...splits.keys()].map((k, i) => [k, i]));
    return out.sort((a, b) => (order.get(a[0]) ?? 0) - (order.get(b[0]) ?? 0));
  }

  /**
   * The manifest goes first, in one request: from then on every reader sees no metric. The
   * objects follow; what a crash leaves of them is deleted by the next deleteMetric of the
   * same id or a later commit's sweep.
   */
  async #delete(metricId: string): Promise<void> {
    this.#cache.delete(metricId);
    const manifestKey = this.#key(metricId, MANIFEST);
    await this.#send(`deleting metric ${metricId}`,
      () => this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: manifestKey })));
    const objects = await this.#list(this.#key(metricId, ''));
    await this.#deleteKeys(objects);
  }

  /** Deletes the metric's objects its manifest does not name (the caller holds the metric). */
  async #sweep(metricId: string, manifest: Manifest): Promise<void> {
    const live = new Set([...filesOf(manifest)].map((f) => this.#key(metricId, f)));
    live.add(this.#key(metricId, MANIFEST));
    const garbage = (await this.#list(this.#key(metricId, ''))).filter((k) => !live.has(k));
    await this.#deleteKeys(garbage);
  }

  /**
   * The metric's manifest: a conditional GET answers 304 without a body while the cached
   * copy is current, so a reader never serves a manifest older than its request.
   */
  async #manifest(metricId: string): Promise<Manifest> {
    const key = this.#key(metricId, MANIFEST);
    const cached = this.#cache.get(metricId);
    const etag = cached === undefined || cached.etag === '' ? undefined : cached.etag;
    const got = await this.#send('reading manifest', async () => {
      try {
        const out = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, IfNoneMatch: etag }));
        const body = out.Body === undefined ? new Uint8Array(0) : await out.Body.transformToByteArray();
        return { etag: out.ETag ?? '', body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
      } catch (err) {
        if (isNotFound(err)) return null;
        if (statusOf(err) === 304) return 'unchanged' as const;
        throw err;
      }
    });
    if (got === null) {
      // Remembered too, so that the first commit of a new metric builds on what its
      // update() read instead of reading the manifest again.
      this.#remember(metricId, '', EMPTY_MANIFEST);
      return EMPTY_MANIFEST;
    }
    if (got === 'unchanged' && cached !== undefined) {
      this.#remember(metricId, cached.etag, cached.manifest);
      return cached.manifest;
    }
    if (got === 'unchanged') throw new StorageUnavailableError(`reading manifest ${key}: 304 without a condition`);
    const manifest = decodeManifest(got.body, key);
    this.#remember(metricId, got.etag, manifest);
    return manifest;
  }

  /** The object's bytes; null when it does not exist. */
  #get(key: string, what: string): Promise<Buffer | null> {
    return this.#send(what, async () => {
      try {
        const out = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
        return await bodyOf(out.Body);
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    });
  }

  /** `length` bytes of the object from `offset`; null when it does not exist. */
  async #range(key: string, offset: number, length: number): Promise<Buffer | null> {
    const bytes = await this.#send('reading split', async () => {
      try {
        const out = await this.#client.send(new GetObjectCommand({
          Bucket: this.bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}`,
        }));
        const body = await bodyOf(out.Body);
        // A server that ignores Range answers 200 with the whole object.
        return out.ContentRange === undefined && body.length > length ? body.subarray(offset, offset + length) : body;
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    });
    if (bytes !== null && bytes.length !== length) throw new CorruptStorageError(key, `${bytes.length} bytes at ${offset} where ${length} were named`);
    return bytes;
  }
  /** PUTs `parts` as one object; resolves to its ETag. No try starts once `signal` has aborted. */
  async #put(key: string, parts: Uint8Array[], what: string, signal?: AbortSignal): Promise<string> {
    const body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const out = await this.#send(what, () => this.#client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body })), signal);
    return out.ETag ?? '';
  }

  /** Every key under `prefix`. */
  async #list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#send('listing objects', () => this.#client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: prefix, ContinuationToken: token,
      })));
      for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  }

  /** Deletes `keys` (absent ones are no error), a thousand per request. */
  async #deleteKeys(keys: readonly string[]): Promise<void> {
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += DELETE_BATCH) batches.push(keys.slice(i, i + DELETE_BATCH));
    await eachLimited(batches, this.#inFlight, async (batch) => {
      const out = await this.#send('deleting objects', () => this.#client.send(new DeleteObjectsCommand({
        Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      })));
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        throw new StorageUnavailableError(`deleting objects: ${failed[0].Key ?? '?'}: ${failed[0].Code ?? '?'} (${failed.length} failed)`);
      }
    });
  }

  /**
   * One S3 request with bounded exponential backoff and jitter on transient failures (no
   * answer, 5xx, throttling); what still fails becomes StorageUnavailableError. Once
   * `signal` has aborted no try starts and its reason is thrown.
   */
  async #send<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await retry(() => {
        signal?.throwIfAborted();
        return fn();
      }, { attempts: this.#attempts, baseMs: this.#baseMs, maxMs: this.#maxMs, retryable: isTransient, signal });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof StorageUnavailableError || err instanceof CorruptStorageError) throw err;
      throw new StorageUnavailableError(`${what}: ${describe(err)}`, { cause: err });
    }
  }

  #remember(metricId: string, etag: string, manifest: Manifest): void {
    this.#cache.delete(metricId); // re-insert: Map order doubles as LRU order
    this.#cache.set(metricId, { etag, manifest });
    if (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value as string);
  }

  #key(metricId: string, name: string): string {
    if (!METRIC_ID.test(metricId)) throw new RangeError(`invalid metric id ${JSON.stringify(metricId)}`);
    return `${this.prefix}${metricId}/${name}`;
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

/** The objects a manifest keeps alive: the packs and split objects its splits name. */
function filesOf(m: Manifest): Set<string> {
  const files = new Set(m.packs.keys());
  for (const ref of m.splits.values()) files.add(ref.file);
  return files;
}

/** Where a split's payload is, as a cache key: objects are immutable and never renamed. */
function recordId(object: string, ref: SplitRef): string {
  return ref.length < 0 ? object : `${object}@${ref.offset}`;
}

/** The generation that wrote a pack; -1 for another name. */
function packGen(name: string): number {
  const m = PACK_GEN.exec(name);
  return m === null ? -1 : Number(m[1]);
}

/**
 * `fetch()`'s promise under `key`, started when absent: concurrent callers share one
 * request. A failure is forgotten, so that a later call tries again; a result is kept
 * with `keep`, else forgotten once it settles.
 */
function shared<T>(map: Map<string, Promise<T>>, key: string, fetch: () => Promise<T>, keep: boolean): Promise<T> {
  const running = map.get(key);
  if (running !== undefined) return running;
  const started = fetch();
  map.set(key, started);
  const forget = (): void => {
    if (map.get(key) === started) map.delete(key);
  };
  started.then(keep ? undefined : forget, forget);
  return started;
}

interface Body {
  transformToByteArray(): Promise<Uint8Array>;
}

async function bodyOf(body: Body | undefined): Promise<Buffer> {
  const bytes = body === undefined ? new Uint8Array(0) : await body.transformToByteArray();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

interface S3ErrorShape {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? (err as S3ErrorShape).$metadata?.httpStatusCode : undefined;
}

function s3ErrorName(err: unknown): string | undefined {
  const name = typeof err === 'object' && err !== null ? (err as S3ErrorShape).name : undefined;
  return typeof name === 'string' ? name : undefined;
}

function isNotFound(err: unknown): boolean {
  const name = s3ErrorName(err);
  return statusOf(err) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

const THROTTLED = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable']);

/** Worth another try: no HTTP answer at all (refused, reset, timed out), 5xx, 408, 429, throttling. */
function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  if (status === undefined) return true;
  return status >= 500 || status === 408 || status === 429 || THROTTLED.has(s3ErrorName(err) ?? '');
}

function describe(err: unknown): string {
  const status = statusOf(err);
  const code = typeof err === 'object' && err !== null ? (err as S3ErrorShape).code : undefined;
  const parts = [s3ErrorName(err), typeof code === 'string' ? code : undefined, status === undefined ? undefined : `HTTP ${status}`];
  const label = parts.filter((p) => p !== undefined && p !== '').join(' ');
  const message = err instanceof Error ? err.message : String(err);
  return label === '' ? message : `${label}: ${message}`;
}

export interface S3StorageUrl {
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  credentials: { accessKeyId: string; secretAccessKey: string } | null;
}

const URL_PARAMS = new Set(['region', 'tls', 'prefix']);

/**
 * `s3://ACCESS:SECRET@host[:port]/bucket?region=us-east-1&tls=false&prefix=tally/`.
 * Key and secret are percent-decoded (tempauth's "account:user" keys hold a colon: %3A);
 * without them the SDK's default chain (AWS_ACCESS_KEY_ID, profiles, instance roles)
 * applies. `tls` defaults to true, `region` to us-east-1; a non-empty prefix gains a
 * trailing "/". Requests use path-style addressing (http://host/bucket/key), which every
 * S3-compatible server answers.
 */
export function parseS3Url(url: string): S3StorageUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StorageConfigError(`storage URL ${JSON.stringify(url)} is not a URL`);
  }
  const redacted = `s3://${u.host}${u.pathname}${u.search}`;
  if (u.protocol !== 's3:') throw new StorageConfigError(`storage URL ${redacted}: not an s3:// URL`);
  if (u.hostname === '') throw new StorageConfigError(`storage URL ${redacted}: no host`);
  const path = u.pathname.replace(/^\/+|\/+$/g, '');
  if (path === '' || path.includes('/')) {
    throw new StorageConfigError(`storage URL ${redacted}: the path must be the bucket alone (a key prefix goes in ?prefix=)`);
  }
  for (const name of u.searchParams.keys()) {
    if (!URL_PARAMS.has(name)) throw new StorageConfigError(`storage URL ${redacted}: unknown parameter ${name} (known: ${[...URL_PARAMS].join(', ')})`);
  }
  const tls = u.searchParams.get('tls') ?? 'true';
  if (tls !== 'true' && tls !== 'false') throw new StorageConfigError(`storage URL ${redacted}: tls must be true or false`);
  let prefix = u.searchParams.get('prefix') ?? '';
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  if ((u.username === '') !== (u.password === '')) {
    throw new StorageConfigError(`storage URL ${redacted}: give both the access key and the secret, or neither`);
  }
  let credentials: S3StorageUrl['credentials'] = null;
  if (u.username !== '') {
    try {
      credentials = { accessKeyId: decodeURIComponent(u.username), secretAccessKey: decodeURIComponent(u.password) };
    } catch {
      throw new StorageConfigError(`storage URL ${redacted}: bad percent-encoding in the credentials`);
    }
  }
  return {
    endpoint: `${tls === 'true' ? 'https' : 'http'}://${u.host}`,
    region: u.searchParams.get('region') ?? 'us-east-1',
    bucket: path,
    prefix,
    credentials,
  };
}

/**
 * A client for `parsed`: path-style, no retries of its own (S3AggregateStorage retries
 * with the project's backoff), timeouts so that a hung server fails instead of hanging,
 * and checksums only where S3 requires them (servers other than AWS often reject the
 * newer CRC headers and aws-chunked bodies).
 */
export function createS3Client(parsed: S3StorageUrl): S3Client {
  const client = new S3Client({
    endpoint: parsed.endpoint,
    region: parsed.region,
    forcePathStyle: true,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 30_000 },
    ...(parsed.credentials === null ? {} : { credentials: parsed.credentials }),
  });
  // DeleteObjects must carry a checksum of its body; the SDK sends a CRC32, but S3 servers
  // other than AWS (Swift's s3api, older MinIO and Ceph) accept only Content-MD5, which AWS
  // accepts too.
  client.middlewareStack.add((next, context) => async (args) => {
    const request = args.request as { headers?: Record<string, string>; body?: unknown };
    if (context.commandName === 'DeleteObjectsCommand' && request.headers !== undefined
      && (typeof request.body === 'string' || request.body instanceof Uint8Array)) {
      for (const name of Object.keys(request.headers)) {
        const lower = name.toLowerCase();
        if (lower.startsWith('x-amz-checksum-') || lower === 'x-amz-sdk-checksum-algorithm') delete request.headers[name];
      }
      request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
    }
    return next(args);
  }, { step: 'build', name: 'tallyContentMd5', priority: 'low' });
  return client;
}

/** `s3://...` (see parseS3Url): S3AggregateStorage in that bucket, created when missing. */
export const s3StorageDriver: StorageDriver = {
  open: async (url) => {
    const parsed = parseS3Url(url);
    const storage = new S3AggregateStorage({ client: createS3Client(parsed), bucket: parsed.bucket, prefix: parsed.prefix });
    try {
      await storage.ensureBucket();
    } catch (err) {
      await storage.close();
      throw err;
    }
    return storage;
  },
};
