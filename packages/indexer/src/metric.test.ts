import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, parseIndexerUrl } from './connect.js';
import {
  InvalidPagination,
  NamedMetricAlreadyExists,
  NoSuchArchivePolicy,
  NoSuchResource,
  QueryAttributeError,
} from './errors.js';
import { SqlIndexer } from './sql-indexer.js';
import { splitCreator } from './sql-indexer-helpers.js';
import { freshIndexer, policy, SECOND, tempDir } from './test-util.js';
import type { MetricFilter, SortSpec } from './types.js';

const R1 = '8f6b0c3a-2d7e-4c55-9a3b-0d1e2f3a4b5c';
const R2 = '9a7c1d4b-3e8f-4d66-8b4c-1e2f3a4b5c6d';

/** An indexer plus raw Kysely access, to plant resource rows (no resource API yet). */
async function withDb(fn: (ix: SqlIndexer, addResource: (id: string) => Promise<void>) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir();
  const { db, dialect } = await connect(parseIndexerUrl(`sqlite://${dir}/index.db`));
  const ix = new SqlIndexer(db, dialect);
  try {
    await ix.upgrade();
    await ix.createArchivePolicy(policy('low'));
    await fn(ix, async (id) => {
      await db.insertInto('resource').values({
        id, type: 'generic', creator: 'u:p', user_id: null, project_id: null, original_resource_id: id,
        started_at: 1_700_000_000n * SECOND, revision_start: 1_700_000_000n * SECOND, ended_at: null,
      }).execute();
    });
  } finally {
    await ix.close();
    await cleanup();
  }
}

test('splitCreator mirrors Python str.partition(":")', () => {
  assert.deepEqual(splitCreator('alice'), { userId: 'alice', projectId: '' });
  assert.deepEqual(splitCreator('u:p'), { userId: 'u', projectId: 'p' });
  assert.deepEqual(splitCreator('u:p:q'), { userId: 'u', projectId: 'p:q' });
  assert.deepEqual(splitCreator(':p'), { userId: '', projectId: 'p' });
  assert.deepEqual(splitCreator(null), { userId: null, projectId: null });
});

