// Throwaway etcd and PostgreSQL servers for the driver tests, started from Debian's
// binaries in a temporary folder on free ports, and stoppable and restartable on the same
// data and ports (the outage tests). `null` when the binary is not installed.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TestServer {
  url: string;
  /** Stops the server (SIGTERM to etcd, a fast shutdown of PostgreSQL); its data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same data and address. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

export function etcdBinary(): string | null {
  return which('etcd');
}

async function waitFor(what: string, check: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A single-node etcd. Heartbeat 10 ms and election 100 ms bring etcd's minimum lease TTL
 * (1.5 election timeouts, rounded up to seconds) down to 1 s, the TTL the membership tests' timeouts ask for.
 */
export async function startEtcd(): Promise<TestServer | null> {
  const bin = etcdBinary();
  if (bin === null) return null;
  const dir = mkdtempSync(join(tmpdir(), 'tally-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const args = [
    '--name', 'tally-test', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `tally-test=http://127.0.0.1:${peer}`,
    '--heartbeat-interval', '10', '--election-timeout', '100', '--log-level', 'error',
  ];
  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    const c = spawn(bin, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    child = c;
    await waitFor('etcd', async () => {
      if (c.exitCode !== null) throw new Error(`etcd exited (${c.exitCode})`);
      const res = await fetch(`http://127.0.0.1:${client}/health`);
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    }, 15_000);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `etcd://127.0.0.1:${client}`,
    start,
    stop,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(a) - Number(b));
  return versions.length === 0 ? null : join(root, versions[versions.length - 1], 'bin');
}

/** A PostgreSQL cluster of its own, listening on a unix socket in its folder (run as `postgres` when we are root). */
export async function startPostgres(): Promise<TestServer | null> {
  const bin = postgresBinDir();
  if (bin === null) return null;
  const dir = mkdtempSync(join(tmpdir(), 'tally-pg-'));
  const data = join(dir, 'data');
  let ids: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    ids = {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
    };
    chownSync(dir, ids.uid, ids.gid);
  }
  const run = (cmd: string, args: string[]): Promise<void> => new Promise((resolve, reject) => {
    const c = spawn(join(bin, cmd), args, { stdio: ['ignore', 'ignore', 'pipe'], ...ids });
    let err = '';
    c.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} failed (${code}): ${err}`))));
  });
  const port = await freePort();
  await run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  const start = (): Promise<void> => run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-o',
    `-k ${dir} -p ${port} -c listen_addresses='' -c fsync=off`, 'start']);
  const stop = (): Promise<void> => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
  await start();
  return {
    url: `postgresql://postgres@/postgres?host=${encodeURIComponent(dir)}&port=${port}`,
    start,
    stop,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const holderScript = fileURLToPath(new URL('./lock-holder.fixture.js', import.meta.url));

/** A child process holding lock `name` of the coordinator `url` names; `reply` is 'held' or 'busy'. */
export function spawnHolder(url: string, name: string): Promise<{ child: ChildProcess; reply: string }> {
  const child = fork(holderScript, [url, name], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (reply) => resolve({ child, reply: String(reply) }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
  });
}

export function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

