// Shared fixtures for the unit tests (not part of the public API).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openIndexer } from './index.js';
import type { ArchivePolicy, Indexer } from './types.js';

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
