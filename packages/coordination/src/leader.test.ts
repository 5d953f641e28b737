import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCoordinator } from './local.js';
import { Leadership } from './leader.js';
import { LockLostError } from './errors.js';
import type { Coordinator, Lock } from './types.js';

async function until(what: string, ok: () => boolean, ms = 3_000): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - t0;
}

test('one leader among candidates of separate coordinators; when it steps down another leads, never two at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-leader-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const coordinators = [0, 1, 2].map(() => new LocalCoordinator({ dir }));
  const changes: string[] = [];
  const candidates = coordinators.map((coordinator, i) => Leadership.start({
    coordinator, name: 'housekeeping', retryMs: 20, onChange: (leading) => changes.push(`${i}:${leading}`),
  }));
  const leaders = (): number => candidates.filter((c) => c.leading).length;
  await until('a leader', () => leaders() === 1);
  // Sampled over a while: exactly one leads throughout.
  for (let k = 0; k < 50; k++) {
    assert.equal(leaders(), 1);
    await new Promise((r) => setTimeout(r, 4));
  }
  const first = candidates.findIndex((c) => c.leading);
  await candidates[first].stop();
  assert.equal(candidates[first].leading, false);
  const took = await until('another leader', () => leaders() === 1);
  assert.ok(took < 1_000, `taken over in ${took} ms`);
  assert.ok(changes.includes(`${first}:false`), 'the old leader was told it stopped leading');
  for (const c of candidates) await c.stop();
  assert.equal(leaders(), 0);
  for (const c of coordinators) await c.close();
});

test('a leader whose lock may be lost stops leading at once, before another candidate takes over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-leader-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A driver aborts a lock's signal when its lease or session is gone; here, on demand.
  const local = new LocalCoordinator({ dir });
  const losers: AbortController[] = [];
  const losing: Coordinator = {
    tryLock: async (name) => {
      const lock = await local.tryLock(name);
      if (lock === null) return null;
      const c = new AbortController();
      losers.push(c);
      return { signal: c.signal, release: () => lock.release() } satisfies Lock;
    },
    lock: (name, opts) => local.lock(name, opts),
    close: () => local.close(),
  };
  const events: string[] = [];
  const a = Leadership.start({ coordinator: losing, name: 'x', retryMs: 10_000, onChange: (l) => events.push(`a:${l}`) });
  await until('a leads', () => a.leading);
  const other = new LocalCoordinator({ dir });
  const b = Leadership.start({ coordinator: other, name: 'x', retryMs: 10, onChange: (l) => events.push(`b:${l}`) });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(b.leading, false, 'b waits while a leads');
  losers[0].abort(new LockLostError('leader:x', 'lease expired'));
  assert.equal(a.leading, false, 'a stops leading the moment its lock may be lost');
  await until('b leads', () => b.leading);
  assert.deepEqual(events, ['a:true', 'a:false', 'b:true'], 'a stepped down before b took over');
  await a.stop();
  await b.stop();
  await local.close();
  await other.close();
});
