#!/usr/bin/env node
// Debian's Gnocchi 4.4.2 as a distributed deployment on the shared servers of backends.mjs:
// the index in a PostgreSQL database of its own, aggregates in an S3 bucket of its own on
// Swift (through the counting relay), incoming measures in a Redis database of their own,
// coordination (tooz: hash ring of the metricd workers, sack locks) on the second Redis
// server of backends.mjs (`coordinationRedis`), one API (uWSGI, as
// shared/reference/gnocchi-server.sh runs it) and N gnocchi-metricd processes, one per
// "host", each with one processing worker.
//
//   node reliability/gnocchi-deployment.mjs --metricd 2    # starts servers and Gnocchi, prints the endpoint, runs until Ctrl-C
//
// Needs root (like gnocchi-server.sh: Debian's packages) and python3-boto3, python3-redis
// (scripts/install-debian-deps).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, json, parseArgs, requestUrl, sleep } from './lib.mjs';
import { startBackends } from './backends.mjs';

const WSGI = '/usr/lib/python3/dist-packages/gnocchi/rest/wsgi.py';

/** A child in a process group of its own (uWSGI and cotyledon fork workers), output to `log`. */
function spawnGroup(cmd, args, log, env = {}) {
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env }, detached: true });
  closeSync(fd);
  const proc = { child, pid: child.pid, alive: true, log };
  proc.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    proc.alive = false;
    resolve({ code, signal });
  }));
  const signal = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // gone
    }
  };
  proc.stop = async (graceMs = 10_000) => {
    if (!proc.alive) return;
    signal('SIGTERM');
    const t = setTimeout(() => signal('SIGKILL'), graceMs);
    await proc.exited;
    clearTimeout(t);
    // Workers left behind by a master that died first.
    signal('SIGKILL');
  };
  proc.killNow = () => signal('SIGKILL');
  return proc;
}

const started = new Set();
process.on('exit', () => {
  for (const p of started) p.killNow();
});

/** The last lines of a log, to quote when a process fails. */
const tail = (file, n = 20) => {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
};

/**
 * Starts Gnocchi on `backends` (startBackends({ coordinationRedis: true })). `tag` names this
 * deployment's database, bucket and Redis database (`redisDb`, 1-15: 0 is left to Tally).
 * Returns { url, processes: { api, metricd[] }, database, bucket, stop() }; stop() ends the
 * processes and drops the database (the bucket stays, for the caller to count).
 */
