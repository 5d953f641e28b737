// The S3 driver against a real S3-compatible server: OpenStack Swift with s3api, started
// here by scripts/s3-server (or the one TALLY_S3_URL names, e.g. started by hand with that
// script). Skipped, with a message, only when Swift's binaries are not installed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { StorageConfigError, StorageUnavailableError, openStorage } from './index.js';
import {
  LEGACY_MOVES_PER_COMMIT, LIVE_SHARE, MAX_LIVE_PACKS, S3AggregateStorage, createS3Client, parseS3Url, type S3AggregateStorageOptions, type S3StorageUrl,
} from './s3-storage.js';
import { encodeManifest, encodeSplitHeader, type SplitRef } from './format.js';
import { change, commit, storageContract } from './contract.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));
/** As a plain Uint8Array (a Buffer is not deep-equal to one). */
const plain = (b: Uint8Array | null): Uint8Array | null => (b === null ? null : new Uint8Array(b));

/** The server: one this file starts, or the one TALLY_S3_URL names. */
interface Server {
  url: string;
  /** Present when this file started the server: stops or restarts its S3 endpoint. */
  endpoint?: (on: boolean) => Promise<void>;
}

const root = fileURLToPath(new URL('../../..', import.meta.url));
const swiftMissing = spawnSync('sh', ['-c', 'command -v swift-proxy-server && command -v memcached'], { stdio: 'ignore' }).status !== 0;

async function startServer(): Promise<Server> {
  const child: ChildProcessWithoutNullStreams = spawn(join(root, 'scripts', 's3-server'), ['--stdin'], { stdio: 'pipe' });
  const lines = createInterface({ input: child.stdout });
  const waiting: Array<{ prefix: string; resolve: (line: string) => void }> = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  lines.on('line', (line) => {
    const i = waiting.findIndex((w) => line.startsWith(w.prefix));
    if (i >= 0) waiting.splice(i, 1)[0].resolve(line);
  });
  const next = (prefix: string): Promise<string> => new Promise((resolve, reject) => {
    waiting.push({ prefix, resolve });
    child.once('exit', (code) => reject(new Error(`s3-server exited (${code}) before printing ${prefix}: ${stderr}`)));
  });
  after(() => {
    child.stdin.end();
    child.kill('SIGTERM');
  });
  const url = (await next('TALLY_S3_URL=')).slice('TALLY_S3_URL='.length);
  return {
    url,
    endpoint: async (on) => {
      const done = next(on ? 'TALLY_S3_PROXY=started' : 'TALLY_S3_PROXY=stopped');
      child.kill(on ? 'SIGUSR2' : 'SIGUSR1');
      await done;
    },
  };
}

const fromEnv = process.env.TALLY_S3_URL;
const server: Server | null = fromEnv !== undefined && fromEnv !== '' ? { url: fromEnv } : swiftMissing ? null : await startServer();

// Registered after the server is up: the runner starts with the first test registered.
test('s3 URLs: bucket, prefix, region, TLS and percent-encoded credentials', () => {
  assert.deepEqual(parseS3Url('s3://tally%3Atester:se%2Fcret@127.0.0.1:8080/aggregates?region=eu-west-3&tls=false&prefix=tally'), {
    endpoint: 'http://127.0.0.1:8080', region: 'eu-west-3', bucket: 'aggregates', prefix: 'tally/',
    credentials: { accessKeyId: 'tally:tester', secretAccessKey: 'se/cret' },
  });
  assert.deepEqual(parseS3Url('s3://s3.example.com/b/'), {
    endpoint: 'https://s3.example.com', region: 'us-east-1', bucket: 'b', prefix: '', credentials: null,
  });
  for (const bad of ['s3://host', 's3://host/b/c', 's3://host/b?tls=no', 's3://host/b?bucket=x', 's3://key@host/b', 's3://k:%zz@host/b']) {
    assert.throws(() => parseS3Url(bad), StorageConfigError, bad);
  }
  // The secret never shows in an error.
  assert.throws(() => parseS3Url('s3://key:hunter2@host/b/c'), (err: Error) => !err.message.includes('hunter2'));
});

