// Shared fixtures for the unit tests (not part of the public API).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openIndexer } from './index.js';
import { randomUUID } from 'node:crypto';
import type { ArchivePolicy, Indexer, IndexerOptions } from './types.js';

export const SECOND = 1_000_000_000n;

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-indexer-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** An upgraded indexer on a temporary SQLite file (or in memory). */
export async function freshIndexer(kind: 'file' | 'memory' = 'file'): Promise<{ ix: Indexer; url: string; done: () => Promise<void> }> {
  if (kind === 'memory') {
    const ix = await openIndexer(':memory:');
    await ix.upgrade();
    return { ix, url: ':memory:', done: () => ix.close() };
  }
  const { dir, cleanup } = await tempDir();
  const url = `sqlite://${join(dir, 'index.db')}`;
  const ix = await openIndexer(url);
  await ix.upgrade();
  return { ix, url, done: async () => { await ix.close(); await cleanup(); } };
}

export function policy(name: string, overrides: Partial<ArchivePolicy> = {}): ArchivePolicy {
  return {
    name,
    backWindow: 0,
    aggregationMethods: ['mean', 'max'],
    definition: [{ granularity: 60n * SECOND, points: 60, timespan: 3600n * SECOND }],
    ...overrides,
  };
}

export interface Engine {
  name: 'sqlite' | 'postgres';
  /** A fresh, upgraded indexer on its own database. */
  open(options?: IndexerOptions): Promise<{ ix: Indexer; done: () => Promise<void> }>;
}

interface PgClient { connect(): Promise<void>; query(q: string): Promise<unknown>; end(): Promise<void> }

/** Runs one statement on the server named by TALLY_TEST_PG_URL (database `postgres`). */
async function pgAdmin(url: string, statement: string): Promise<void> {
  const specifier = 'pg';
  const mod = (await import(specifier)) as { default: { Client: new (c: { connectionString: string }) => PgClient } };
  const client = new mod.default.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * A new empty database on the PostgreSQL server named by TALLY_TEST_PG_URL (`url` is its
 * connection string; `drop` removes it), or null when that variable is unset.
 */
export async function tempPgDatabase(): Promise<{ url: string; drop: () => Promise<void> } | null> {
  const base = process.env.TALLY_TEST_PG_URL;
  if (base === undefined || base === '') return null;
  const db = `tally_test_${randomUUID().replace(/-/g, '')}`;
  await pgAdmin(base, `create database ${db}`);
  return { url: base.replace(/\/postgres(\?|$)/, `/${db}$1`), drop: () => pgAdmin(base, `drop database ${db} with (force)`) };
}

/** An empty database for one test: its URL (for openIndexer or openSqlDatabase) and its removal. */
export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  create(): Promise<{ url: string; drop: () => Promise<void> }>;
}

/** SQLite always; PostgreSQL too when TALLY_TEST_PG_URL is set (a new database per create()). */
export function testDatabases(): TestDatabase[] {
  const out: TestDatabase[] = [{
    name: 'sqlite',
    async create() {
      const { dir, cleanup } = await tempDir();
      return { url: `sqlite://${join(dir, 'index.db')}`, drop: cleanup };
    },
  }];
  const base = process.env.TALLY_TEST_PG_URL;
  if (base !== undefined && base !== '') {
    out.push({
      name: 'postgres',
      async create() {
        const pg = await tempPgDatabase();
        if (pg === null) throw new Error('TALLY_TEST_PG_URL is no longer set');
        return pg;
      },
    });
  }
  return out;
}

/** SQLite always; PostgreSQL too when TALLY_TEST_PG_URL is set (one database per open()). */
export function engines(): Engine[] {
  return testDatabases().map((t) => ({
    name: t.name,
    async open(options) {
      const { url, drop } = await t.create();
      const ix = await openIndexer(url, options);
      await ix.upgrade();
      return { ix, done: async () => { await ix.close(); await drop(); } };
    },
  }));
}
