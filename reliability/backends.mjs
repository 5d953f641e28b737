// The shared servers of a multi-host deployment, from Debian's packages, started once for a
// test: PostgreSQL (index), Redis (incoming), etcd (coordination) and Swift with s3api
// (aggregates), listening on `listenOn` (the bridge's address when hosts run in network
// namespaces). Redis and etcd are started here directly, each one command line, so that a
// test can SIGKILL one and start it again on the same data; PostgreSQL and Swift through
// scripts/pg-server and scripts/s3-server.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT, sleep } from './lib.mjs';

async function freePortOn(host) {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * A TCP relay in front of an HTTP/1.1 server that counts the requests and bytes going
 * through it: the per-measure cost of the object store, which keeps no such counters.
 * Requests are counted by walking the client's stream: headers up to the blank line, then
 * a Content-Length body (the S3 SDK sends no chunked request bodies to a plain endpoint).
 */
async function countingRelay(listenHost, upstreamHost, upstreamPort) {
  const counts = { requests: 0, bytesUp: 0, bytesDown: 0 };
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, upstreamHost);
    let pending = Buffer.alloc(0);
    let body = 0;
    client.on('data', (chunk) => {
      counts.bytesUp += chunk.length;
      let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        if (body > 0) {
          const take = Math.min(body, buf.length);
          body -= take;
          buf = buf.subarray(take);
          if (body > 0) break;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        counts.requests++;
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString('latin1'));
        body = m ? Number(m[1]) : 0;
        buf = buf.subarray(end + 4);
      }
      pending = Buffer.from(buf);
    });
    upstream.on('data', (chunk) => {
      counts.bytesDown += chunk.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
  });
  await new Promise((resolve) => server.listen(0, listenHost, resolve));
  return { port: server.address().port, counts, close: () => new Promise((r) => server.close(r)) };
}

function spawnLogged(cmd, args, logFile, opts = {}) {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { stdio: [opts.stdin ?? 'ignore', fd, fd], env: { ...process.env, ...(opts.env ?? {}) } });
  closeSync(fd);
  return child;
}

