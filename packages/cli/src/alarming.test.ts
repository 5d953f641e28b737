import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Identity, TokenVerifier } from '@tally/rest';
import { ConfigError, listenRefusal, resolveSettings } from './config.js';
import { readHmacSecrets, upgradeAlarming, withAdminToken } from './alarming.js';

test('the admin token is an administrator; other tokens go to the users\' verifier', async () => {
  const user: Identity = { userId: 'bob', projectId: 'p', roles: [], creator: 'bob:p' };
  const users: TokenVerifier = { verify: async (t) => (t === 'tally_bob' ? user : null) };
  const v = withAdminToken('a-service-token-123', users);
  assert.deepEqual((await v.verify('a-service-token-123'))?.roles, ['admin']);
  assert.equal(await v.verify('a-service-token-12'), null);
  assert.equal(await v.verify('a-service-token-1234'), null);
  assert.equal(await v.verify('tally_bob'), user);
});

test('admin tokens shorter than 16 characters and unknown alarm policies are refused', () => {
  assert.throws(() => resolveSettings({ adminToken: 'short' }, {}), ConfigError);
  assert.throws(() => resolveSettings({ alarmPolicy: 'lax' }, {}), ConfigError);
  const s = resolveSettings({}, { TALLY_ALARM_PORT: '9042' });
  assert.equal(s.alarmPort, 9042);
  assert.equal(s.alarmPolicy, 'default');
});

test('the open alarm policy listens on loopback only, whatever the auth mode', () => {
  assert.match(listenRefusal('0.0.0.0', 'token', false, 'open') ?? '', /alarm-policy open/);
  assert.match(listenRefusal('0.0.0.0', 'noauth', true, 'open') ?? '', /alarm-policy open/);
  assert.equal(listenRefusal('127.0.0.1', 'noauth', false, 'open'), null);
});

test('upgrade applies the alarming migrations once, on a new data folder', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-alarming-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = resolveSettings({ dataDir: join(dir, 'new') }, {});
  assert.ok((await upgradeAlarming(s)) >= 1);
  assert.equal(await upgradeAlarming(s), 0);
});

test('evaluator and notifier settings: seconds, the lease above the timeout, --gnocchi-url, the HMAC secrets file', (t) => {
  const s = resolveSettings({}, {});
  assert.equal(s.evaluationInterval, 60);
  assert.equal(s.evaluatorGroup, 'alarm_evaluator');
  assert.equal(s.gnocchiUrl, '');
  assert.equal(resolveSettings({ evaluationInterval: '0.5' }, {}).evaluationInterval, 0.5);
  for (const bad of ['0', '-1', 'soon', '']) assert.throws(() => resolveSettings({ evaluationInterval: bad }, {}), ConfigError, bad);
  assert.throws(() => resolveSettings({ notifierTimeout: '60' }, {}), /--notifier-lease must exceed --notifier-timeout/);
  assert.throws(() => resolveSettings({ gnocchiUrl: 'ftp://x' }, {}), ConfigError);
  assert.equal(resolveSettings({}, { TALLY_GNOCCHI_URL: 'https://gnocchi:8041/metric' }).gnocchiUrl, 'https://gnocchi:8041/metric');

  const dir = mkdtempSync(join(tmpdir(), 'tally-hmac-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'secrets.json');
  writeFileSync(file, JSON.stringify({ hooks: 's3cret' }));
  assert.deepEqual(readHmacSecrets(file), { hooks: 's3cret' });
  assert.deepEqual(readHmacSecrets(''), {});
  writeFileSync(file, JSON.stringify({ hooks: 42 }));
  assert.throws(() => readHmacSecrets(file), /the secret of "hooks" must be a non-empty string/);
  writeFileSync(file, '["a"]');
  assert.throws(() => readHmacSecrets(file), ConfigError);
  assert.throws(() => readHmacSecrets(join(dir, 'missing.json')), ConfigError);
});
