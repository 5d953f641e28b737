import { createHash, randomBytes } from 'node:crypto';
import {
  CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { eachLimited, retry } from '@tally/retry';
import { CorruptStorageError, StorageConfigError, StorageUnavailableError } from './errors.js';
import {
  EMPTY_MANIFEST, decodeManifest, decodeSplit, encodeManifest, encodeSplitHeader, nextApplied, recordOf,
  type Manifest, type SplitRef,
} from './format.js';
import { RecordCache } from './record-cache.js';
import { RECORD_CACHE_BYTES } from './file-storage.js';
import type { AggregateStorage, CommitChange, MetricSnapshot, MetricUpdate } from './types.js';
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
   * Test hook: called before each split PUT and before the manifest PUT; throwing
   * simulates a crash or a failing server at that point. Never set in production.
   */
  faultHook?: (op: 'split' | 'manifest', key: string) => void | Promise<void>;
}

interface Cached {
  etag: string;
  manifest: Manifest;
}

/** Split PUTs (and deletes) one commit keeps in flight: a commit of a big metric writes thousands. */
export const REQUESTS_IN_FLIGHT = 16;
/**
 * A commit deletes the objects its manifest superseded by name; one commit in this many
 * also lists the metric's objects and deletes those no manifest names (what a commit that
 * failed or crashed before or during its manifest PUT left behind).
 */
const FULL_SWEEP_EVERY = 16;
/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000;
const MANIFEST = 'manifest';
const METRIC_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/**
 * Aggregates in an S3 bucket: `<prefix><metric id>/manifest` and the split objects it
 * names, `<prefix><metric id>/<gen>-<8 hex>-<n>.split` (format.ts: the manifest encodes
 * them compactly, each object is one split record with its CRC). Split objects are never
 * rewritten: a commit PUTs the splits it changed under new names, then PUTs the manifest,
 * which is the commit point (S3 replaces an object whole, never partly), then deletes what
 * the old manifest named and the new one does not. A reader reads the manifest, then the
 * splits it names; one that finds a split gone (a later commit freed it) reads the
 * manifest again. Commits to one metric must be serialised across processes by the
 * caller (metricd's lock); within a process they are.
 *
 * Garbage: a commit that fails before its manifest PUT deletes the splits it wrote; when
 * the manifest PUT itself fails the manifest may have been written all the same (a lost
 * answer), so its splits stay. Whatever a crash or such a failure leaves is deleted by a
 * later commit's sweep (one in FULL_SWEEP_EVERY lists the metric's objects), or by
 * deleteMetric, which deletes every object under the metric's name.
 *
 * Requests: a commit of k changed splits is k + 1 PUTs, plus one DeleteObjects when it
 * superseded any object; update() is one GET of the manifest. A read is a conditional GET
 * of the manifest (304 without a body while it has not changed) plus, for a split not yet
 * cached, one GET: split objects are immutable, so their payloads are cached for good.
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
    return { ...recordOf(manifest), readSplit: (key) => this.#readSplit(metricId, key, manifest, true) };
  }

  async update(metricId: string): Promise<MetricUpdate> {
    const base = await this.#manifest(metricId);
    return {
      ...recordOf(base),
      readSplit: (key) => this.#readSplit(metricId, key, base, false),
      commit: (change) => this.#serialised(metricId, () => this.#commit(metricId, change, base)),
    };
  }

  readSplit(metricId: string, key: string): Promise<Uint8Array | null> {
    return this.#readSplit(metricId, key, null, true);
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
   * `first`: a manifest already read (update()) to follow first; otherwise the current one.
   * `cache`: keep the payload (API reads ask for the same splits again; a fold reads each
   * split once).
   */
  async #readSplit(metricId: string, key: string, first: Manifest | null, cache: boolean): Promise<Uint8Array | null> {
    for (let attempt = 0; ; attempt++) {
      const manifest = attempt === 0 && first !== null ? first : await this.#manifest(metricId);
      const ref = manifest.splits.get(key);
      if (ref === undefined) return null;
      const object = this.#key(metricId, ref.file);
      const cached = this.#records?.get(object);
      if (cached !== undefined) return cached;
      const bytes = await this.#get(object, 'reading split');
      if (bytes !== null) {
        const payload = decodeSplit(bytes, object);
        if (cache) this.#records?.set(object, payload);
        return payload;
      }
      // A commit of another process freed it after we read the manifest: follow the new one.
      if (attempt >= 3) throw new CorruptStorageError(object, 'named by the manifest but missing');
    }
  }

  /**
   * `base`: the manifest an update() read, used as is while it is still what this instance
   * last read or wrote for the metric; otherwise the manifest is read again.
   */
  async #commit(metricId: string, change: CommitChange, base: Manifest): Promise<void> {
    const current = this.#cache.get(metricId)?.manifest === base ? base : await this.#manifest(metricId);
    const gen = current.gen + 1;
    const nonce = randomBytes(4).toString('hex');
    const splits = new Map(current.splits);
    for (const key of change.del) splits.delete(key);
    const writes: Array<[string, Uint8Array]> = [];
    for (const [key, data] of change.put) {
      const file = `${gen}-${nonce}-${writes.length}.split`;
      splits.set(key, { file, offset: 0, length: -1 });
      writes.push([this.#key(metricId, file), data]);
    }
    const next: Manifest = { gen, state: change.state, applied: nextApplied(current.applied, change), splits, packs: new Map() };
    const attempted: string[] = [];
    try {
      await eachLimited(writes, this.#inFlight, async ([object, data]) => {
        await this.#faultHook?.('split', object);
        // Before the PUT: one that failed without an answer may have stored the object.
        attempted.push(object);
        await this.#put(object, [encodeSplitHeader(data), data], 'writing split');
      });
    } catch (err) {
      // The manifest was not written: nothing names these objects.
      await this.#deleteKeys(attempted).catch(() => undefined);
      throw err;
    }
    const manifestKey = this.#key(metricId, MANIFEST);
    await this.#faultHook?.('manifest', manifestKey);
    const etag = await this.#put(manifestKey, [encodeManifest(next)], `committing metric ${metricId}`);
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
        const body = out.Body === undefined ? new Uint8Array(0) : await out.Body.transformToByteArray();
        return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    });
  }

  /** PUTs `parts` as one object; resolves to its ETag. */
  async #put(key: string, parts: Uint8Array[], what: string): Promise<string> {
    const body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const out = await this.#send(what, () => this.#client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body })));
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
   * answer, 5xx, throttling); what still fails becomes StorageUnavailableError.
   */
  async #send<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await retry(fn, { attempts: this.#attempts, baseMs: this.#baseMs, maxMs: this.#maxMs, retryable: isTransient });
    } catch (err) {
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

/** The objects a manifest keeps alive. */
function filesOf(m: Manifest): Set<string> {
  return new Set([...m.splits.values()].map((ref: SplitRef) => ref.file));
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
