// Silences: validation, the project scoping rule, matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSilence, deleteSilence, getSilence, listSilences, silenceMatcher, type SilenceScope } from './silences.js';
import { InvalidSilenceError, SilenceNotFoundError, SilenceScopeError } from './errors.js';
import { dialects } from './test-support.js';

const T0 = 1_700_000_000_000;
const admin: SilenceScope = { admin: true };
const p1: SilenceScope = { admin: false, projectId: 'p1' };
const p2: SilenceScope = { admin: false, projectId: 'p2' };
const alarm = (over: Partial<{ alarm_id: string; project_id: string | null; alarm_name: string; severity: string }> = {}) =>
  ({ alarm_id: 'a1', project_id: 'p1', alarm_name: 'web-cpu', severity: 'critical', ...over });

for (const d of dialects()) {
  test(`${d.name}: a project's silences are bound to the project and seen only by it`, async () => {
    const t = await d.open();
    const db = t.database.db;
    try {
      await assert.rejects(createSilence(db, p1, { project_id: 'p2', ends_at: T0 + 1000 }, T0), SilenceScopeError);
      const own = await createSilence(db, p1, { name_pattern: 'web-*', ends_at: T0 + 1000, created_by: 'u1' }, T0);
      assert.equal(own.project_id, 'p1', 'a project silence matches its own project only');
      assert.equal(own.owner_project_id, 'p1');
      const global = await createSilence(db, admin, { severity: 'low', ends_at: T0 + 2000 }, T0);
      assert.equal(global.owner_project_id, null);
      assert.deepEqual((await listSilences(db, p1)).map((s) => s.id), [own.id]);
      assert.deepEqual((await listSilences(db, p2)).map((s) => s.id), []);
      assert.deepEqual((await listSilences(db, admin)).map((s) => s.id), [global.id, own.id]);
      await assert.rejects(getSilence(db, p2, own.id), SilenceNotFoundError);
      await assert.rejects(deleteSilence(db, p2, own.id, T0), SilenceNotFoundError);
      assert.equal(await deleteSilence(db, p1, own.id, T0 + 10), 'ended', 'a running silence ends now');
      assert.equal((await getSilence(db, p1, own.id)).ends_at, T0 + 10);
      assert.deepEqual((await listSilences(db, admin, { activeAt: T0 + 10 })).map((s) => s.id), [global.id]);
      const later = await createSilence(db, admin, { alarm_id: 'a9', starts_at: T0 + 5000, ends_at: T0 + 6000 }, T0);
      assert.equal(await deleteSilence(db, admin, later.id, T0), 'removed', 'one not begun is removed');
      await assert.rejects(getSilence(db, admin, later.id), SilenceNotFoundError);
    } finally {
      await t.done();
    }
  });
}

test('refused silences name the field', async () => {
  const t = await dialects()[0].open();
  const db = t.database.db;
  const field = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
    } catch (e) {
      if (e instanceof InvalidSilenceError) return e.field;
      throw e;
    }
    return 'accepted';
  };
  try {
    assert.equal(await field(createSilence(db, admin, { ends_at: T0 + 1000 }, T0)), 'match', 'an admin silence must match something');
    assert.equal(await field(createSilence(db, admin, { severity: 'huge' as 'low', ends_at: T0 + 1000 }, T0)), 'severity');
    assert.equal(await field(createSilence(db, admin, { alarm_id: 'a', starts_at: T0 + 10, ends_at: T0 + 10 }, T0)), 'ends_at');
    assert.equal(await field(createSilence(db, admin, { alarm_id: 'a', starts_at: T0 - 100, ends_at: T0 - 1 }, T0)), 'ends_at');
    assert.equal(await field(createSilence(db, admin, { name_pattern: 'x'.repeat(256), ends_at: T0 + 1 }, T0)), 'name_pattern');
    assert.equal(await field(createSilence(db, p1, { ends_at: T0 + 1 }, T0)), 'accepted', 'a project silence matches its project');
  } finally {
    await t.done();
  }
});

test('matching: every given field must match; fnmatch patterns over names', () => {
  const base = { id: 's', owner_project_id: null, created_by: null, comment: '', alarm_id: null, project_id: null, name_pattern: null, severity: null, starts_at: 0, ends_at: 1, created_at: 0, summarized: false };
  const m = (over: object) => silenceMatcher({ ...base, ...over });
  assert.ok(m({ name_pattern: 'web-*' }).matches(alarm()));
  assert.ok(!m({ name_pattern: 'web-?' }).matches(alarm()));
  assert.ok(m({ name_pattern: 'web-[a-c]pu' }).matches(alarm()));
  assert.ok(!m({ name_pattern: 'WEB-*' }).matches(alarm()), 'case-sensitive, as fnmatchcase');
  assert.ok(m({ name_pattern: 'web-*', severity: 'critical' }).matches(alarm()));
  assert.ok(!m({ name_pattern: 'web-*', severity: 'low' }).matches(alarm()));
  assert.ok(m({ alarm_id: 'a1' }).matches(alarm()));
  assert.ok(!m({ alarm_id: 'a1' }).matches(alarm({ alarm_id: 'a2' })));
  assert.ok(!m({ owner_project_id: 'p2', alarm_id: 'a1' }).matches(alarm()), 'a project silence never reaches another project');
  assert.ok(m({ project_id: 'p1' }).matches(alarm()));
  assert.ok(!m({ project_id: 'p1' }).matches(alarm({ project_id: null })));
});
