import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CoordinationConfigError, LocalMembership, openMembership } from './index.js';
import { membershipContract } from './contract.js';

const fixture = fileURLToPath(new URL('./member.fixture.js', import.meta.url));

const folders: string[] = [];
after(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-members-'));
  folders.push(dir);
  return dir;
}

membershipContract('file', {
  create: () => openMembership(pathToFileURL(tempDir()).href),
  reopen: async (m) => new LocalMembership({ dir: (m as LocalMembership).dir }),
  crash: async (m) => (m as LocalMembership).abandon(),
});

test('openMembership chooses the driver by scheme and names the known ones otherwise', async () => {
  await assert.rejects(openMembership('nosuch://localhost:6379'), /unknown scheme nosuch: \(known schemes: file:\/\/.*etcd:\/\/, postgresql:\/\/.*redis:\/\/, rediss:\/\/, redis\+unix:\/\/\)/);
  await assert.rejects(openMembership('file://relative'), CoordinationConfigError);
});

test('expiry follows the shared clock: a member is listed until exactly its timeout', async () => {
  let now = 1_000_000;
  const dir = tempDir();
  const a = new LocalMembership({ dir, now: () => now });
  const b = new LocalMembership({ dir, now: () => now });
  await a.join('g', 'x', { heartbeatMs: 60_000, timeoutMs: 120_000 });
  now += 119_999;
  assert.deepEqual(await b.members('g'), ['x']);
  now += 1;
  assert.deepEqual(await b.members('g'), [], 'expired when no heartbeat renewed it');
  await a.close();
  await b.close();
});

test('a member whose process is SIGKILLed drops out after its timeout', async () => {
  const dir = tempDir();
  const child = fork(fixture, [dir, 'g', 'child'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`member exited early (${code})`)));
  });
  const m = new LocalMembership({ dir });
  try {
    // Alive for several of its timeouts while it heartbeats.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await m.members('g'), ['child']);
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    const killedAt = Date.now();
    while ((await m.members('g')).length > 0) {
      assert.ok(Date.now() - killedAt < 2000, 'still listed 2 s after the kill');
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    child.kill('SIGKILL');
    await m.close();
  }
});