export async function startGnocchiDeployment({ backends, dir, metricd = 1, tag = `g${process.pid}`, redisDb = 1, host = '127.0.0.1', port = 0,
  apiProcesses = 2, apiThreads = 8, sacks = 128, processingDelay = 1, log = () => {} }) {
  if (!backends.urls.coordinationRedis) throw new Error('startGnocchiDeployment: start the backends with { coordinationRedis: true }');
  if (!/^[a-z0-9-]{1,26}$/.test(tag)) throw new Error(`tag '${tag}': lowercase letters, digits and '-', at most 26 (Gnocchi's s3_bucket_prefix)`);
  mkdirSync(dir, { recursive: true });
  const database = `gnocchi_${tag.replace(/-/g, '_')}`;
  const indexerUrl = backends.createDatabase(database);
  // Gnocchi reads the libpq URL through SQLAlchemy (psycopg2), which takes the socket
  // folder and port from the query as Tally does.
  const redis = new URL(backends.urls.incoming);
  const incomingUrl = `redis://${redis.hostname}:${redis.port}?db=${redisDb}`;
  const coordinationUrl = `${backends.urls.coordinationRedis}?db=${redisDb}`;
  const s3 = backends.s3;
  // Gnocchi's metricd turns on keyspace notifications server-wide (its wake-up on new
  // measures); they are turned back to what they were when the deployment stops, so that
  // whatever runs next on the server does not pay for them.
  const redisCli = (...args) => execFileSync('redis-cli', ['-h', redis.hostname, '-p', redis.port, ...args]).toString();
  const keyspaceEvents = redisCli('CONFIG', 'GET', 'notify-keyspace-events').split('\n')[1] ?? '';
  const conf = join(dir, 'gnocchi.conf');
  writeFileSync(conf, `[DEFAULT]
debug = false
coordination_url = ${coordinationUrl}
[api]
auth_mode = basic
max_limit = 1000
[indexer]
url = ${indexerUrl}
[storage]
driver = s3
s3_endpoint_url = ${s3.endpoint}
s3_access_key_id = ${s3.accessKeyId}
s3_secret_access_key = ${s3.secretAccessKey}
s3_region_name = ${s3.region}
s3_bucket_prefix = ${tag}
[incoming]
driver = redis
redis_url = ${incomingUrl}
[metricd]
workers = 1
metric_processing_delay = ${processingDelay}
`);
  const processes = { api: null, metricd: [] };
  const stopAll = async () => {
    await Promise.all([processes.api, ...processes.metricd].filter(Boolean).map((p) => p.stop()));
    for (const p of [processes.api, ...processes.metricd]) started.delete(p);
    redisCli('CONFIG', 'SET', 'notify-keyspace-events', keyspaceEvents);
  };
  try {
    // The schema, the default archive policies and rule, the bucket, the sacks.
    let t = Date.now();
    const up = spawnGroup('gnocchi-upgrade', ['--config-file', conf, `--sacks-number=${sacks}`], join(dir, 'upgrade.log'));
    const upExit = await up.exited;
    if (upExit.code !== 0) throw new Error(`gnocchi-upgrade failed (${upExit.code ?? upExit.signal}):\n${tail(up.log)}`);
    log(`gnocchi-upgrade: ${Date.now() - t} ms (database ${database}, bucket ${tag}-aggregates, incoming ${incomingUrl}, coordination ${coordinationUrl})`);

    const apiPort = port || await freePort();
    const url = `http://${host}:${apiPort}`;
    processes.api = spawnGroup('uwsgi_python3', ['--http-socket', `${host}:${apiPort}`, '--wsgi-file', WSGI,
      '--processes', String(apiProcesses), '--threads', String(apiThreads), '--master', '--lazy-apps', '--die-on-term',
      '--disable-logging', '--pyargv', `--config-file ${conf}`], join(dir, 'api.log'), { GNOCCHI_CONFIG_FILE: conf });
    started.add(processes.api);
    for (let i = 0; i < metricd; i++) {
      const p = spawnGroup('gnocchi-metricd', ['--config-file', conf], join(dir, `metricd-${i + 1}.log`));
      processes.metricd.push(p);
      started.add(p);
    }
    t = Date.now();
    for (;;) {
      for (const p of [processes.api, ...processes.metricd]) {
        if (!p.alive) throw new Error(`a Gnocchi process exited while starting:\n${tail(p.log)}`);
      }
      const r = await requestUrl(url, 'GET', '/v1/status', { timeoutMs: 2000 });
      if (r.status === 200) break;
      if (Date.now() - t > 120_000) throw new Error(`Gnocchi API not answering after 120 s:\n${tail(processes.api.log)}`);
      await sleep(200);
    }
    log(`Gnocchi API ${url} answering after ${Date.now() - t} ms; ${metricd} metricd process(es)`);
    return {
      url,
      processes,
      database,
      bucket: `${tag}-aggregates`,
      conf,
      async stop() {
        await stopAll();
        backends.dropDatabase(database);
      },
    };
  } catch (err) {
    await stopAll();
    try {
      backends.dropDatabase(database);
    } catch {
      // the server may be gone too
    }
    throw err;
  }
}

/**
 * Checks a deployment end to end: archive policies made by gnocchi-upgrade, a metric of
 * `medium`, measures posted, processed by metricd (backlog 0), read back. Returns what it saw.
 */
