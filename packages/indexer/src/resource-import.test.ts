import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidResourceHistory, NoSuchResourceType, ResourceAlreadyExists, ResourceValueError } from './errors.js';
import { engines, policy, SECOND } from './test-util.js';
import type { ImportedRevision } from './types.js';

const A = '8f6b0c3a-2d7e-4c55-9a3b-0d1e2f3a4b5c';
const B = '9a7c1d4b-3e8f-4d66-8b4c-1e2f3a4b5c6d';
const T0 = 1_420_070_400n * SECOND; // 2015-01-01
const US = 1000n;

function rev(i: number, last: boolean, attributes: ImportedRevision['attributes']): ImportedRevision {
  // Microsecond timestamps as Gnocchi records them, far from the indexer's clock.
  const start = T0 + BigInt(i) * 3600n * SECOND + 123_456n * US;
  return {
    userId: `u${i}`, projectId: 'p', startedAt: T0, endedAt: i === 2 ? T0 + 86400n * SECOND : null,
    revisionStart: start, revisionEnd: last ? null : start + 3600n * SECOND, attributes,
  };
}

for (const engine of engines()) {
  test(`[${engine.name}] importResource keeps every revision's timestamps and attributes`, async () => {
    const { ix, done } = await engine.open();
    try {
      await ix.createArchivePolicy(policy('low'));
      await ix.createResourceType('vm', {
        host: { type: 'string', required: true, minLength: 0, maxLength: 255 },
        boot: { type: 'datetime', required: false },
      });
      const revisions = [
        rev(0, false, { host: 'h0', boot: '2015-01-01T00:00:00+00:00' }),
        rev(1, false, { host: 'h1', boot: null }),
        rev(2, true, { host: 'h2', boot: null }),
      ];
      const r = await ix.importResource({ type: 'vm', id: A, originalResourceId: 'orig-a', creator: 'alice:p', revisions });
      assert.equal(r.revisionStart, revisions[2].revisionStart);
      assert.equal(r.endedAt, revisions[2].endedAt);
      await ix.createMetric({ id: B, creator: 'alice:p', archivePolicyName: 'low', name: 'cpu', resourceId: A });

      const history = await ix.listResources({ type: 'vm', history: true, filter: { '=': { id: A } }, sort: [{ key: 'revision_start' }] });
      assert.deepEqual(history.map((h) => [h.revisionStart, h.revisionEnd, h.userId, h.attributes.host, h.attributes.boot]), [
        [revisions[0].revisionStart, revisions[0].revisionEnd, 'u0', 'h0', T0],
        [revisions[1].revisionStart, revisions[1].revisionEnd, 'u1', 'h1', null],
        [revisions[2].revisionStart, null, 'u2', 'h2', null],
      ]);
      for (const h of history) {
        assert.equal(h.originalResourceId, 'orig-a');
        assert.equal(h.creator, 'alice:p');
        assert.deepEqual({ ...h.metrics }, { cpu: B });
      }

      // Nothing is written twice, and a bad revision leaves nothing behind.
      await assert.rejects(ix.importResource({ type: 'vm', id: A, originalResourceId: 'orig-a', creator: null, revisions }),
        new ResourceAlreadyExists(A));
      const other = '11111111-1111-4111-8111-111111111111';
      await assert.rejects(ix.importResource({ type: 'vm', id: other, originalResourceId: other, creator: null,
        revisions: [rev(0, false, { host: 'x' }), rev(1, true, {})] }), new ResourceValueError('vm', 'host', 'None'));
      assert.equal(await ix.getResource('generic', other), null);
      await assert.rejects(ix.importResource({ type: 'vm', id: other, originalResourceId: other, creator: null,
        revisions: [rev(1, false, { host: 'x' }), rev(0, true, { host: 'x' })] }), InvalidResourceHistory);
      await assert.rejects(ix.importResource({ type: 'vm', id: other, originalResourceId: other, creator: null,
        revisions: [rev(0, false, { host: 'x' })] }), InvalidResourceHistory);
      await assert.rejects(ix.importResource({ type: 'nope', id: other, originalResourceId: other, creator: null,
        revisions: [rev(0, true, {})] }), NoSuchResourceType);
    } finally {
      await done();
    }
  });
}
