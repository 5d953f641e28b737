// The SQLite user store: users, tokens, cascade on delete, names, file permissions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteUserStore } from './users-sqlite.js';
import { NoSuchUser, UserExists, UserStoreError, checkProjectId, checkUserName, parseRole } from './users.js';

async function withStore(fn: (store: SqliteUserStore, path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-users-'));
  const path = join(dir, 'users.sqlite');
  const store = await SqliteUserStore.open(path);
  try {
    await fn(store, path);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('users: create, get, list, unique names, delete', async () => {
  await withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', projectId: 'acme', role: 'member' });
    assert.match(alice.id, /^[0-9a-f-]{36}$/);
    assert.equal(alice.projectId, 'acme');
    assert.ok(!Number.isNaN(Date.parse(alice.createdAt)));
    await store.createUser({ name: 'root', projectId: 'ops', role: 'admin' });
    await assert.rejects(store.createUser({ name: 'alice', projectId: 'other', role: 'admin' }), UserExists);
    assert.deepEqual((await store.listUsers()).map((u) => [u.name, u.role]), [['alice', 'member'], ['root', 'admin']]);
    assert.deepEqual(await store.getUser('alice'), alice);
    assert.equal(await store.getUser('nobody'), null);
    assert.equal(await store.deleteUser('alice'), true);
    assert.equal(await store.deleteUser('alice'), false);
    // A user re-created with the same name is another user (another id).
    const again = await store.createUser({ name: 'alice', projectId: 'acme', role: 'member' });
    assert.notEqual(again.id, alice.id);
  });
});

test('users: tokens are listed without hashes, revoked, and go with their user', async () => {
  await withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', projectId: 'acme', role: 'member' });
    const bob = await store.createUser({ name: 'bob', projectId: 'acme', role: 'member' });
    await store.addToken({ id: '00000000000000a1', userId: alice.id, hash: 'h1' });
    await store.addToken({ id: '00000000000000a2', userId: alice.id, hash: 'h2' });
    await store.addToken({ id: '00000000000000b1', userId: bob.id, hash: 'h3' });
    await assert.rejects(store.addToken({ id: '00000000000000c1', userId: 'no-such-id', hash: 'h' }), NoSuchUser);
    const aliceTokens = await store.listTokens('alice');
    assert.deepEqual(aliceTokens.map((t) => t.id), ['00000000000000a1', '00000000000000a2']);
    assert.ok(aliceTokens.every((t) => !('hash' in t) && t.userName === 'alice'));
    assert.equal((await store.listTokens()).length, 3);
    const found = await store.findToken('00000000000000a2');
    assert.equal(found?.hash, 'h2');
    assert.equal(found?.user.name, 'alice');
    assert.equal(await store.revokeToken('00000000000000a2'), true);
    assert.equal(await store.revokeToken('00000000000000a2'), false);
    assert.equal(await store.findToken('00000000000000a2'), null);
    await store.deleteUser('alice');
    assert.equal(await store.findToken('00000000000000a1'), null);
    assert.deepEqual((await store.listTokens()).map((t) => t.userName), ['bob']);
  });
});

test('users: the file is private to its owner and survives reopening', async () => {
  await withStore(async (store, path) => {
    await store.createUser({ name: 'alice', projectId: 'acme', role: 'admin' });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const second = await SqliteUserStore.open(path);
    try {
      assert.equal((await second.getUser('alice'))?.role, 'admin');
    } finally {
      await second.close();
    }
  });
});

test('users: names, projects and roles are checked', () => {
  assert.equal(checkUserName('alice.smith@example-1'), 'alice.smith@example-1');
  for (const bad of ['', ' alice', 'a:b', 'a/b', '-x', 'x'.repeat(65), 'é']) {
    assert.throws(() => checkUserName(bad), UserStoreError, bad);
  }
  assert.throws(() => checkProjectId('p:q'), UserStoreError);
  assert.equal(parseRole('admin'), 'admin');
  assert.equal(parseRole('member'), 'member');
  assert.throws(() => parseRole('root'), /role must be admin or member/);
});
