// The parts of `tally migrate` that need no Gnocchi: the journal (resume after a crash),
// the conversion of Gnocchi's answers, the identity options and the progress display.
// The migration itself is checked against the real Gnocchi by scripts/migrate-e2e.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Resource } from '@tally/client';
import { ConfigError } from './config.js';
import { JournalSourceMismatch, MigrationJournal } from './migrate-journal.js';
import { Progress } from './migrate-progress.js';
import { formatReport, sourceAuth, toRevisions, toTallyAttribute, toTallyPolicy, type MigrationReport } from './migrate.js';

const SRC = 'http://gnocchi:8041';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tally-migrate-test-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('journal: what was recorded is done after a reopen; a torn last line is dropped', () => {
  withDir((dir) => {
    const path = join(dir, 'j.jsonl');
    const j = new MigrationJournal(path, SRC);
    j.record('policy', 'low');
    j.record('resource', 'r1', 3);
    j.record('measures', 'm1', 120);
    j.record('measures', 'm2', 7);
    j.forget('measures', 'm2');
    j.close();
    // A crash in the middle of a write leaves part of a line.
    appendFileSync(path, '{"k":"metric","id":"m3"');
    const again = new MigrationJournal(path, SRC);
    assert.equal(again.has('policy', 'low'), true);
    assert.equal(again.count('resource', 'r1'), 3);
    assert.equal(again.count('measures', 'm1'), 120);
    assert.equal(again.has('measures', 'm2'), false);
    assert.equal(again.has('metric', 'm3'), false);
    again.record('metric', 'm4');
    again.close();
    // The torn part was cut off: every line parses, the new entry is on a line of its own.
    const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
    assert.deepEqual(JSON.parse(lines[lines.length - 1]), { k: 'metric', id: 'm4' });
    for (const l of lines) JSON.parse(l);
    assert.equal(lines.filter((l) => l.includes('"source"')).length, 1);
    assert.throws(() => new MigrationJournal(path, 'http://other:8041'), JournalSourceMismatch);
  });
});

test("Gnocchi's archive policies and attributes become Tally's", () => {
  const p = toTallyPolicy({
    name: 'fine', back_window: 2, aggregation_methods: ['rate:mean', 'std'],
    definition: [{ granularity: '0:00:10', points: 360, timespan: '1:00:00' }, { granularity: '1 day, 0:00:00', points: 30, timespan: '30 days, 0:00:00' }],
  });
  const S = 1_000_000_000n;
  assert.deepEqual(p, {
    name: 'fine', backWindow: 2, aggregationMethods: ['rate:mean', 'std'],
    definition: [{ granularity: 10n * S, points: 360, timespan: 3600n * S }, { granularity: 86400n * S, points: 30, timespan: 30n * 86400n * S }],
  });
  assert.deepEqual(toTallyAttribute({ type: 'string', required: true, min_length: 1, max_length: 64 }),
    { type: 'string', required: true, minLength: 1, maxLength: 64 });
  assert.deepEqual(toTallyAttribute({ type: 'number', required: false, min: 0, max: null }), { type: 'number', required: false, min: 0, max: null });
  assert.deepEqual(toTallyAttribute({ type: 'uuid', required: false }), { type: 'uuid', required: false });
});

test('revisions: oldest first, timestamps to the nanosecond, only the type attributes', () => {
  const rev = (start: string, end: string | null, host: string): Resource => ({
    id: 'x', type: 'box', original_resource_id: 'x', creator: 'admin', created_by_user_id: 'admin', created_by_project_id: '',
    user_id: null, project_id: 'p', started_at: '2024-01-01T00:00:00+00:00', ended_at: null,
    revision_start: start, revision_end: end, metrics: { cpu: 'm' }, host, extra: 1,
  });
  const got = toRevisions([
    rev('2024-01-02T00:00:00.000002+00:00', null, 'b'),
    rev('2024-01-01T00:00:00.000001+00:00', '2024-01-02T00:00:00.000002+00:00', 'a'),
  ], ['host']);
  const T = 1_704_067_200_000_000_000n;
  assert.deepEqual(got.map((r) => [r.revisionStart - T, r.revisionEnd === null ? null : r.revisionEnd - T, r.attributes]), [
    [1000n, 86_400_000_002_000n, { host: 'a' }],
    [86_400_000_002_000n, null, { host: 'b' }],
  ]);
});

test('identity options: basic, noauth and keystone as Gnocchi reads them', () => {
  assert.deepEqual(sourceAuth({}), { type: 'basic', user: 'admin' });
  assert.deepEqual(sourceAuth({ fromAuthMode: 'noauth', fromUser: 'u', fromProject: 'p', fromRoles: 'admin,member' }),
    { type: 'noauth', userId: 'u', projectId: 'p', roles: ['admin', 'member'] });
  assert.deepEqual(sourceAuth({ fromAuthMode: 'keystone', fromToken: 't' }), { type: 'keystone', token: 't' });
  assert.throws(() => sourceAuth({ fromAuthMode: 'keystone' }), ConfigError);
  assert.throws(() => sourceAuth({ fromAuthMode: 'oauth' }), ConfigError);
});

test('report: counts per kind, and every item not copied with why', () => {
  const zero = { policies: 0, rules: 0, resource_types: 0, resources: 0, revisions: 0, metrics: 0, aggregate_points: 0 };
  const r: MigrationReport = {
    source: SRC, copied: { ...zero, metrics: 3, aggregate_points: 1234 }, alreadyDone: { ...zero, policies: 2 },
    skipped: [{ kind: 'metric', id: 'm9', reason: 'its archive policy p was not copied' }], failed: [], interrupted: false, seconds: 1.25,
  };
  const text = formatReport(r);
  assert.match(text, /^ {2}aggregate_points +1234 +0$/m);
  assert.match(text, /^ {2}policies +0 +2$/m);
  assert.match(text, /^skipped: 1\n {2}metric m9: its archive policy p was not copied$/m);
  assert.match(text, /^failed: 0$/m);
});

test('progress: periodic lines when not on a terminal, a redrawn bar on one', () => {
  let now = 0;
  const sink = (tty: boolean) => {
    const chunks: string[] = [];
    const out = Object.assign(new Writable({ write(c: Buffer, _e, cb) { chunks.push(c.toString()); cb(); } }), { isTTY: tty, columns: 100 });
    return { chunks, progress: new Progress({ out, intervalMs: 5000, now: () => now }) };
  };
  const plain = sink(false);
  plain.progress.phase('metrics', 10);
  for (let i = 0; i < 10; i++) {
    now += 1000;
    plain.progress.advance(1, 100);
  }
  plain.progress.end();
  // A line every 5 s, and a last one; each also counts the aggregate points so far.
  assert.deepEqual(plain.chunks, [
    'tally migrate: metrics: 5/10 items (50%), 1/s, 500 aggregate points\n',
    'tally migrate: metrics: 10/10 items (100%), 1/s, 1000 aggregate points\n',
    'tally migrate: metrics: done, 10/10 items in 10.0 s, 1000 aggregate points\n',
  ]);
  now = 0;
  const tty = sink(true);
  tty.progress.phase('metrics', 4);
  now += 200;
  tty.progress.advance(2);
  assert.ok(tty.chunks[0].startsWith('\r\x1b[2Ktally migrate: metrics ['), tty.chunks[0]);
  assert.match(tty.chunks[0], /\] +50% 2\/4 items 10\/s, 0 aggregate points$/, tty.chunks[0]);
});
