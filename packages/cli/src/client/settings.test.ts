import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alarmEndpointFor, configPath, resolveClientSettings, transportAuth } from './settings.js';
import { UsageError } from './output.js';

function withConfig(content: object | string | null, fn: (env: NodeJS.ProcessEnv, dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tally-client-settings-'));
  try {
    if (content !== null) {
      const p = join(dir, 'tally', 'client.json');
      mkdirSync(join(dir, 'tally'));
      writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
    }
    fn({ XDG_CONFIG_HOME: dir, HOME: dir }, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('defaults: the local endpoint, its alarm API on port 8042, basic auth as admin', () => {
  withConfig(null, (env) => {
    const s = resolveClientSettings({}, env);
    assert.equal(s.endpoint, 'http://127.0.0.1:8041');
    assert.equal(s.alarmEndpoint, 'http://127.0.0.1:8042');
    assert.equal(s.auth, 'basic');
    assert.equal(s.user, 'admin');
    assert.equal(s.timeoutMs, 30_000);
    assert.deepEqual(transportAuth(s), { type: 'basic', user: 'admin', password: undefined });
  });
});

test('precedence, key by key: flags beat the environment, which beats the file', () => {
  withConfig({ endpoint: 'http://file:1', user: 'fileuser', project: 'fileproject', timeout: 5 }, (env) => {
    const fromFile = resolveClientSettings({}, env);
    assert.equal(fromFile.endpoint, 'http://file:1');
    assert.equal(fromFile.alarmEndpoint, 'http://file:8042');
    assert.equal(fromFile.user, 'fileuser');
    assert.equal(fromFile.timeoutMs, 5000);
    assert.equal(fromFile.sources.endpoint, 'file');

    const e = { ...env, TALLY_ENDPOINT: 'http://env:2/', TALLY_USER: 'envuser' };
    const fromEnv = resolveClientSettings({}, e);
    assert.equal(fromEnv.endpoint, 'http://env:2');
    assert.equal(fromEnv.user, 'envuser');
    assert.equal(fromEnv.project, 'fileproject'); // not in the environment: still the file's
    assert.equal(fromEnv.sources.endpoint, 'env');

    const fromFlags = resolveClientSettings({ endpoint: 'http://flag:3', user: 'flaguser' }, e);
    assert.equal(fromFlags.endpoint, 'http://flag:3');
    assert.equal(fromFlags.user, 'flaguser');
    assert.equal(fromFlags.sources.user, 'flag');
  });
});

test("GNOCCHI_ENDPOINT is read when TALLY_ENDPOINT is not set; TALLY_ENDPOINT wins over it", () => {
  withConfig(null, (env) => {
    assert.equal(resolveClientSettings({}, { ...env, GNOCCHI_ENDPOINT: 'http://g:8041' }).endpoint, 'http://g:8041');
    assert.equal(resolveClientSettings({}, { ...env, GNOCCHI_ENDPOINT: 'http://g:8041', TALLY_ENDPOINT: 'http://t:8041' }).endpoint, 'http://t:8041');
  });
});

test('auth follows what is given: a token means bearer, a project or roles mean noauth headers', () => {
  withConfig(null, (env) => {
    const tok = resolveClientSettings({}, { ...env, TALLY_TOKEN: 'secret' });
    assert.deepEqual(transportAuth(tok), { type: 'bearer', token: 'secret' });
    const noauth = resolveClientSettings({ user: 'u1', project: 'p1', roles: 'admin, member' }, env);
    assert.deepEqual(transportAuth(noauth), { type: 'noauth', userId: 'u1', projectId: 'p1', roles: ['admin', 'member'] });
    assert.equal(resolveClientSettings({ auth: 'none' }, env).auth, 'none');
    assert.throws(() => resolveClientSettings({ auth: 'token' }, env), UsageError);
    assert.throws(() => resolveClientSettings({ auth: 'kerberos' }, env), /auth must be one of/);
  });
});

test('the alarm endpoint: given, else the endpoint host on port 8042 (scheme kept, path dropped)', () => {
  assert.equal(alarmEndpointFor('https://metrics.example:443/metric'), 'https://metrics.example:8042');
  withConfig({ alarm_endpoint: 'http://alarms:9000' }, (env) => {
    assert.equal(resolveClientSettings({}, env).alarmEndpoint, 'http://alarms:9000');
    assert.equal(resolveClientSettings({ alarmEndpoint: 'http://x:1' }, env).alarmEndpoint, 'http://x:1');
  });
});

test('configuration file: TALLY_CLIENT_CONFIG names it; a missing default file is fine, a bad one a usage error', () => {
  withConfig('{not json', (env, dir) => {
    assert.equal(configPath(env), join(dir, 'tally', 'client.json'));
    assert.throws(() => resolveClientSettings({}, env), (e: unknown) => e instanceof UsageError && /is not JSON/.test(e.message));
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ endpoint: 'http://other:1' }));
    assert.equal(resolveClientSettings({}, { ...env, TALLY_CLIENT_CONFIG: other }).endpoint, 'http://other:1');
    assert.throws(() => resolveClientSettings({}, { ...env, TALLY_CLIENT_CONFIG: join(dir, 'missing.json') }), /cannot read/);
  });
  withConfig(null, (env) => assert.equal(resolveClientSettings({}, env).endpoint, 'http://127.0.0.1:8041'));
  withConfig({ endpoint: 'ftp://x' }, (env) => assert.throws(() => resolveClientSettings({}, env), /only http and https/));
});
