// Fixtures of the notifier's tests and benchmark (not part of the public API): databases on
// both dialects, a real webhook receiver, notifications.
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inWriteTx } from '@tally/indexer';
import { tempPgDatabase } from '@tally/indexer/test-util';
import { migrate, openAlarmDatabase, type AlarmDatabase } from '../db.js';
import type { AlarmNotification } from '../model.js';
import { enqueue } from './outbox.js';
import { NOTIFIER_MIGRATIONS } from './schema.js';

export interface TestDatabase {
  database: AlarmDatabase;
  url: string;
  /** Another handle on the same database, as another process would have. */
  reopen(): Promise<AlarmDatabase>;
  done(): Promise<void>;
}

export interface TestDialect {
  name: 'sqlite' | 'postgres';
  open(): Promise<TestDatabase>;
}

async function opened(url: string, cleanup: () => Promise<void>): Promise<TestDatabase> {
  const database = await openAlarmDatabase(url);
  await migrate(database, NOTIFIER_MIGRATIONS);
  const others: AlarmDatabase[] = [];
  return {
    database,
    url,
    async reopen() {
      const other = await openAlarmDatabase(url);
      others.push(other);
      return other;
    },
    async done() {
      for (const o of others) await o.close();
      await database.close();
      await cleanup();
    },
  };
}

/** SQLite on a temporary file always; PostgreSQL too when TALLY_TEST_PG_URL is set. */
export function dialects(): TestDialect[] {
  const out: TestDialect[] = [{
    name: 'sqlite',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'tally-notifier-'));
      return opened(`sqlite://${join(dir, 'index.db')}`, () => rm(dir, { recursive: true, force: true }));
    },
  }];
  if (process.env.TALLY_TEST_PG_URL) {
    out.push({
      name: 'postgres',
      async open() {
        const pg = await tempPgDatabase();
        if (pg === null) throw new Error('TALLY_TEST_PG_URL is no longer set');
        return opened(pg.url, pg.drop);
      },
    });
  }
  return out;
}

export function notification(overrides: Partial<AlarmNotification> = {}): AlarmNotification {
  return {
    alarm_id: randomUUID(),
    alarm_name: 'cpu-high',
    severity: 'moderate',
    previous: 'ok',
    current: 'alarm',
    reason: 'Transition to alarm due to 3 samples outside threshold, most recent: 97.5',
    reason_data: { type: 'threshold', disposition: 'outside', count: 3, most_recent: 97.5 },
    actions: [],
    request_id: `req-${randomUUID()}`,
    project_id: 'p1',
    ...overrides,
  };
}

/** Queues `n` in a transaction of its own, as the alarm store does with a state change. */
export async function enqueueNow(database: Pick<AlarmDatabase, 'db' | 'dialect'>, n: AlarmNotification, now = Date.now()): Promise<number> {
  return inWriteTx(database.db, database.dialect, (tx) => enqueue(tx, n, now));
}

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** What the receiver does with a request: answer a status (with headers), or hang (never answer). */
export type Reply = number | { status: number; headers: Record<string, string> } | 'hang';

/** A webhook receiver on a real port; `reply` decides each answer (200 by default). */
export class Receiver {
  readonly received: Received[] = [];
  reply: (r: Received) => Reply = () => 200;
  readonly #server: http.Server;
  readonly #waiters: (() => void)[] = [];
  #port = 0;

  readonly #scheme: 'http' | 'https';

  /** Over HTTPS when given a certificate and key (PEM). */
  constructor(tls?: { cert: Buffer; key: Buffer }) {
    this.#scheme = tls === undefined ? 'http' : 'https';
    const handler: http.RequestListener = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() };
        this.received.push(r);
        for (const w of this.#waiters.splice(0)) w();
        const reply = this.reply(r);
        if (reply === 'hang') return;
        const { status, headers } = typeof reply === 'number' ? { status: reply, headers: {} } : reply;
        res.writeHead(status, headers);
        res.end(status >= 400 ? 'receiver says no' : '');
      });
    };
    this.#server = tls === undefined ? http.createServer(handler) : https.createServer(tls, handler);
    this.#server.keepAliveTimeout = 60_000;
  }

  /** Listens on `port` (0: any free port). */
  async listen(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  get port(): number {
    return this.#port;
  }

  url(path = '/hook'): string {
    return `${this.#scheme}://127.0.0.1:${this.#port}${path}`;
  }

  /** Resolves once `n` requests arrived. */
  async waitFor(n: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      if (Date.now() > deadline) throw new Error(`receiver got ${this.received.length} requests, expected ${n}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.#waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Stops listening and drops open connections (a receiver going down). */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A self-signed certificate for 127.0.0.1 (openssl), for HTTPS receivers. */
export function selfSigned(dir: string): { cert: Buffer; key: Buffer } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

/** Polls `check` until it returns true. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
