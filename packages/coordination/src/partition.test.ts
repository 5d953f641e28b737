import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalMembership } from './local-membership.js';
import { RingPartition } from './partition.js';

const SOURCES = Array.from({ length: 24 }, (_v, i) => `source-${i}`);

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('members of one group own each key exactly once; a leaver\'s and a silent member\'s keys are taken over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-partition-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const owned = new Map<string, ReadonlySet<string>>();
  const handles = ['a', 'b', 'c'].map((id) => ({ id, membership: new LocalMembership({ dir }) }));
  const parts = new Map<string, RingPartition<string>>();
  for (const h of handles) {
    parts.set(h.id, await RingPartition.join({
      membership: h.membership, group: 'agents', memberId: h.id, keys: SOURCES, heartbeatMs: 50, timeoutMs: 400, pollMs: 50,
      onChange: (o) => owned.set(h.id, o),
    }));
  }
  const exactlyOnce = (members: string[]): boolean => {
    const all = members.flatMap((m) => [...(owned.get(m) ?? [])]);
    return all.length === SOURCES.length && new Set(all).size === SOURCES.length;
  };
  await until('three agents sharing', () => exactlyOnce(['a', 'b', 'c']) && ['a', 'b', 'c'].every((m) => (owned.get(m)?.size ?? 0) > 0));

  // b leaves: a and c share everything at once.
  const bHad = owned.get('b') as ReadonlySet<string>;
  await parts.get('b')?.leave();
  owned.delete('b');
  await until('two agents after b left', () => exactlyOnce(['a', 'c']), 1_000);
  for (const s of bHad) assert.ok(owned.get('a')?.has(s) || owned.get('c')?.has(s));

  // c stops heartbeating without leaving (as a killed process): a takes everything within the timeout.
  const t0 = Date.now();
  handles[2].membership.abandon();
  owned.delete('c');
  await until('a alone after c went silent', () => exactlyOnce(['a']), 2_000);
  const took = Date.now() - t0;
  assert.ok(took >= 300 && took < 1_000, `taken over after the membership timeout (${took} ms)`);

  await parts.get('a')?.leave();
  await handles[0].membership.close();
  await handles[1].membership.close();
});

test('replicas: each key has that many owners; a silent member\'s keys keep an owner at once and get their count back after the timeout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-partition-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const owned = new Map<string, ReadonlySet<string>>();
  const handles = ['a', 'b', 'c'].map((id) => ({ id, membership: new LocalMembership({ dir }) }));
  const parts: RingPartition<string>[] = [];
  for (const h of handles) {
    parts.push(await RingPartition.join({
      membership: h.membership, group: 'metricd', memberId: h.id, keys: SOURCES, replicas: 2, heartbeatMs: 50, timeoutMs: 400, pollMs: 50,
      onChange: (o) => owned.set(h.id, o),
    }));
  }
  const ownersOf = (k: string, members: string[]): number => members.filter((m) => owned.get(m)?.has(k)).length;
  await until('three members, two owners per key', () => SOURCES.every((k) => ownersOf(k, ['a', 'b', 'c']) === 2));
  handles[1].membership.abandon();
  // Before the timeout, b is still listed: nothing moved, and every key b owned has another owner already.
  assert.ok(SOURCES.every((k) => ownersOf(k, ['a', 'c']) >= 1), 'every key has a live owner while b is not yet known dead');
  await until('b dropped out: every key owned by both a and c', () => SOURCES.every((k) => ownersOf(k, ['a', 'c']) === 2), 2_000);
  await assert.rejects(RingPartition.join({ membership: handles[0].membership, group: 'g', memberId: 'x', keys: [], replicas: 0, heartbeatMs: 50, timeoutMs: 400 }), RangeError);
  await parts[0].leave();
  await parts[2].leave();
  await handles[0].membership.close();
  await handles[2].membership.close();
});