export async function smokeTest(url, { timeoutMs = 60_000 } = {}) {
  const policies = json(await requestUrl(url, 'GET', '/v1/archive_policy'))?.map((p) => p.name) ?? [];
  if (!policies.includes('medium')) throw new Error(`no 'medium' archive policy (policies: ${policies.join(', ')})`);
  const m = await requestUrl(url, 'POST', '/v1/metric', { body: { archive_policy_name: 'medium' } });
  if (m.status !== 201) throw new Error(`creating a metric: ${m.status} ${m.body}`);
  const id = json(m).id;
  const measures = Array.from({ length: 120 }, (_v, i) => ({ timestamp: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(), value: i }));
  const p = await requestUrl(url, 'POST', `/v1/metric/${id}/measures`, { body: measures });
  if (p.status !== 202) throw new Error(`posting measures: ${p.status} ${p.body}`);
  const t = Date.now();
  for (;;) {
    const s = json(await requestUrl(url, 'GET', '/v1/status?details=false'));
    if (s?.storage?.summary?.measures === 0) break;
    if (Date.now() - t > timeoutMs) throw new Error(`backlog not processed within ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await sleep(200);
  }
  const processedMs = Date.now() - t;
  const r = await requestUrl(url, 'GET', `/v1/metric/${id}/measures?aggregation=mean&granularity=60`);
  const points = json(r);
  // 120 measures 0..119 at 1 s: two minutes, means 29.5 and 89.5.
  if (r.status !== 200 || points.length !== 2 || points[0][2] !== 29.5 || points[1][2] !== 89.5) {
    throw new Error(`reading back: ${r.status} ${r.body}`);
  }
  return { policies, processedMs, points, metric: id };
}

const USAGE = `usage: node reliability/gnocchi-deployment.mjs [options]
  --metricd N     gnocchi-metricd processes, one worker each (default 1)
  --port P        API port (default: a free one)
  --sacks N       incoming sacks (default 128, Gnocchi's)
  --dir D         folder for the servers' data and the logs (default: a new temp folder, removed at exit)
  --check         run the smoke test (a metric of 'medium', measures in, processed, read back), then stop
Starts the shared servers of backends.mjs (PostgreSQL, Redis x2, Swift s3api, etcd) and
Gnocchi 4.4.2 on them; prints the endpoint and runs until Ctrl-C.`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2), { metricd: 1, port: 0, sacks: 128, dir: '', check: false }, USAGE);
  const dir = opts.dir || mkdtempSync(join(tmpdir(), 'gnocchi-deploy-'));
  const say = (m) => console.log(m);
  let backends = null;
  let deployment = null;
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    await deployment?.stop().catch(() => undefined);
    await backends?.stop().catch(() => undefined);
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void stop(0));
  try {
    backends = await startBackends({ dir: join(dir, 'servers'), listenOn: '127.0.0.1', log: say, coordinationRedis: true });
    deployment = await startGnocchiDeployment({ backends, dir: join(dir, 'gnocchi'), metricd: opts.metricd, port: opts.port, sacks: opts.sacks, log: say });
    say(`GNOCCHI_URL=${deployment.url}`);
    say(`logs and config in ${join(dir, 'gnocchi')}; basic auth, user admin`);
    if (opts.check) {
      const r = await smokeTest(deployment.url);
      say(`smoke test passed: archive policies ${r.policies.join(', ')}; 120 measures processed within ${r.processedMs} ms; read back ${JSON.stringify(r.points)}`);
      const usage = backends.bucketUsage(deployment.bucket, `${r.metric}/`);
      if (usage.objects === 0) throw new Error(`no object of metric ${r.metric} in bucket ${deployment.bucket}`);
      say(`bucket ${deployment.bucket}: ${usage.objects} objects, ${usage.bytes} bytes for the metric`);
      await stop(0);
    }
  } catch (err) {
    console.error(`gnocchi-deployment: ${err.stack ?? err}`);
    await stop(1);
  }
}
