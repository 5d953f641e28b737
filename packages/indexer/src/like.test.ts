import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGlob } from '@tally/timeseries';
import { QueryPatternTooLong } from './errors.js';
import { likeToGlob, MAX_LIKE_PATTERN_LENGTH, simplifyLike } from './query.js';
import { engines, freshIndexer, type Engine } from './test-util.js';

test('simplifyLike reduces runs of wildcards, keeping escapes', () => {
  assert.equal(simplifyLike('%%%'), '%');
  assert.equal(simplifyLike('a\\'), 'a\\\\');
  assert.equal(simplifyLike('a\\%\\'), 'a\\%\\\\');
  assert.equal(simplifyLike('a%%_%_b'), 'a__%b');
  assert.equal(simplifyLike('a__b'), 'a__b');
  assert.equal(simplifyLike('\\%%\\_%'), '\\%%\\_%');
  assert.equal(simplifyLike('%\\%%%'), '%\\%%');
  assert.equal(likeToGlob('%%a*?[%'), '*a[*][?][[]*');
  assert.equal(likeToGlob(simplifyLike('a\\')), 'a\\');
});

const ROWS = 2000;

/** Host names of 150-250 letters, some with a `b` among the `a`s. */
function host(i: number): string {
  const n = 150 + (i % 101);
  const b = i % 3 === 0 ? (i * 7) % n : -1;
  return Array.from({ length: n }, (_, k) => (k === b ? 'b' : 'a')).join('') + `x${i}`;
}

// SQLite in memory (the event loop is what is at stake there, and a file costs an fsync
// per resource created); PostgreSQL as engines() gives it.
const memorySqlite: Engine = { name: 'sqlite', open: () => freshIndexer('memory') };

for (const engine of [memorySqlite, ...engines().filter((e) => e.name !== 'sqlite')]) {
  test(`[${engine.name}] hostile like patterns return promptly and correctly; over-long ones are refused`, async () => {
    const { ix, done } = await engine.open();
    try {
      await ix.createResourceType('vm', { host: { type: 'string', required: true, minLength: 0, maxLength: 255 } });
      const ids: string[] = [];
      const hosts = new Map<string, string>();
      for (let i = 0; i < ROWS; i++) {
        const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
        ids.push(id);
        hosts.set(id, host(i));
        await ix.createResource({ type: 'vm', id, creator: 'u:p', attributes: { host: host(i) } });
      }
      const hostile = [
        '%a'.repeat(120) + '%b%',
        '%'.repeat(MAX_LIKE_PATTERN_LENGTH - 2) + 'b%',
        '%_'.repeat(200) + '%b%',
        '%' + 'a'.repeat(MAX_LIKE_PATTERN_LENGTH - 3) + 'b%',
        '%' + 'a'.repeat(100) + 'b' + 'a'.repeat(40) + '%',
        ('%a%_').repeat(MAX_LIKE_PATTERN_LENGTH / 4 - 1) + '%b',
      ];
      for (const pattern of hostile) {
        // Letters, % and _ only: the same strings match the glob with * and ?.
        const glob = compileGlob(pattern.replaceAll('%', '*').replaceAll('_', '?'));
        const expected = ids.filter((id) => glob.test(hosts.get(id) as string)).sort();
        const start = performance.now();
        const got = (await ix.listResources({ type: 'vm', filter: { like: { host: pattern } } })).map((r) => r.id).sort();
        const ms = performance.now() - start;
        assert.deepEqual(got, expected, pattern.slice(0, 16));
        // Generous: it exists to catch work exponential in the pattern, not to time queries.
        assert.ok(ms < 5000, `${pattern.slice(0, 16)}... took ${ms} ms`);
      }
      assert.ok(ids.filter((id) => compileGlob('*a*b*').test(hosts.get(id) as string)).length > ROWS / 4);
      for (const pattern of ['%a'.repeat(MAX_LIKE_PATTERN_LENGTH / 2) + '%', '%'.repeat(100_000)]) {
        await assert.rejects(ix.listResources({ type: 'vm', filter: { like: { host: pattern } } }),
          new QueryPatternTooLong('host', MAX_LIKE_PATTERN_LENGTH));
      }
      await assert.rejects(ix.listResources({ filter: { like: { created_by_user_id: 'u'.repeat(MAX_LIKE_PATTERN_LENGTH) } } }),
        new QueryPatternTooLong('created_by_user_id', MAX_LIKE_PATTERN_LENGTH));
    } finally {
      await done();
    }
  });
}
