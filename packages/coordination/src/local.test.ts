import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CoordinationConfigError, LocalCoordinator, openCoordinator } from './index.js';
import { killed, spawnHolder } from './servers.fixture.js';
import { lockFileName } from './local.js';
import { coordinatorContract } from './contract.js';

const folders: string[] = [];
after(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

coordinatorContract('file', {
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-coord-'));
    folders.push(dir);
    return openCoordinator(pathToFileURL(dir).href);
  },
  reopen: async (c) => new LocalCoordinator({ dir: (c as LocalCoordinator).dir }),
});

test('openCoordinator chooses the driver by scheme and names the known ones otherwise', async () => {
  await assert.rejects(openCoordinator('etcd3://localhost:2379'), /unknown scheme etcd3: \(known schemes: file:\/\/.*etcd:\/\/, postgresql:\/\/.*redis:\/\/, rediss:\/\/, redis\+unix:\/\/\)/);
  await assert.rejects(openCoordinator('file://locks'), CoordinationConfigError);
});

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-coord-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('connections kept between uses still exclude, stay bounded and close with the coordinator', async (t) => {
  const dir = tempDir(t);
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  const a = new LocalCoordinator({ dir });
  const b = new LocalCoordinator({ dir });
  // Many cycles over a few names: each name keeps at most one idle connection.
  for (let i = 0; i < 200; i++) {
    const l = await a.tryLock(`sack-${i % 4}`);
    assert.ok(l, `cycle ${i}`);
    assert.equal(await b.tryLock(`sack-${i % 4}`), null, `b is excluded while a holds (cycle ${i})`);
    await l.release();
  }
  assert.ok(fds() - before <= 2 * 4 * 2, `open files grew by ${fds() - before}`);
  // A name a released (its connection parked) is free for b, and then excluded for a.
  const byB = await b.tryLock('sack-0');
  assert.ok(byB);
  assert.equal(await a.tryLock('sack-0'), null);
  await byB.release();
  // More names than the idle bound: the oldest idle connections are closed.
  for (let i = 0; i < 300; i++) await (await a.tryLock(`many-${i}`))?.release();
  assert.ok(fds() - before <= 2 * 128 + 2 * 4 * 2, `open files grew by ${fds() - before}`);
  await a.close();
  await b.close();
  assert.ok(fds() - before <= 0, `close() left ${fds() - before} files open`);
});

test('lock names are sanitised without collisions', (t) => {
  assert.notEqual(lockFileName('a/b'), lockFileName('a_b'));
  assert.match(lockFileName('../../etc/passwd'), /^[A-Za-z0-9_.-]+\.lock$/);
  const dir = tempDir(t);
  const c = new LocalCoordinator({ dir });
  return c.tryLock('../escape').then(async (l) => {
    assert.ok(l);
    assert.ok(readdirSync(dir).some((f) => f.endsWith('.lock')));
    await c.close();
  });
});

test('a lock held by another process is released when it is SIGKILLed', async (t) => {
  const dir = tempDir(t);
  const { child, reply } = await spawnHolder(pathToFileURL(dir).href, 'metricd-sack-3');
  t.after(() => child.kill('SIGKILL'));
  assert.equal(reply, 'held');
  const c = new LocalCoordinator({ dir });
  assert.equal(await c.tryLock('metricd-sack-3'), null, 'held across processes');
  await killed(child);
  const lock = await c.tryLock('metricd-sack-3');
  assert.ok(lock, 'kernel dropped the dead process lock at once, no timeout needed');
  await c.close();
});
