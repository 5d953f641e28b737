// Tokens: format, hashing, verification with its cache; how requests carry them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteUserStore } from './users-sqlite.js';
import { NoSuchUser, type UserStore } from './users.js';
import { StoreTokenVerifier, hashSecret, issueToken, parseToken, verifySecret } from './tokens.js';
import { authenticate, requestToken, installTokenAuth } from './auth.js';
import { HttpError } from './errors.js';
import type { FastifyInstance } from 'fastify';
import { createHttpServer, DEFAULT_HTTP_CONFIG, installGnocchiHttp } from './http.js';

async function withStore(fn: (store: SqliteUserStore) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-tokens-'));
  const store = await SqliteUserStore.open(join(dir, 'users.sqlite'));
  try {
    await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Counts the store's lookups. */
function counting(store: UserStore): UserStore & { lookups: number } {
  const c = Object.create(store) as UserStore & { lookups: number };
  c.lookups = 0;
  c.findToken = async (id) => {
    c.lookups++;
    return store.findToken(id);
  };
  return c;
}

test('tokens: format, and the hash verifies only the right secret', async () => {
  const params = { N: 1024, r: 8, p: 1 };
  const h = await hashSecret('s3cret', params);
  assert.match(h, /^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.notEqual(await hashSecret('s3cret', params), h, 'per-hash salt');
  assert.equal(await verifySecret('s3cret', h), true);
  assert.equal(await verifySecret('s3cres', h), false);
  assert.equal(await verifySecret('s3cret', h.replace('scrypt', 'md5')), false);
  assert.equal(await verifySecret('s3cret', 'scrypt$1048576000$8$1$AA$AA'), false, 'absurd cost refused');
  assert.equal(await verifySecret('s3cret', 'garbage'), false);
  assert.deepEqual(parseToken(`tally_0123456789abcdef_${'A'.repeat(43)}`), { id: '0123456789abcdef', secret: 'A'.repeat(43) });
  for (const bad of ['', 'tally_', `tally_0123456789abcdeg_${'A'.repeat(43)}`, `tally_0123456789abcdef_${'A'.repeat(42)}`, `x${'A'.repeat(60)}`]) {
    assert.equal(parseToken(bad), null, bad);
  }
});

test('tokens: issued once, verified to the user identity, stored only hashed', async () => {
  await withStore(async (store) => {
    const alice = await store.createUser({ name: 'alice', projectId: 'acme', role: 'member' });
    await store.createUser({ name: 'root', projectId: 'ops', role: 'admin' });
    const { token, info } = await issueToken(store, 'alice');
    const parsed = parseToken(token);
    assert.ok(parsed);
    assert.equal(info.id, parsed.id);
    const stored = await store.findToken(info.id);
    assert.ok(stored && !stored.hash.includes(parsed.secret));
    await assert.rejects(issueToken(store, 'nobody'), NoSuchUser);

    const v = new StoreTokenVerifier(store);
    assert.deepEqual(await v.verify(token), { userId: alice.id, projectId: 'acme', roles: ['member'], creator: `${alice.id}:acme` });
    const root = await issueToken(store, 'root');
    assert.deepEqual((await v.verify(root.token))?.roles, ['admin']);
    // Wrong secret under a real id; unknown id; not a token at all.
    const wrongSecret = `tally_${parsed.id}_${'B'.repeat(43)}`;
    assert.equal(await v.verify(wrongSecret), null);
    assert.equal(await v.verify(`tally_ffffffffffffffff_${parsed.secret}`), null);
    assert.equal(await v.verify('admin'), null);
  });
});

test('tokens: verified tokens are cached for the TTL (one hash), revocation applies after it', async () => {
  await withStore(async (raw) => {
    const store = counting(raw);
    await store.createUser({ name: 'alice', projectId: 'acme', role: 'member' });
    const { token, info } = await issueToken(store, 'alice');
    let now = 1_000_000;
    const v = new StoreTokenVerifier(store, { cacheTtlMs: 30_000, now: () => now });
    // Concurrent first uses share one check.
    const first = await Promise.all(Array.from({ length: 20 }, () => v.verify(token)));
    assert.ok(first.every((id) => id?.projectId === 'acme'));
    assert.equal(v.hashes, 1);
    for (let i = 0; i < 100; i++) assert.ok(await v.verify(token));
    assert.equal(v.hashes, 1);
    assert.equal(store.lookups, 1);
    await store.revokeToken(info.id);
    now += 29_000;
    assert.ok(await v.verify(token), 'still cached within the TTL');
    now += 2_000;
    assert.equal(await v.verify(token), null, 'revoked once the TTL has passed');
    // Failures are never cached: a wrong secret costs a hash each time (bounded by the limiter).
    const other = await issueToken(store, 'alice');
    const wrong = `tally_${other.info.id}_${'C'.repeat(43)}`;
    const before = v.hashes;
    assert.equal(await v.verify(wrong), null);
    assert.equal(await v.verify(wrong), null);
    assert.equal(v.hashes, before + 2);
  });
});

test('tokens: with no cache every request is checked; the hash limiter refuses floods with 503', async () => {
  await withStore(async (store) => {
    await store.createUser({ name: 'alice', projectId: 'acme', role: 'member' });
    const { token } = await issueToken(store, 'alice');
    const v = new StoreTokenVerifier(store, { cacheTtlMs: 0 });
    assert.ok(await v.verify(token));
    assert.ok(await v.verify(token));
    assert.equal(v.hashes, 2);
    const tight = new StoreTokenVerifier(store, { cacheTtlMs: 0, maxConcurrentHashes: 1, maxWaiting: 2 });
    // Distinct tokens (distinct cache keys) of a real id so that each needs a hash.
    const id = parseToken(token)?.id ?? '';
    const attempts = Array.from({ length: 8 }, (_v, i) => tight.verify(`tally_${id}_${String(i).repeat(43)}`));
    const results = await Promise.allSettled(attempts);
    const refused = results.filter((r) => r.status === 'rejected');
    assert.ok(refused.length > 0);
    for (const r of refused) assert.equal(((r as PromiseRejectedResult).reason as HttpError).status, 503);
    assert.ok(results.some((r) => r.status === 'fulfilled' && r.value === null));
  });
});

test('requests carry tokens as Bearer, in HTTP basic (password, or user without password), or X-Auth-Token', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  assert.equal(requestToken({ authorization: 'Bearer tok1' }), 'tok1');
  assert.equal(requestToken({ authorization: 'bearer   tok1 ' }), 'tok1');
  assert.equal(requestToken({ authorization: `Basic ${b64('anyone:tok2')}` }), 'tok2');
  assert.equal(requestToken({ authorization: `Basic ${b64('anyone:tok:with:colons')}` }), 'tok:with:colons');
  assert.equal(requestToken({ authorization: `Basic ${b64('admin:')}` }), null, 'a user name alone proves nothing');
  assert.equal(requestToken({ authorization: `Basic ${b64('admin')}` }), null);
  // gnocchiclient's gnocchi-basic sends `user:` only: the token may be the user name.
  assert.equal(requestToken({ authorization: `Basic ${b64('tally_x:')}` }), 'tally_x');
  assert.equal(requestToken({ 'x-auth-token': 'tok3' }), 'tok3');
  assert.equal(requestToken({ authorization: 'Digest x' }), null);
  assert.equal(requestToken({}), null);
  // Without a proven token, token mode is 401 whatever the headers claim.
  for (const h of [{}, { authorization: `Basic ${b64('admin:')}` }, { 'x-user-id': 'admin', 'x-roles': 'admin' }]) {
    assert.throws(() => authenticate('token', h), (e: unknown) => e instanceof HttpError && e.status === 401 && /Bearer/.test(e.headers['www-authenticate']));
  }
});

/** A server speaking only Gnocchi's conventions, in token mode. */
function tokenApp(): FastifyInstance {
  const cfg = { ...DEFAULT_HTTP_CONFIG, authMode: 'token' as const };
  const app = createHttpServer({ bodyLimit: cfg.bodyLimit });
  installGnocchiHttp(app, cfg);
  return app;
}

test('installTokenAuth: the hook proves the token once per request; routes read the identity', async () => {
  await withStore(async (store) => {
    await store.createUser({ name: 'alice', projectId: 'acme', role: 'member' });
    const { token } = await issueToken(store, 'alice');
    const app = tokenApp();
    app.get('/who', async (req) => authenticate('token', req.headers));
    app.get('/public', async () => ({ ok: true }));
    installTokenAuth(app, new StoreTokenVerifier(store));
    await app.ready();
    try {
      const who = await app.inject({ url: '/who', headers: { authorization: `Bearer ${token}` } });
      assert.equal(who.statusCode, 200);
      assert.equal(who.json().projectId, 'acme');
      const basic = await app.inject({ url: '/who', headers: { authorization: `Basic ${Buffer.from(`whoever:${token}`).toString('base64')}` } });
      assert.equal(basic.json().projectId, 'acme');
      assert.equal((await app.inject({ url: '/who' })).statusCode, 401);
      assert.equal((await app.inject({ url: '/who', headers: { authorization: `Bearer ${token}x` } })).statusCode, 401);
      assert.equal((await app.inject({ url: '/public', headers: { authorization: 'Bearer nonsense' } })).statusCode, 200);
      // A broken store is a 503, not a 500 nor an open door.
      const broken = tokenApp();
      broken.get('/who', async (req) => authenticate('token', req.headers));
      installTokenAuth(broken, { verify: async () => { throw new Error('disk gone'); } });
      await broken.ready();
      assert.equal((await broken.inject({ url: '/who', headers: { authorization: `Bearer ${token}` } })).statusCode, 503);
      await broken.close();
    } finally {
      await app.close();
    }
  });
});
