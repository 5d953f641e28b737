// A throwaway redis-server (Debian's binary) for the tests of the Redis drivers: its own
// temporary folder, AOF on, killed and restarted on the same files at will. Imported only
// by tests (`@tally/redis/testing`), never by production code.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Path of redis-server, or null when it is not installed. */
export function redisServerBinary(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path !== '' ? path : null;
}

/** Why Redis tests are skipped here, or false when they can run. */
export function skipWithoutRedis(): string | false {
  return redisServerBinary() === null
    ? 'redis-server is not installed (apt-get install redis-server, or scripts/install-debian-deps)'
    : false;
}

export interface RedisServerOptions {
  /** Listen on 127.0.0.1 at a free port (redis:// URL) instead of a unix socket (redis+unix://). */
  tcp?: boolean;
  /** appendfsync (default always); `appendonly: false` turns the AOF off. */
  appendfsync?: 'always' | 'everysec' | 'no';
  appendonly?: boolean;
}

export class RedisTestServer {
  readonly dir: string;
  readonly #opts: RedisServerOptions;
  #port = 0;
  #child: ChildProcess | null = null;

  private constructor(opts: RedisServerOptions) {
    this.#opts = opts;
    this.dir = mkdtempSync(join(tmpdir(), 'tally-redis-'));
  }

  /** Starts a server in a new temporary folder. */
  static async start(opts: RedisServerOptions = {}): Promise<RedisTestServer> {
    const server = new RedisTestServer(opts);
    if (opts.tcp === true) server.#port = await freePort();
    await server.restart();
    return server;
  }

  /** The URL of the server (the same across restarts). */
  get url(): string {
    return this.#opts.tcp === true ? `redis://127.0.0.1:${this.#port}` : `redis+unix://${this.socket}`;
  }

  get socket(): string {
    return join(this.dir, 'redis.sock');
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** Starts the server again on the same folder (its AOF) and address; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.#child !== null) throw new Error('redis-server is already running');
    const args = [
      '--dir', this.dir, '--port', String(this.#port), '--bind', '127.0.0.1',
      '--unixsocket', this.socket, '--unixsocketperm', '700',
      '--appendonly', this.#opts.appendonly === false ? 'no' : 'yes',
      '--appendfsync', this.#opts.appendfsync ?? 'always',
      '--save', '', '--daemonize', 'no', '--logfile', '',
    ];
    const child = spawn(redisServerBinary() ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.once('exit', () => {
      if (this.#child === child) this.#child = null;
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer): void => {
        out += chunk.toString();
        if (/ready to accept connections/i.test(out)) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.resume();
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`)));
    });
  }

  /** Kills the server (SIGKILL by default: no shutdown, no last AOF rewrite) and waits for its end. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
    this.#child = null;
  }

  /** Stops the server and removes its folder. */
  async stop(): Promise<void> {
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}