test('createMetric returns Gnocchi\'s fields and getMetrics finds active ones', async () => {
  const { ix, done } = await freshIndexer();
  try {
    await ix.createArchivePolicy(policy('low'));
    const m = await ix.createMetric({ creator: 'alice:proj1', archivePolicyName: 'low', name: 'disk.io.rate', unit: 'B/s' });
    assert.match(m.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(m, {
      id: m.id, archivePolicyName: 'low', creator: 'alice:proj1', createdByUserId: 'alice', createdByProjectId: 'proj1',
      name: 'disk.io.rate', unit: 'B/s', resourceId: null, status: 'active',
    });
    const anon = await ix.createMetric({ id: 'AAAAAAAA-0000-4000-8000-000000000000', creator: null, archivePolicyName: 'low' });
    assert.equal(anon.id, 'aaaaaaaa-0000-4000-8000-000000000000');
    assert.equal(anon.createdByUserId, null);
    assert.equal(anon.name, null);
    // Ordered by id, deduplicated, case-insensitive, unknown ids ignored.
    assert.deepEqual(await ix.getMetrics([m.id, anon.id.toUpperCase(), m.id, 'ffffffff-0000-4000-8000-000000000000']),
      [anon, m].sort((a, b) => (a.id < b.id ? -1 : 1)));
    assert.deepEqual(await ix.getMetrics([]), []);
  } finally {
    await done();
  }
});

test('createMetric errors: unknown policy, unknown resource, duplicate name on a resource', async () => {
  await withDb(async (ix, addResource) => {
    await assert.rejects(ix.createMetric({ creator: 'u', archivePolicyName: 'nope', name: 'x' }), (e: unknown) =>
      e instanceof NoSuchArchivePolicy && e.message === 'Archive policy nope does not exist');
    await assert.rejects(ix.createMetric({ creator: 'u', archivePolicyName: 'low', name: 'x', resourceId: R1 }), (e: unknown) =>
      e instanceof NoSuchResource && e.message === `Resource ${R1} does not exist`);
    await addResource(R1);
    await addResource(R2);
    const m = await ix.createMetric({ creator: 'u', archivePolicyName: 'low', name: 'cpu', resourceId: R1.toUpperCase() });
    assert.equal(m.resourceId, R1);
    await assert.rejects(ix.createMetric({ creator: 'u', archivePolicyName: 'low', name: 'cpu', resourceId: R1 }), (e: unknown) =>
      e instanceof NamedMetricAlreadyExists && e.message === 'Named metric cpu already exists'
      && e.jsonify().cause === 'Named metric already exists');
    // Same name elsewhere is fine, and NULL resources never clash.
    await ix.createMetric({ creator: 'u', archivePolicyName: 'low', name: 'cpu', resourceId: R2 });
    await ix.createMetric({ creator: 'u', archivePolicyName: 'low', name: 'cpu' });
    await ix.createMetric({ creator: 'u', archivePolicyName: 'low', name: 'cpu' });
    // Soft deletion detaches the metric, freeing the name on the resource.
    assert.equal(await ix.deleteMetric(m.id), true);
    const again = await ix.createMetric({ creator: 'u', archivePolicyName: 'low', name: 'cpu', resourceId: R1 });
    assert.equal(again.resourceId, R1);
    assert.equal((await ix.listMetricsToExpunge())[0].resourceId, null);
  });
});

test('soft delete, expunge list and expunge', async () => {
  const { ix, done } = await freshIndexer();
  try {
    await ix.createArchivePolicy(policy('low'));
    const a = await ix.createMetric({ creator: 'u', archivePolicyName: 'low', name: 'a' });
    const b = await ix.createMetric({ creator: 'u', archivePolicyName: 'low', name: 'b' });
    assert.equal(await ix.deleteMetric(a.id.toUpperCase()), true);
    assert.equal(await ix.deleteMetric(a.id), false, 'already deleted');
    assert.equal(await ix.deleteMetric('00000000-0000-4000-8000-000000000000'), false);
    assert.deepEqual(await ix.getMetrics([a.id, b.id]), [b]);
    assert.deepEqual((await ix.listMetrics()).map((m) => m.id), [b.id]);
    assert.deepEqual(await ix.listMetricsToExpunge(), [{ ...a, status: 'delete' }]);
    assert.deepEqual((await ix.listMetrics({ status: 'delete' })).map((m) => m.id), [a.id]);
    assert.equal(await ix.expungeMetric(a.id), true);
    assert.equal(await ix.expungeMetric(a.id), false);
    assert.deepEqual(await ix.listMetricsToExpunge(), []);
  } finally {
    await done();
  }
});

test('listMetrics filters', async () => {
  await withDb(async (ix, addResource) => {
    await ix.createArchivePolicy(policy('high'));
    await addResource(R1);
    const m1 = await ix.createMetric({ creator: 'foobar', archivePolicyName: 'low', name: 'disk.io.rate', unit: 'B/s' });
    const m2 = await ix.createMetric({ creator: 'foobaz:p1', archivePolicyName: 'low', name: 'disk.io.rate', unit: 'B/s' });
    const m3 = await ix.createMetric({ creator: 'jd:p1', archivePolicyName: 'low', name: 'cpu_util', unit: '%', resourceId: R1 });
    const m4 = await ix.createMetric({ creator: 'foobar', archivePolicyName: 'high', name: 'cpu', unit: 'ns' });
    const ids = async (filters: MetricFilter): Promise<string[]> => (await ix.listMetrics({ filters })).map((m) => m.id);
    const sorted = (...ms: { id: string }[]): string[] => ms.map((m) => m.id).sort();
    assert.deepEqual(await ids({}), sorted(m1, m2, m3, m4));
    assert.deepEqual(await ids({ id: m1.id.toUpperCase() }), [m1.id]);
    assert.deepEqual(await ids({ id: 'not-a-uuid' }), []);
    assert.deepEqual(await ids({ name: 'disk.io.rate' }), sorted(m1, m2));
    assert.deepEqual(await ids({ unit: 'ns' }), [m4.id]);
    assert.deepEqual(await ids({ archivePolicyName: 'low', name: 'cpu_util' }), [m3.id]);
    assert.deepEqual(await ids({ creator: 'foobar' }), sorted(m1, m4));
    assert.deepEqual(await ids({ createdByProjectId: 'p1' }), sorted(m2, m3));
    assert.deepEqual(await ids({ createdByProjectId: '' }), sorted(m1, m4));
    assert.deepEqual(await ids({ createdByUserId: 'jd' }), [m3.id]);
    assert.deepEqual(await ids({ resourceId: R1.toUpperCase() }), [m3.id]);
    assert.deepEqual(await ids({ resourceId: null }), sorted(m1, m2, m4));
    assert.deepEqual(await ids({ unit: ['ns', '%'] }), sorted(m3, m4));
    assert.deepEqual(await ids({ unit: [] }), []);
    assert.deepEqual(await ids({ status: 'active' }), sorted(m1, m2, m3, m4));
    // As in Gnocchi, a status filter is ANDed with the listed status (active by default).
    assert.deepEqual(await ids({ status: 'delete' }), []);
    assert.deepEqual(await ids({ name: undefined }), sorted(m1, m2, m3, m4));
    await assert.rejects(ix.listMetrics({ filters: { bogus: 'x' } as MetricFilter }), (e: unknown) =>
      e instanceof QueryAttributeError && e.message === 'Resource type metric has no bogus attribute');
  });
});

test('listMetrics sorting, limit and marker (metric-list.yaml scenario)', async () => {
  const { ix, done } = await freshIndexer();
  try {
    await ix.createArchivePolicy(policy('first_archive'));
    await ix.createArchivePolicy(policy('second_archive'));
    await ix.createMetric({ creator: 'foobar', archivePolicyName: 'first_archive', name: 'disk.io.rate', unit: 'B/s' });
    await ix.createMetric({ creator: 'foobaz', archivePolicyName: 'first_archive', name: 'disk.io.rate', unit: 'B/s' });
    await ix.createMetric({ creator: 'jd', archivePolicyName: 'first_archive', name: 'cpu_util', unit: '%' });
    await ix.createMetric({ creator: 'foobar', archivePolicyName: 'second_archive', name: 'cpu', unit: 'ns' });
    const filters = { archivePolicyName: 'first_archive' };
    const sort: SortSpec[] = [{ key: 'name', dir: 'desc' }];
    const all = await ix.listMetrics({ filters, sort });
    assert.deepEqual(all.map((m) => m.name), ['disk.io.rate', 'disk.io.rate', 'cpu_util']);
    // Ties broken by id ascending.
    assert.ok(all[0].id < all[1].id);
    const page1 = await ix.listMetrics({ filters, sort, limit: 2 });
    assert.deepEqual(page1, all.slice(0, 2));
    const page2 = await ix.listMetrics({ filters, sort, limit: 2, marker: page1[1].id });
    assert.deepEqual(page2, all.slice(2));
    // Default: id ascending.
    const byId = await ix.listMetrics();
    assert.deepEqual(byId.map((m) => m.id), byId.map((m) => m.id).sort());
    assert.equal((await ix.listMetrics({ limit: 0 })).length, 0);
    // A dir left empty means asc, and keys are trimmed (api-wg "key:dir" parsing).
    assert.deepEqual(await ix.listMetrics({ sort: [{ key: ' name ', dir: '' }] }),
      await ix.listMetrics({ sort: [{ key: 'name', dir: 'asc' }] }));
  } finally {
    await done();
  }
});

test('listMetrics pagination errors carry Gnocchi\'s messages', async () => {
  const { ix, done } = await freshIndexer('memory');
  try {
    await ix.createArchivePolicy(policy('low'));
    const m = await ix.createMetric({ creator: 'u', archivePolicyName: 'low', name: 'x' });
    const invalid = (message: string) => (e: unknown): boolean => e instanceof InvalidPagination && e.message === message;
    await assert.rejects(ix.listMetrics({ sort: [{ key: 'nonexistent_key', dir: 'asc' }] }),
      invalid("Invalid pagination: `Sort key supplied is invalid: nonexistent_key'"));
    await assert.rejects(ix.listMetrics({ sort: [{ key: 'created_by_user_id' }] }),
      invalid("Invalid pagination: `Sort key supplied is invalid: created_by_user_id'"));
    await assert.rejects(ix.listMetrics({ sort: [{ key: 'name', dir: 'sideways' }] }),
      invalid("Invalid pagination: `Unknown sort direction, must be one of: asc-nullsfirst, asc-nullslast, desc-nullsfirst, desc-nullslast'"));
    // The first bad entry wins, key checked before direction.
    await assert.rejects(ix.listMetrics({ sort: [{ key: 'name', dir: 'up' }, { key: 'bad' }] }),
      invalid("Invalid pagination: `Unknown sort direction, must be one of: asc-nullsfirst, asc-nullslast, desc-nullsfirst, desc-nullslast'"));
    const unknown = '4f1d8fb2-5c6b-4c1e-9b8e-0f0e0c0d0a0b';
    await assert.rejects(ix.listMetrics({ marker: unknown }), invalid(`Invalid pagination: \`Invalid marker: \`${unknown}''`));
    // The marker is checked before the sort keys.
    await assert.rejects(ix.listMetrics({ marker: unknown, sort: [{ key: 'bad' }] }), invalid(`Invalid pagination: \`Invalid marker: \`${unknown}''`));
    // A soft-deleted metric is not a valid marker (Gnocchi looks markers up among active metrics).
    await ix.deleteMetric(m.id);
    await assert.rejects(ix.listMetrics({ marker: m.id }), invalid(`Invalid pagination: \`Invalid marker: \`${m.id}''`));
    await assert.rejects(ix.listMetrics({ limit: -1 }), InvalidPagination);
  } finally {
    await done();
  }
});

// Recorded from Gnocchi 4.4.2 on PostgreSQL: metrics [id, name, unit] and, for each sort
// spec and page size, the order in which following Link markers visits them (indexes),
// oslo.db NULL quirks included (some walks revisit rows).
const REF_METRICS: [string, string | null, string | null][] = [
  ["14202677-43f5-45ee-a14a-6be0ce761cba","b","x"],
  ["2079774d-0df9-4b4d-aab1-92bf60292060",null,null],
  ["3b2fd8d9-c5d6-49e3-a86b-e2481f0952ae","a","y"],
  ["bfad5931-9bee-48ac-bf6c-05bfc8177a90","a",null],
  ["e1e98cfb-c4de-4bf4-b1c5-3b1f85a6a45b","b","y"],
  ["eac2f477-e27f-4ab3-bcd4-8432a8d399a8",null,"x"],
  ["ed9f91b3-6557-41b7-80b6-ab4359a48aed","c",null],
];
const REF_CASES: [string, number, number[]][] = [
  ["name:asc",100,[2,3,0,4,6,1,5]],
  ["name:asc",2,[2,3,0,4,6]],
  ["name:asc",1,[2,3,0,4,6]],
  ["name:desc",100,[1,5,6,0,4,2,3]],
  ["name:desc",2,[1,5,6]],
  ["name:desc",1,[1,5,6,0,4,2,3]],
  ["unit:asc",100,[0,5,2,4,1,3,6]],
  ["unit:asc",2,[0,5,2,4]],
  ["unit:asc",1,[0,5,2,4]],
  ["unit:desc",100,[1,3,6,2,4,0,5]],
  ["unit:desc",2,[1,3,6,4,0,5]],
  ["unit:desc",1,[1,3,6]],
  ["unit:asc-nullsfirst",100,[1,3,6,0,5,2,4]],
  ["unit:asc-nullsfirst",2,[1,3,6,5,2,4]],
  ["unit:asc-nullsfirst",1,[1,3,6]],
  ["unit:desc-nullsfirst",100,[1,3,6,2,4,0,5]],
  ["unit:desc-nullsfirst",2,[1,3,6,4,1,3,6,4,1,3,6,4,1,3,6,4,1,3,6,4,1,3,6,4,1,3,6,4,1,3,6,4,1,3,6,4,1,3,6,4]],
  ["unit:desc-nullsfirst",1,[1,3,6]],
  ["unit:asc-nullslast",100,[0,5,2,4,1,3,6]],
  ["unit:asc-nullslast",2,[0,5,2,4,1,3,5,4,1,3,5,4,1,3,5,4,1,3,5,4,1,3,5,4,1,3,5,4,1,3,5,4,1,3,5,4,1,3,5,4]],
  ["unit:asc-nullslast",1,[0,5,2,4,1,5,2,4,1,5,2,4,1,5,2,4,1,5,2,4]],
  ["unit:desc-nullslast",100,[2,4,0,5,1,3,6]],
  ["unit:desc-nullslast",2,[2,4,0,5]],
  ["unit:desc-nullslast",1,[2,4,0,5]],
  ["name:asc-nullslast,unit:desc",100,[3,2,4,0,6,1,5]],
  ["name:asc-nullslast,unit:desc",2,[3,2,4,0,6,1,3,2,4,0,6,1,3,2,4,0,6,1,3,2,4,0,6,1,3,2,4,0,6,1,3,2,4,0,6,1,3,2,4,0]],
  ["name:asc-nullslast,unit:desc",1,[3,4,0,6,1,3,4,0,6,1,3,4,0,6,1,3,4,0,6,1]],
  ["unit:desc-nullslast,name:asc",100,[2,4,0,5,3,6,1]],
  ["unit:desc-nullslast,name:asc",2,[2,4,0,5]],
  ["unit:desc-nullslast,name:asc",1,[2,4,0]],
  ["name:desc-nullsfirst,unit:asc-nullsfirst",100,[1,5,6,0,4,3,2]],
  ["name:desc-nullsfirst,unit:asc-nullsfirst",2,[1,5,4,2,1,5,4,2,1,5,4,2,1,5,4,2,1,5,4,2,1,5,4,2,1,5,4,2,1,5,4,2,1,5,4,2,1,5,4,2]],
  ["name:desc-nullsfirst,unit:asc-nullsfirst",1,[1,5,4,1,5,4,1,5,4,1,5,4,1,5,4,1,5,4,1,5]],
  ["name:asc,id:desc",100,[3,2,4,0,6,5,1]],
  ["name:asc,id:desc",2,[3,2,4,0,6]],
  ["name:asc,id:desc",1,[3,2,4,0,6]],
];

test('sorting and marker walks match the reference, NULLs included', async () => {
  const { ix, done } = await freshIndexer('memory');
  try {
    await ix.createArchivePolicy(policy('low'));
    for (const [id, name, unit] of REF_METRICS) await ix.createMetric({ id, creator: 'bob', archivePolicyName: 'low', name, unit });
    for (const [spec, limit, expected] of REF_CASES) {
      const sort = spec.split(',').map((s) => {
        const [key, dir] = s.split(':');
        return { key, dir };
      });
      const visited: number[] = [];
      let marker: string | undefined;
      for (let page = 0; page < 20; page++) {
        const got = await ix.listMetrics({ sort, limit, marker });
        visited.push(...got.map((m) => REF_METRICS.findIndex(([id]) => id === m.id)));
        if (got.length < limit) break;
        marker = got[got.length - 1].id;
      }
      assert.deepEqual(visited, expected, `${spec} limit=${limit}`);
    }
  } finally {
    await done();
  }
});
