#!/usr/bin/env node
// Where a deployment of many Tally hosts saturates, from what each shared server costs per
// thousand measures (measured by reliability/deployment.mjs --json) and what each server
// can do (measured here, on the same servers as the deployment test, with the requests
// Tally sends: etcd transactions creating a key under a lease, S3 PUTs and conditional
// GETs of small objects, Redis' own CPU time per command, PostgreSQL short transactions).
//
//   node reliability/deployment.mjs --json /tmp/deploy.json
//   node reliability/scaling.mjs --costs /tmp/deploy.json [--seconds 8] [--json F]
//
// The model: N hosts each ingesting and processing at H measures/s put N*H measures/s on the
// servers, plus what N idle hosts cost (heartbeats, lock renewals, sack listings). A server
// of capacity C (requests/s) whose cost is c requests per measure and i requests/s per idle
// host saturates when N*H*c + N*i > C: its ceiling is (C - N*i) / c measures/s. The
// deployment's throughput is the smallest ceiling, or N*H when that is smaller.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs, ROOT } from './lib.mjs';
import { startBackends } from './backends.mjs';

const USAGE = `usage: node reliability/scaling.mjs --costs FILE [options]
  --costs F        JSON written by reliability/deployment.mjs --json (per-server costs)
  --seconds S      length of each capacity measurement (default 8)
  --concurrency N  requests in flight per capacity measurement (default 32)
  --host-rate H    measures/s one host ingests and processes (default 100000: see docs/SCALING.md)
  --json F         write capacities and the table to F`;
const opts = parseArgs(process.argv.slice(2), { costs: '', seconds: 8, concurrency: 32, hostRate: 100_000, json: '' }, USAGE);
if (!opts.costs) throw new Error(`--costs is required\n${USAGE}`);
const deployment = JSON.parse(readFileSync(opts.costs, 'utf8'));
// The client libraries are the drivers' own dependencies, resolved from their packages.
const requireFrom = (pkg) => createRequire(join(ROOT, 'packages', pkg, 'package.json'));

/** Requests per second of `fn` called with `concurrency` in flight for `seconds`. */
async function rate(what, fn) {
  const end = Date.now() + opts.seconds * 1000;
  let done = 0;
  let failed = 0;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.concurrency }, async () => {
    while (Date.now() < end) {
      try {
        await fn(n++);
        done++;
      } catch {
        failed++;
      }
    }
  }));
  const perSecond = done / ((performance.now() - t0) / 1000);
  console.log(`  ${what.padEnd(52)} ${Math.round(perSecond).toLocaleString('en')} /s${failed ? ` (${failed} failed)` : ''}`);
  return perSecond;
}