if (server === null) {
  test('s3 driver against a real server', { skip: 'swift-proxy-server or memcached not installed (scripts/install-debian-deps installs them)' }, () => undefined);
} else {
  const base = parseS3Url(server.url);
  /** The server's URL with a prefix of its own, so tests never see each other's objects. */
  const isolatedUrl = (): string => `${server.url}&prefix=${randomUUID()}`;
  const handle = (s: S3AggregateStorage, options: Partial<S3AggregateStorageOptions> = {}, parsed: S3StorageUrl = base): S3AggregateStorage =>
    new S3AggregateStorage({ client: createS3Client(parsed), bucket: s.bucket, prefix: s.prefix, ...options });
  /**
   * A storage on its own prefix, with its client's requests recorded as "METHOD command
   * status" ("-" when no answer came).
   */
  const counted = async (options: Partial<S3AggregateStorageOptions> = {}, parsed: S3StorageUrl = base)
    : Promise<{ store: S3AggregateStorage; log: string[]; client: S3Client }> => {
    const opened = await openStorage(isolatedUrl()) as S3AggregateStorage;
    await opened.close();
    const client = createS3Client(parsed);
    const log: string[] = [];
    client.middlewareStack.add((next, context) => async (args) => {
      const request = `${(args.request as { method: string }).method} ${context.commandName}`;
      try {
        const out = await next(args);
        log.push(`${request} ${(out.response as { statusCode?: number }).statusCode ?? '?'}`);
        return out;
      } catch (err) {
        log.push(`${request} ${(err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? '-'}`);
        throw err;
      }
    }, { step: 'finalizeRequest', name: 'countRequests' });
    return { store: new S3AggregateStorage({ client, bucket: opened.bucket, prefix: opened.prefix, ...options }), log, client };
  };
  const objects = async (client: S3Client, s: S3AggregateStorage, metricId: string): Promise<string[]> => {
    const out = await client.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: `${s.prefix}${metricId}/` }));
    return (out.Contents ?? []).map((o) => (o.Key ?? '').slice(s.prefix.length + metricId.length + 1)).sort();
  };
  const tally = (log: string[]): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const l of log) out[l] = (out[l] ?? 0) + 1;
    return out;
  };

  storageContract('s3', {
    create: async () => openStorage(isolatedUrl()),
    reopen: async (storage) => handle(storage as S3AggregateStorage),
  });

  test('s3: openStorage creates a missing bucket, and a second open finds it', async () => {
    const bucket = `tally-${randomUUID().slice(0, 8)}`;
    const url = server.url.replace(/\/tally\?/, `/${bucket}?`);
    const first = await openStorage(url);
    assert.ok(first instanceof S3AggregateStorage);
    assert.equal(first.bucket, bucket);
    const id = randomUUID();
    await commit(first, id, change({ state: bytes('here') }));
    const second = await openStorage(url);
    assert.equal(text((await second.read(id)).state), 'here');
    await first.close();
    await second.close();
  });

  test('s3: a crash between the pack PUT and the manifest PUT leaves the old version; a later sweep frees the orphan', async () => {
    const { store, client } = await counted();
    const id = randomUUID();
    await commit(store, id, change({ state: bytes('v1'), put: new Map([['a', bytes('A1')], ['b', bytes('B1')]]), applied: ['x'] }));
    const before = await objects(client, store, id);
    assert.equal(before.length, 2, `manifest + one pack: ${before.join(' ')}`);
    assert.match(before[0], /^1-[0-9a-f]{8}\.pack$/);
    const crashing = handle(store, {
      faultHook: (op) => {
        if (op === 'manifest') throw new Error('simulated crash before the manifest PUT');
      },
    });
    await assert.rejects(commit(crashing, id, change({ state: bytes('v2'), put: new Map([['a', bytes('A2')], ['c', bytes('C2')]]), applied: ['y'] })),
      /simulated crash/);
    for (const s of [crashing, store, handle(store)]) {
      const rec = await s.read(id);
      assert.equal(text(rec.state), 'v1');
      assert.deepEqual([...rec.applied], ['x']);
      assert.equal(text(await s.readSplit(id, 'a')), 'A1');
      assert.equal(text(await s.readSplit(id, 'b')), 'B1');
      assert.equal(await s.readSplit(id, 'c'), null);
    }
    const orphans = (await objects(client, store, id)).filter((k) => !before.includes(k));
    assert.equal(orphans.length, 1, 'the pack of the crashed commit is left behind');

    // A failing pack PUT: the commit deletes whatever the PUT may have stored.
    const failing = handle(store, {
      faultHook: async (op, key) => {
        if (op !== 'pack') return;
        // As a PUT whose answer was lost: the object is stored, the commit sees a failure.
        await client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: bytes('stored') }));
        throw new StorageUnavailableError('simulated failing PUT');
      },
    });
    await assert.rejects(commit(failing, id, change({ put: new Map([['a', bytes('A3')], ['d', bytes('D3')]]) })), StorageUnavailableError);
    assert.deepEqual((await objects(client, store, id)).filter((k) => !before.includes(k)), orphans);
    assert.equal(text((await handle(store).read(id)).state), 'v1', 'nothing of the failed commit is visible');
    assert.equal(text(await handle(store).readSplit(id, 'a')), 'A1');

    // Commits go on from v1; the one reaching generation 16 lists the metric's objects and
    // deletes what no manifest names.
    for (let gen = 2; gen <= 16; gen++) await commit(store, id, change({ state: bytes(`v${gen}`), put: new Map([['a', bytes(`A${gen}`)]]) }));
    const left = await objects(client, store, id);
    assert.ok(orphans.every((o) => !left.includes(o)), `orphan swept: ${left.join(' ')}`);
    assert.ok(left.includes('manifest'));
    assert.ok(left.some((o) => o.startsWith('16-')), 'the pack of generation 16 holds a');
    assert.ok(left.length <= 3, `manifest, the pack holding a, the pack holding b: ${left.join(' ')}`);
    assert.equal(text(await store.readSplit(id, 'a')), 'A16');
    assert.equal(text(await store.readSplit(id, 'b')), 'B1');
    for (const s of [crashing, failing, store]) await s.close();
  });

  test('s3: a lock lost while a commit writes: no PUT starts after the loss, and a pack no manifest will name is deleted', async () => {
    const { store, client } = await counted();
    const id = randomUUID();
    await commit(store, id, change({ state: bytes('v1'), put: new Map([['a', bytes('A1')]]), applied: ['x'] }));
    const before = await objects(client, store, id);
    const reason = new Error('sack lock lost');
    for (const at of ['pack', 'manifest'] as const) {
      const lost = new AbortController();
      const losing = handle(store, { faultHook: (op) => { if (op === at) lost.abort(reason); } });
      const u = await losing.update(id, { signal: lost.signal });
      await assert.rejects(u.commit(change({ state: bytes('v2'), put: new Map([['a', bytes('A2')]]), applied: ['y'] })), (err) => err === reason);
      for (const s of [losing, handle(store)]) {
        const rec = await s.read(id);
        assert.equal(text(rec.state), 'v1', `lost before the ${at} PUT`);
        assert.deepEqual([...rec.applied], ['x']);
        assert.equal(text(await s.readSplit(id, 'a')), 'A1');
      }
    }
    // Lost before the pack went out: nothing of it stays. Lost between the two PUTs: the pack
    // stays for a later sweep, as after a crash there.
    const left = (await objects(client, store, id)).filter((k) => !before.includes(k));
    assert.equal(left.length, 1, `one orphan pack: ${left.join(' ')}`);
  });

  test('s3: deleteMetric removes every object of the metric, orphans included', async () => {
    const { store, client } = await counted();
    const id = randomUUID();
    await commit(store, id, change({ put: new Map([['a', bytes('A')], ['b', bytes('B')]]) }));
    const crashing = handle(store, { faultHook: (op) => { if (op === 'manifest') throw new Error('crash'); } });
    await assert.rejects(commit(crashing, id, change({ put: new Map([['c', bytes('C')]]) })));
    assert.equal((await objects(client, store, id)).length, 3, 'manifest, pack, orphan pack');
    await store.deleteMetric(id);
    assert.deepEqual(await objects(client, store, id), []);
    assert.equal((await crashing.read(id)).state, null);
    await crashing.close();
    await store.close();
  });

  test('s3: a commit of k changed splits is one pack PUT and one manifest PUT, whatever k', async () => {
    const { store, log } = await counted();
    const report: string[] = [];
    for (const k of [1, 4, 32]) {
      const id = randomUUID();
      const splits = (v: string): Map<string, Uint8Array> => new Map(Array.from({ length: k }, (_, i) => [`k${i}`, bytes(`${v}${i}`)]));
      log.length = 0;
      const u = await store.update(id);
      const updateLog = tally(log);
      assert.deepEqual(updateLog, { 'GET GetObjectCommand 404': 1 }, 'update of a new metric: one GET of the manifest');
      log.length = 0;
      let started = performance.now();
      await u.commit(change({ put: splits('a') }));
      const firstMs = performance.now() - started;
      assert.deepEqual(tally(log), { 'PUT PutObjectCommand 200': 2 }, `first commit of ${k} splits: the pack and the manifest`);
      log.length = 0;
      started = performance.now();
      const fold = await store.update(id);
      for (let i = 0; i < k; i++) assert.equal(text(await fold.readSplit(`k${i}`)), `a${i}`);
      await fold.commit(change({ put: splits('b') }));
      const ms = performance.now() - started;
      const second = tally(log);
      assert.deepEqual(second, {
        'GET GetObjectCommand 304': 1, 'GET GetObjectCommand 200': 1, 'PUT PutObjectCommand 200': 2, 'POST DeleteObjectsCommand 200': 1,
      }, `a fold of ${k} splits: the conditional GET of the manifest, one GET of the previous pack, two PUTs, one DeleteObjects of the dead pack`);
      log.length = 0;
      assert.equal(text(await store.readSplit(id, 'k0')), 'b0');
      const coldRead = tally(log);
      assert.deepEqual(coldRead, { 'GET GetObjectCommand 304': 1, 'GET GetObjectCommand 200': 1 }, 'uncached split: conditional GET of the manifest + GET of its (small) pack');
      log.length = 0;
      assert.equal(text(await store.readSplit(id, `k${k - 1}`)), `b${k - 1}`);
      assert.deepEqual(tally(log), { 'GET GetObjectCommand 304': 1 }, 'another split of that pack, and the same again: cached, only the conditional GET');
      report.push(`k=${k}: first commit ${firstMs.toFixed(0)} ms; fold (update, ${k} split reads, commit) ${JSON.stringify(second)} in ${ms.toFixed(0)} ms; cold read ${JSON.stringify(coldRead)}`);
    }
    console.log(`s3 requests per operation:\n  ${report.join('\n  ')}`);
    await store.close();
  });

  test('s3: a split of a large pack is a ranged GET; a fold GETs the previous pack whole; a commit of no split PUTs only the manifest', async () => {
    const { store, log } = await counted();
    const id = randomUUID();
    const big = (seed: number): Uint8Array => Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31 + seed) & 0xff);
    await commit(store, id, change({ put: new Map([['x', big(1)], ['y', big(2)], ['z', bytes('small')]]) }));
    const reader = handle(store);
    log.length = 0;
    assert.deepEqual(plain(await store.readSplit(id, 'y')), big(2));
    assert.deepEqual(tally(log), { 'GET GetObjectCommand 304': 1, 'GET GetObjectCommand 206': 1 }, 'a 400 KB pack: the range of the split alone');
    log.length = 0;
    assert.equal(text(await store.readSplit(id, 'z')), 'small');
    assert.deepEqual(tally(log), { 'GET GetObjectCommand 304': 1, 'GET GetObjectCommand 206': 1 });
    assert.deepEqual(plain(await reader.readSplit(id, 'x')), big(1));
    log.length = 0;
    const fold = await store.update(id);
    assert.deepEqual(plain(await fold.readSplit('x')), big(1));
    assert.deepEqual(plain(await fold.readSplit('y')), big(2));
    assert.equal(text(await fold.readSplit('z')), 'small');
    assert.deepEqual(tally(log), { 'GET GetObjectCommand 304': 1, 'GET GetObjectCommand 200': 1 }, 'the fold reads the pack of the previous commit once');
    log.length = 0;
    await fold.commit(change({ state: bytes('no split'), applied: ['b1'] }));
    assert.deepEqual(tally(log), { 'PUT PutObjectCommand 200': 1 }, 'nothing to pack: the manifest alone');
    assert.equal(text((await reader.read(id)).state), 'no split');
    assert.deepEqual(plain(await reader.readSplit(id, 'y')), big(2));
    await reader.close();
    await store.close();
  });

  test('s3: a split that stopped changing moves out of its sparse pack, which is deleted; a reader of the older manifest follows', async () => {
    const { store, client } = await counted();
    const id = randomUUID();
    const large = (v: string): Uint8Array => bytes(v.repeat(1000));
    await commit(store, id, change({ put: new Map([['tail', large('1')], ['closed', bytes('C')]]) }));
    const [first] = (await objects(client, store, id)).filter((o) => o.endsWith('.pack'));
    const reader = handle(store);
    const snapshot = await reader.read(id);
    await commit(store, id, change({ put: new Map([['tail', large('2')]]) }));
    const packs = (await objects(client, store, id)).filter((o) => o.endsWith('.pack'));
    assert.equal(packs.length, 1, `'closed' filled a few bytes of the first pack: copied on, the pack deleted (${packs.join(' ')})`);
    assert.notEqual(packs[0], first);
    assert.equal(text(await snapshot.readSplit('closed')), 'C', 'read from the later commit once the pack it named is gone');
    assert.equal(text(await snapshot.readSplit('tail')), '2'.repeat(1000));
    assert.equal(text(await handle(store).readSplit(id, 'closed')), 'C');
    await reader.close();
    await store.close();
  });

  test('s3: the objects of a metric stay bounded and its stored bytes within 1 / LIVE_SHARE of the live ones', async () => {
    const { store, client, log } = await counted();
    const id = randomUUID();
    const SERIES = 12;
    const KEEP_CLOSED = 5;
    const model = new Map<string, Uint8Array>();
    const open = Array.from({ length: SERIES }, () => ({ index: 0, age: 0 }));
    const payload = (key: string, size: number, n: number): Uint8Array => Uint8Array.from({ length: size }, (_, i) => (key.length * 7 + n + i) & 0xff);
    let maxObjects = 0;
    let maxRatio = 0;
    const perCommit: Record<string, number> = {};
    const COMMITS = 45;
    for (let n = 1; n <= COMMITS; n++) {
      // Most commits rewrite every open tail, one in four only a few (measures of a few series).
      const touched = n % 4 === 0 ? [n % SERIES, (n + 5) % SERIES] : Array.from({ length: SERIES }, (_, s) => s);
      const put = new Map<string, Uint8Array>();
      const del: string[] = [];
      for (const s of touched) {
        const tail = open[s];
        // Every so often a series' split fills up: it stays as it is, a new one opens.
        if (tail.age >= 6 + (s % 5)) {
          tail.index++;
          tail.age = 0;
          const old = `s${s}-${tail.index - 1 - KEEP_CLOSED}`;
          if (model.has(old)) del.push(old); // retention
        }
        tail.age++;
        const key = `s${s}-${tail.index}`;
        put.set(key, payload(key, 60 + 40 * tail.age, n));
      }
      const fold = await store.update(id);
      log.length = 0;
      for (const key of put.keys()) {
        if (model.has(key)) assert.deepEqual(plain(await fold.readSplit(key)), model.get(key));
      }
      await fold.commit(change({ state: bytes(`v${n}`), put, del }));
      for (const [key, data] of put) model.set(key, data);
      for (const key of del) model.delete(key);
      const counts = tally(log);
      for (const [request, count] of Object.entries(counts)) perCommit[request] = Math.max(perCommit[request] ?? 0, count);
      assert.equal(counts['PUT PutObjectCommand 200'], 2, `commit ${n}: one pack and the manifest (${JSON.stringify(counts)})`);

      const listed = await client.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: `${store.prefix}${id}/` }));
      const packs = (listed.Contents ?? []).filter((o) => (o.Key ?? '').endsWith('.pack'));
      const stored = packs.reduce((sum, o) => sum + (o.Size ?? 0), 0);
      const live = [...model.values()].reduce((sum, d) => sum + 8 + d.length, 0);
      maxObjects = Math.max(maxObjects, packs.length);
      maxRatio = Math.max(maxRatio, stored / live);
      assert.ok(packs.length <= MAX_LIVE_PACKS, `commit ${n}: ${packs.length} packs`);
      assert.ok(stored <= live / LIVE_SHARE, `commit ${n}: ${stored} bytes stored for ${live} live`);
      if (n % 15 === 0 || n === COMMITS) {
        const other = handle(store);
        for (const [key, data] of model) assert.deepEqual(plain(await other.readSplit(id, key)), data, `commit ${n}: ${key}`);
        assert.equal(text((await other.read(id)).state), `v${n}`);
        await other.close();
      }
    }
    console.log(`s3 ${COMMITS} commits of ${SERIES} series: at most ${maxObjects} packs (bound ${MAX_LIVE_PACKS}), `
      + `stored bytes at most ${maxRatio.toFixed(2)} x the live ones; most requests of one commit ${JSON.stringify(perCommit)}`);
    await store.close();
  });

  test('s3: a metric written one object per split is read, and moves to packs over its next commits', async () => {
    const { store, client, log } = await counted();
    const id = randomUUID();
    const N = LEGACY_MOVES_PER_COMMIT + 8;
    const splits = new Map<string, SplitRef>();
    const put = async (name: string, body: Uint8Array): Promise<void> => {
      await client.send(new PutObjectCommand({ Bucket: store.bucket, Key: `${store.prefix}${id}/${name}`, Body: body }));
    };
    for (let i = 0; i < N; i++) {
      const file = `3-0badcafe-${i}.split`;
      const data = bytes(`old${i}`);
      await put(file, Buffer.concat([encodeSplitHeader(data), data]));
      splits.set(`k${i}`, { file, offset: 0, length: -1 });
    }
    await put('manifest', encodeManifest({ gen: 3, state: bytes('old state'), applied: new Set(['b1']), splits, packs: new Map() }));
    const expected = new Map(Array.from({ length: N }, (_, i) => [`k${i}`, `old${i}`]));
    const check = async (s: S3AggregateStorage, state: string): Promise<void> => {
      const rec = await s.read(id);
      assert.equal(text(rec.state), state);
      for (let i = 0; i < N + 1; i++) assert.equal(text(await rec.readSplit(`k${i}`)), expected.get(`k${i}`) ?? null, `k${i}`);
    };
    const early = handle(store);
    log.length = 0;
    await check(early, 'old state');
    const splitObjects = async (): Promise<number> => (await objects(client, store, id)).filter((o) => o.endsWith('.split')).length;

    await commit(store, id, change({ state: bytes('new state'), put: new Map([['k0', bytes('new0')]]), del: ['k1'], applied: ['b2'] }));
    expected.set('k0', 'new0');
    expected.delete('k1');
    assert.equal(await splitObjects(), N - 2 - LEGACY_MOVES_PER_COMMIT, 'the rewritten, the deleted and a first batch of split objects are gone');
    for (const s of [early, handle(store)]) await check(s, 'new state');
    assert.deepEqual([...(await store.read(id)).applied].sort(), ['b1', 'b2']);

    await commit(store, id, change({ state: bytes('newer'), put: new Map([['k2', bytes('new2')]]) }));
    expected.set('k2', 'new2');
    assert.equal(await splitObjects(), 0, 'the rest moved at the next commit');
    const left = await objects(client, store, id);
    assert.ok(left.length <= 3 && left.every((o) => o === 'manifest' || o.endsWith('.pack')), left.join(' '));
    for (const s of [early, handle(store)]) await check(s, 'newer');
    await early.close();
    await store.close();
  });

  test('s3: a refused request (wrong secret) is not retried and fails with StorageUnavailableError', async () => {
    const wrong = { ...base, credentials: { accessKeyId: base.credentials?.accessKeyId ?? 'x', secretAccessKey: 'not-the-secret' } };
    const { store, log } = await counted({}, wrong);
    const err = await store.read(randomUUID()).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof StorageUnavailableError, String(err));
    assert.match(err.message, /reading manifest: .*HTTP 403/);
    assert.deepEqual(log, ['GET GetObjectCommand 403']);
    await store.close();
  });

  test('s3: the endpoint stopped -> StorageUnavailableError after bounded retries; everything works again once it is back',
    { skip: server.endpoint === undefined ? 'needs the server this file starts (TALLY_S3_URL is set)' : false }, async () => {
      const { store, log } = await counted({ attempts: 3, retryBaseMs: 20, retryMaxMs: 100 });
      const id = randomUUID();
      await commit(store, id, change({ state: bytes('kept'), put: new Map([['a', bytes('A')]]) }));
      await server.endpoint?.(false);
      try {
        log.length = 0;
        const started = Date.now();
        const err = await store.read(id).then(() => null, (e: unknown) => e);
        assert.ok(err instanceof StorageUnavailableError, `read: ${String(err)}`);
        assert.match(err.message, /reading manifest/);
        assert.equal(err.code, 'ECONNREFUSED');
        assert.deepEqual(log, Array(3).fill('GET GetObjectCommand -'), 'three tries, then the error');
        assert.ok(Date.now() - started < 5_000);
        await assert.rejects(commit(store, id, change({ state: bytes('lost') })), StorageUnavailableError);
        await assert.rejects(store.deleteMetric(id), StorageUnavailableError);
      } finally {
        await server.endpoint?.(true);
      }
      assert.equal(text((await store.read(id)).state), 'kept');
      assert.equal(text(await store.readSplit(id, 'a')), 'A');
      await commit(store, id, change({ state: bytes('after'), put: new Map([['a', bytes('A2')]]) }));
      assert.equal(text((await handle(store).read(id)).state), 'after');
      await store.close();
    });
}