async function waitFor(what, check, child, timeoutMs = 60_000) {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (child && child.exitCode !== null) throw new Error(`${what}: the server exited (code ${child.exitCode})`);
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

const stopChild = async (child, sig = 'SIGTERM') => {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(sig);
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
};

/**
 * Starts the servers; returns their URLs for Tally, and the means to kill and restart the
 * coordination service and to take the object store away and back.
 */
export async function startBackends({ dir, listenOn, log = () => {}, coordinationRedis = false }) {
  mkdirSync(dir, { recursive: true });
  const cleanups = [];

  // PostgreSQL: the test command's server when it has one, else scripts/pg-server's; a
  // database of this run's own. Its unix socket is a file: reachable from every namespace.
  const pgBase = process.env.TALLY_TEST_PG_URL || execFileSync('bash', [join(ROOT, 'scripts', 'pg-server'), 'start']).toString().trim();
  const db = `deploy_${process.pid}`;
  execFileSync('psql', ['-q', pgBase, '-c', `CREATE DATABASE ${db}`]);
  cleanups.push(() => execFileSync('psql', ['-q', pgBase, '-c', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]));
  const databaseUrl = (name) => pgBase.replace(/\/postgres(\?|$)/, `/${name}$1`);
  const indexer = databaseUrl(db);
  // Databases made later (createDatabase), dropped at stop.
  const extraDatabases = new Set();

  // Redis, appending every write to its AOF and fsyncing it before answering.
  const startRedis = async (name) => {
    const port = await freePortOn(listenOn);
    const redisDir = join(dir, name);
    mkdirSync(redisDir, { recursive: true });
    const child = spawnLogged('redis-server', ['--bind', listenOn, '--port', String(port), '--dir', redisDir, '--appendonly', 'yes',
      '--appendfsync', 'always', '--save', '', '--protected-mode', 'no'], join(dir, `${name}.log`));
    await waitFor(name, async () => execFileSync('redis-cli', ['-h', listenOn, '-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().includes('PONG'), child);
    return { child, port };
  };
  const { child: redis, port: redisPort } = await startRedis('redis');
  // A second Redis, for coordination through Redis (tooz's driver, as Gnocchi uses it), so
  // that its requests are counted apart from incoming's.
  const coordRedis = coordinationRedis ? await startRedis('redis-coordination') : null;

  // etcd, on a data folder that outlives a kill.
  const etcdPort = await freePortOn(listenOn);
  const etcdPeer = await freePortOn('127.0.0.1');
  const etcdDir = join(dir, 'etcd');
  let etcd = null;
  const startEtcd = async () => {
    etcd = spawnLogged('etcd', ['--name', 'tally', '--data-dir', etcdDir,
      '--listen-client-urls', `http://${listenOn}:${etcdPort}`, '--advertise-client-urls', `http://${listenOn}:${etcdPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `tally=http://127.0.0.1:${etcdPeer}`], join(dir, 'etcd.log'));
    await waitFor('etcd', async () => {
      const r = await fetch(`http://${listenOn}:${etcdPort}/health`);
      return r.ok && (await r.json()).health === 'true';
    }, etcd);
  };
  await startEtcd();

  // Swift with s3api; SIGUSR1/SIGUSR2 stop and start its endpoint, the data kept.
  const s3proc = spawnLogged('bash', [join(ROOT, 'scripts', 's3-server'), '--stdin'], join(dir, 's3.log'), { stdin: 'pipe' });
  let s3Url = null;
  // The script's output goes to its log; its announcements are read back from there.
  const s3Said = (prefix) => readFileSync(join(dir, 's3.log'), 'utf8').split('\n').filter((l) => l.startsWith(prefix));
  await waitFor('s3 (swift)', async () => {
    const lines = s3Said('TALLY_S3_URL=');
    if (lines.length) s3Url = lines[0].slice('TALLY_S3_URL='.length);
    return s3Url !== null;
  }, s3proc, 120_000);

  // Tally talks to Swift through a relay that counts requests and bytes.
  const swift = new URL(s3Url.replace(/^s3:/, 'http:'));
  const relay = await countingRelay(listenOn, swift.hostname, Number(swift.port));
  cleanups.push(() => void relay.close());
  s3Url = s3Url.replace(`@${swift.hostname}:${swift.port}/`, `@${listenOn}:${relay.port}/`);

  // The same endpoint as plain parameters, for S3 clients that take them one by one.
  const s3Parsed = new URL(s3Url.replace(/^s3:/, 'http:'));
  const s3 = {
    endpoint: `http://${listenOn}:${relay.port}`,
    accessKeyId: decodeURIComponent(s3Parsed.username),
    secretAccessKey: decodeURIComponent(s3Parsed.password),
    region: s3Parsed.searchParams.get('region') ?? 'us-east-1',
    bucket: s3Parsed.pathname.slice(1),
  };

  let storageUp = true;
  const proxyEvents = () => s3Said('TALLY_S3_PROXY=').length;

  const urls = {
    /** The server's maintenance database, for tools that make databases of their own. */
    indexerServer: pgBase,
    indexer,
    incoming: `redis://${listenOn}:${redisPort}/0`,
    storage: s3Url,
    coordination: `etcd://${listenOn}:${etcdPort}/tally`,
    /** With `coordinationRedis`: the second Redis server, `redis://host:port`. */
    coordinationRedis: coordRedis ? `redis://${listenOn}:${coordRedis.port}` : null,
  };
  log(`servers: index ${indexer.replace(/\?.*/, '')}, incoming ${urls.incoming}, storage ${s3Url.replace(/\/\/[^@]*@/, '//')}, coordination ${urls.coordination}`);

  const redisStats = (port) => {
    const info = execFileSync('redis-cli', ['-h', listenOn, '-p', String(port), 'INFO', 'stats']).toString();
    const field = (name) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    // Redis runs commands on one thread: the microseconds they took say how much of it a workload uses.
    const commandstats = execFileSync('redis-cli', ['-h', listenOn, '-p', String(port), 'INFO', 'commandstats']).toString();
    const usec = [...commandstats.matchAll(/,usec=(\d+),/g)].reduce((a, m) => a + Number(m[1]), 0);
    return { requests: field('total_commands_processed'), commandUsec: usec, bytesIn: field('total_net_input_bytes'), bytesOut: field('total_net_output_bytes') };
  };

  return {
    urls,
    /** The object store's endpoint (through the counting relay), credentials, region and the default bucket. */
    s3,
    describe: () => `PostgreSQL (index, unix socket), Redis ${listenOn}:${redisPort} (incoming, appendfsync always), Swift s3api via a counting relay ${listenOn}:${relay.port} (aggregates), etcd ${listenOn}:${etcdPort} (coordination)`
      + (coordRedis ? `, Redis ${listenOn}:${coordRedis.port} (coordination through Redis, appendfsync always)` : ''),
    /**
     * A new, empty database on the PostgreSQL server (dropped at stop), as a URL of the
     * same form as `urls.indexer`: `postgresql://postgres@/<name>?host=<socket folder>&port=<port>`.
     */
    createDatabase(name) {
      execFileSync('psql', ['-q', pgBase, '-c', `CREATE DATABASE ${name}`]);
      extraDatabases.add(name);
      return databaseUrl(name);
    },
    dropDatabase(name) {
      execFileSync('psql', ['-q', pgBase, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
      extraDatabases.delete(name);
    },
    /**
     * Requests and bytes each server has handled so far (differences of two readings are the
     * cost of what ran between). PostgreSQL's are those of `databases` (default: the one of
     * `urls.indexer`); Redis's and etcd's are server-wide.
     */
    async counters({ databases = [db] } = {}) {
      const metrics = await (await fetch(`http://${listenOn}:${etcdPort}/metrics`)).text();
      const sum = (name) => metrics.split('\n').filter((l) => l.startsWith(name)).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
      const names = databases.map((d) => `'${d}'`).join(', ');
      const pg = execFileSync('psql', ['-Atq', pgBase, '-c',
        `SELECT coalesce(sum(xact_commit + xact_rollback), 0), coalesce(sum(tup_inserted + tup_updated + tup_deleted), 0), coalesce(sum(tup_returned), 0) FROM pg_stat_database WHERE datname IN (${names})`]).toString().trim().split('|').map(Number);
      return {
        redis: redisStats(redisPort),
        ...(coordRedis ? { redisCoordination: redisStats(coordRedis.port) } : {}),
        etcd: { requests: sum('grpc_server_handled_total'), bytesIn: sum('etcd_network_client_grpc_received_bytes_total'), bytesOut: sum('etcd_network_client_grpc_sent_bytes_total') },
        s3: { requests: relay.counts.requests, bytesIn: relay.counts.bytesUp, bytesOut: relay.counts.bytesDown },
        postgresql: { requests: pg[0], rowsWritten: pg[1], rowsRead: pg[2] },
      };
    },
    /**
     * Objects and bytes under `prefix` in `bucket`, listed straight from Swift (not through
     * the relay, so that counting them costs nothing in the counters). boto3 from Debian's
     * python3 does the listing: Node has no S3 client outside the storage package.
     */
    bucketUsage(bucket, prefix = '') {
      const script = `
import sys, boto3
c = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name=sys.argv[4])
n = b = 0
for page in c.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[5], Prefix=sys.argv[6]):
    for o in page.get('Contents', []):
        n += 1
        b += o['Size']
print(n, b)`;
      const out = execFileSync('/usr/bin/python3', ['-c', script, `http://${swift.hostname}:${swift.port}`, s3.accessKeyId, s3.secretAccessKey, s3.region, bucket, prefix]).toString().trim().split(' ').map(Number);
      return { objects: out[0], bytes: out[1] };
    },
    async killCoordination() {
      await stopChild(etcd, 'SIGKILL');
    },
    async startCoordination() {
      await startEtcd();
    },
    async stopStorage() {
      if (!storageUp) return;
      const n = proxyEvents();
      s3proc.kill('SIGUSR1');
      await waitFor('s3 proxy stopping', async () => proxyEvents() > n, s3proc);
      storageUp = false;
    },
    async startStorage() {
      if (storageUp) return;
      const n = proxyEvents();
      s3proc.kill('SIGUSR2');
      await waitFor('s3 proxy starting', async () => proxyEvents() > n, s3proc, 120_000);
      storageUp = true;
    },
    async stop() {
      s3proc.stdin?.end();
      await Promise.all([stopChild(s3proc), stopChild(etcd), stopChild(redis), stopChild(coordRedis?.child)]);
      for (const name of extraDatabases) cleanups.push(() => execFileSync('psql', ['-q', pgBase, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]));
      for (const c of cleanups) {
        try {
          c();
        } catch {
          // best effort
        }
      }
    },
  };
}
