import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileMembership } from './index.js';

test('members join, heartbeat, expire and leave', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-members-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = new FileMembership({ dir, memberTimeoutMs: 5_000, heartbeatMs: 0 });
  const b = new FileMembership({ dir, memberTimeoutMs: 5_000, heartbeatMs: 0 });
  await a.join('metricd', 'host-a/1', 'sacks=4');
  await b.join('metricd', 'host-b/7');
  assert.deepEqual(await a.members('metricd'), [
    { id: 'host-a/1', capabilities: 'sacks=4' },
    { id: 'host-b/7', capabilities: null },
  ]);
  assert.deepEqual(await a.members('other'), []);
  // b stops heartbeating (as a crashed process would): age its file past the timeout.
  const groupDir = join(dir, 'groups', readdirSync(join(dir, 'groups'))[0]);
  const old = new Date(Date.now() - 60_000);
  for (const f of readdirSync(groupDir)) utimesSync(join(groupDir, f), old, old);
  await a.heartbeat();
  assert.deepEqual((await b.members('metricd')).map((m) => m.id), ['host-a/1']);
  await a.leave('metricd', 'host-a/1');
  assert.deepEqual(await b.members('metricd'), []);
  await a.close();
  await b.close();
});
