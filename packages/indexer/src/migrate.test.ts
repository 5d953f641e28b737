import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { sql } from 'kysely';
import { connect, parseIndexerUrl } from './connect.js';
import { LATEST_SCHEMA_VERSION, openIndexer } from './index.js';
import { SchemaTooNew } from './errors.js';
import { SqlIndexer } from './sql-indexer.js';
import { policy, tempDir } from './test-util.js';

test('upgrade creates the schema once and is idempotent', async () => {
  const { dir, cleanup } = await tempDir();
  const url = `sqlite://${join(dir, 'index.db')}`;
  try {
    const ix = await openIndexer(url);
    assert.equal(await ix.schemaVersion(), 0);
    assert.deepEqual(await ix.upgrade(), { from: 0, to: LATEST_SCHEMA_VERSION });
    assert.deepEqual(await ix.upgrade(), { from: LATEST_SCHEMA_VERSION, to: LATEST_SCHEMA_VERSION });
    await ix.createArchivePolicy(policy('low'));
    await ix.close();
    await ix.close(); // closing twice is harmless

    // Data survives reopening, and upgrading again changes nothing.
    const again = await openIndexer(join(dir, 'index.db'));
    assert.equal(await again.schemaVersion(), LATEST_SCHEMA_VERSION);
    assert.deepEqual(await again.upgrade(), { from: LATEST_SCHEMA_VERSION, to: LATEST_SCHEMA_VERSION });
    assert.equal((await again.listArchivePolicies()).length, 1);
    await again.close();
  } finally {
    await cleanup();
  }
});

test('schema_version records each migration; a newer schema is refused', async () => {
  const { dir, cleanup } = await tempDir();
  const { db, dialect } = await connect(parseIndexerUrl(join(dir, 'index.db')));
  const ix = new SqlIndexer(db, dialect);
  try {
    await ix.upgrade();
    const rows = await db.selectFrom('schema_version').select(['version', 'name']).orderBy('version').execute();
    assert.deepEqual(rows.map((r) => [Number(r.version), r.name]), [[1, 'initial'], [2, 'resources'], [3, 'index tuning']]);
    const tables = (await db.introspection.getTables()).map((t) => t.name).sort();
    assert.deepEqual(tables, ['archive_policy', 'archive_policy_item', 'archive_policy_rule', 'metric', 'resource', 'resource_history', 'resource_type', 'schema_version']);
    await db.insertInto('schema_version').values({ version: 999, name: 'future', applied_at: 0n }).execute();
    await assert.rejects(ix.upgrade(), SchemaTooNew);
  } finally {
    await ix.close();
    await cleanup();
  }
});

test('SQLite files are opened in WAL mode, synchronous=FULL, with foreign keys and a busy timeout', async () => {
  const { dir, cleanup } = await tempDir();
  const { db, dialect } = await connect(parseIndexerUrl(join(dir, 'index.db')));
  try {
    const pragma = async (name: string): Promise<unknown> =>
      Object.values((await sql.raw(`pragma ${name}`).execute(db)).rows[0] as Record<string, unknown>)[0];
    assert.equal(dialect, 'sqlite');
    assert.equal(await pragma('journal_mode'), 'wal');
    assert.equal(await pragma('synchronous'), 2n); // FULL
    assert.equal(await pragma('foreign_keys'), 1n);
    assert.ok(Number(await pragma('busy_timeout')) >= 5000);
  } finally {
    await db.destroy();
    await cleanup();
  }
});

/** Runs a child node process that upgrades and then creates `count` metrics. */
function writer(url: string, count: number, tag: string): Promise<void> {
  const script = `
    const { openIndexer } = await import(${JSON.stringify(new URL('./index.js', import.meta.url).href)});
    const ix = await openIndexer(${JSON.stringify(url)});
    await ix.upgrade();
    try { await ix.createArchivePolicy({ name: 'low', backWindow: 0, aggregationMethods: ['mean'],
      definition: [{ granularity: 1000000000n, points: null, timespan: null }] }); }
    catch (e) { if (e.name !== 'ArchivePolicyAlreadyExists') throw e; }
    for (let i = 0; i < ${count}; i++) {
      await ix.createMetric({ creator: ${JSON.stringify(tag)}, archivePolicyName: 'low', name: ${JSON.stringify(tag)} + i });
      if (i % 10 === 0) await ix.listMetrics({ filters: { creator: ${JSON.stringify(tag)} } });
    }
    await ix.close();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer ${tag} exited ${code}: ${stderr}`))));
  });
}

test('two processes can upgrade and write the same SQLite file concurrently', async () => {
  const { dir, cleanup } = await tempDir();
  const url = `sqlite://${join(dir, 'shared.db')}`;
  try {
    await Promise.all([writer(url, 150, 'api'), writer(url, 150, 'metricd')]);
    const ix = await openIndexer(url);
    assert.equal(await ix.schemaVersion(), LATEST_SCHEMA_VERSION);
    assert.equal((await ix.listMetrics({ filters: { creator: 'api' } })).length, 150);
    assert.equal((await ix.listMetrics({ filters: { creator: 'metricd' } })).length, 150);
    await ix.close();
  } finally {
    await cleanup();
  }
});
