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
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { StorageConfigError, StorageUnavailableError, openStorage } from './index.js';
import { S3AggregateStorage, createS3Client, parseS3Url, type S3AggregateStorageOptions, type S3StorageUrl } from './s3-storage.js';
import { change, commit, storageContract } from './contract.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

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

  test('s3: a crash between the split PUTs and the manifest PUT leaves the old version; a later sweep frees the orphans', async () => {
    const { store, client } = await counted();
    const id = randomUUID();
    await commit(store, id, change({ state: bytes('v1'), put: new Map([['a', bytes('A1')], ['b', bytes('B1')]]), applied: ['x'] }));
    const before = await objects(client, store, id);
    assert.equal(before.length, 3, `manifest + 2 splits: ${before.join(' ')}`);
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
    assert.equal(orphans.length, 2, 'the two split objects of the crashed commit are left behind');

    // A failure before the manifest PUT (the second split PUT) deletes what the commit wrote.
    let puts = 0;
    const failing = handle(store, {
      faultHook: (op) => {
        if (op === 'split' && ++puts === 2) throw new StorageUnavailableError('simulated failing PUT');
      },
      requestsInFlight: 1,
    });
    await assert.rejects(commit(failing, id, change({ put: new Map([['a', bytes('A3')], ['d', bytes('D3')]]) })), StorageUnavailableError);
    assert.deepEqual((await objects(client, store, id)).filter((k) => !before.includes(k)).sort(), orphans.sort());
    assert.equal(text((await handle(store).read(id)).state), 'v1', 'nothing of the failed commit is visible');
    assert.equal(text(await handle(store).readSplit(id, 'a')), 'A1');

    // Commits go on from v1; the one reaching generation 16 lists the metric's objects and
    // deletes what no manifest names.
    for (let gen = 2; gen <= 16; gen++) await commit(store, id, change({ state: bytes(`v${gen}`), put: new Map([['a', bytes(`A${gen}`)]]) }));
    const left = await objects(client, store, id);
    assert.equal(left.length, 3, `manifest + a + b only: ${left.join(' ')}`);
    assert.ok(orphans.every((o) => !left.includes(o)));
    assert.equal(text(await store.readSplit(id, 'a')), 'A16');
    assert.equal(text(await store.readSplit(id, 'b')), 'B1');
    for (const s of [crashing, failing, store]) await s.close();
  });

  test('s3: deleteMetric removes every object of the metric, orphans included', async () => {
    const { store, client } = await counted();
    const id = randomUUID();
    await commit(store, id, change({ put: new Map([['a', bytes('A')], ['b', bytes('B')]]) }));
    const crashing = handle(store, { faultHook: (op) => { if (op === 'manifest') throw new Error('crash'); } });
    await assert.rejects(commit(crashing, id, change({ put: new Map([['c', bytes('C')]]) })));
    assert.equal((await objects(client, store, id)).length, 4);
    await store.deleteMetric(id);
    assert.deepEqual(await objects(client, store, id), []);
    assert.equal((await crashing.read(id)).state, null);
    await crashing.close();
    await store.close();
  });

  test('s3: requests per commit and per read are bounded (k changed splits: k + 1 PUTs)', async () => {
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
      await u.commit(change({ put: splits('a') }));
      assert.deepEqual(tally(log), { 'PUT PutObjectCommand 200': k + 1 }, `first commit of ${k} splits`);
      log.length = 0;
      const started = performance.now();
      await commit(store, id, change({ put: splits('b') }));
      const ms = performance.now() - started;
      const second = tally(log);
      assert.deepEqual(second, { 'GET GetObjectCommand 304': 1, 'PUT PutObjectCommand 200': k + 1, 'POST DeleteObjectsCommand 200': 1 },
        `rewrite of ${k} splits: the update's conditional GET, k + 1 PUTs, one DeleteObjects of the superseded splits`);
      log.length = 0;
      assert.equal(text(await store.readSplit(id, 'k0')), 'b0');
      const coldRead = tally(log);
      assert.deepEqual(coldRead, { 'GET GetObjectCommand 304': 1, 'GET GetObjectCommand 200': 1 }, 'uncached split: conditional GET of the manifest + GET of the split');
      log.length = 0;
      assert.equal(text(await store.readSplit(id, 'k0')), 'b0');
      assert.deepEqual(tally(log), { 'GET GetObjectCommand 304': 1 }, 'cached split: only the conditional GET of the manifest, answered without a body');
      report.push(`k=${k}: update ${JSON.stringify(updateLog)}, rewrite ${JSON.stringify(second)} in ${ms.toFixed(0)} ms, cold read ${JSON.stringify(coldRead)}`);
    }
    console.log(`s3 requests per operation:\n  ${report.join('\n  ')}`);
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