const dir = mkdtempSync(join(tmpdir(), 'tally-scaling-'));
const backends = await startBackends({ dir, listenOn: '127.0.0.1', log: () => {} });
const capacity = {};
try {
  console.log(`capacities on this machine (${opts.concurrency} in flight, ${opts.seconds} s each):`);
  // etcd: what a lock costs it, a transaction creating a key under a lease if absent.
  {
    const { Etcd3 } = requireFrom('coordination')('etcd3');
    const u = new URL(backends.urls.coordination);
    const client = new Etcd3({ hosts: `http://${u.host}` });
    const lease = client.lease(30);
    await lease.grant();
    capacity.etcd = await rate('etcd: create-if-absent transactions under a lease', (i) =>
      client.if(`cap/${i}`, 'Create', '==', 0).then(lease.put(`cap/${i}`).value('x')).commit());
    await lease.revoke();
    client.close();
  }
  // S3 (Swift with s3api here): PUTs of 2 KiB objects (a split) and conditional GETs (a manifest).
  {
    const { S3Client, PutObjectCommand, GetObjectCommand, CreateBucketCommand } = requireFrom('storage')('@aws-sdk/client-s3');
    const u = new URL(backends.urls.storage.replace(/^s3:/, 'http:'));
    const client = new S3Client({
      endpoint: `http://${u.host}`, region: 'us-east-1', forcePathStyle: true,
      credentials: { accessKeyId: decodeURIComponent(u.username), secretAccessKey: decodeURIComponent(u.password) },
    });
    const bucket = `capacity-${process.pid}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const body = Buffer.alloc(2048, 7);
    capacity.s3 = await rate('S3: PUT of a 2 KiB object', (i) => client.send(new PutObjectCommand({ Bucket: bucket, Key: `cap/${i % 5000}`, Body: body })));
    const head = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'cap/0' }));
    const etag = head.ETag;
    await head.Body?.transformToByteArray();
    capacity.s3Get = await rate('S3: conditional GET answered 304', (i) => client.send(new GetObjectCommand({ Bucket: bucket, Key: 'cap/0', IfNoneMatch: etag }))
      .catch((e) => { if (e?.$metadata?.httpStatusCode !== 304) throw e; void i; }));
    client.destroy();
  }
  // Redis: one thread; what Tally asks of it is measured as CPU time per command (below).
  {
    const u = new URL(backends.urls.incoming);
    const out = execFileSync('redis-benchmark', ['-h', u.hostname, '-p', u.port, '-q', '-n', '200000', '-c', String(opts.concurrency), '-t', 'set']).toString();
    capacity.redisSet = Number(/SET: ([\d.]+) requests per second/.exec(out.replace(/\r/g, '\n'))?.[1] ?? NaN);
    console.log(`  ${'Redis: SET (redis-benchmark)'.padEnd(52)} ${Math.round(capacity.redisSet).toLocaleString('en')} /s`);
  }
  // PostgreSQL: short read-write transactions (pgbench's TPC-B-like script).
  {
    const bin = execFileSync('bash', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1']).toString().trim();
    const pg = backends.urls.indexer;
    execFileSync(join(bin, 'pgbench'), ['-i', '-q', '-s', '2', pg], { stdio: 'ignore' });
    const out = execFileSync(join(bin, 'pgbench'), ['-c', '8', '-j', '2', '-T', String(opts.seconds), pg], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    capacity.postgresql = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN);
    console.log(`  ${'PostgreSQL: pgbench transactions'.padEnd(52)} ${Math.round(capacity.postgresql).toLocaleString('en')} /s`);
  }
} finally {
  await backends.stop();
  rmSync(dir, { recursive: true, force: true });
}

// Redis' ceiling from its CPU: one second of command time per second.
const costs = deployment.costs;
const per = (server, k) => costs[server].per1000[k] / 1000;
const idle = (server, k) => costs[server].idlePerHostPerSecond[k];
const servers = [
  { name: 'Redis (incoming)', perMeasure: per('redis', 'commandUsec') / 1e6, idlePerHost: idle('redis', 'commandUsec') / 1e6, capacity: 1, unit: 's of its thread' },
  { name: 'etcd (coordination)', perMeasure: Math.max(0, per('etcd', 'requests')), idlePerHost: idle('etcd', 'requests'), capacity: capacity.etcd, unit: 'requests' },
  { name: 'S3 (aggregates)', perMeasure: per('s3', 'requests'), idlePerHost: idle('s3', 'requests'), capacity: capacity.s3, unit: 'requests' },
  { name: 'PostgreSQL (index)', perMeasure: per('postgresql', 'requests'), idlePerHost: idle('postgresql', 'requests'), capacity: capacity.postgresql, unit: 'transactions' },
];
console.log(`\nper measure (deployment run: ${deployment.hosts} hosts, ${deployment.sacks} sacks, replicas ${deployment.replicas}) and per idle host:`);
for (const s of servers) console.log(`  ${s.name.padEnd(22)} ${s.perMeasure.toPrecision(3)} ${s.unit} per measure, ${s.idlePerHost.toPrecision(3)} per idle host and second, capacity ${s.capacity.toPrecision(4)}/s`);
const table = [];
console.log(`\nthroughput at H = ${opts.hostRate.toLocaleString('en')} measures/s per host (measures/s; the first server to saturate named):`);
for (const n of [1, 3, 10, 100, 1000]) {
  const ceilings = servers.map((s) => ({ name: s.name, ceiling: s.perMeasure > 0 ? (s.capacity - n * s.idlePerHost) / s.perMeasure : (s.capacity - n * s.idlePerHost > 0 ? Infinity : 0) }));
  const worst = ceilings.reduce((a, b) => (b.ceiling < a.ceiling ? b : a));
  const hosts = n * opts.hostRate;
  const limit = Math.max(0, Math.min(hosts, worst.ceiling));
  table.push({ hosts: n, hostsRate: hosts, ceilings, limit, by: limit === hosts ? 'the hosts' : worst.name });
  console.log(`  ${String(n).padStart(5)} hosts: ${Math.round(limit).toLocaleString('en').padStart(14)}  limited by ${limit === hosts ? 'the hosts themselves' : worst.name}`
    + `  (${ceilings.map((c) => `${c.name.split(' ')[0]} ${c.ceiling === Infinity ? '-' : Math.round(Math.max(0, c.ceiling)).toLocaleString('en')}`).join(', ')})`);
}
if (opts.json) writeFileSync(opts.json, JSON.stringify({ capacity, servers, table, options: opts }, null, 2));
