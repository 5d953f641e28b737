// The command as users run it (./bin/tally): where the trusting auth modes may listen,
// `tally user ...`, token mode and HTTPS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { request } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, isLoopbackHost, listenRefusal, resolveSettings } from './config.js';
import { environmentFailure } from './main.js';

import { TALLY, startTally } from './tally-process.js';


function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tally-cli-'));
}

/** Runs tally to completion. */
function tally(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TALLY, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function freePort(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

test('loopback hosts, and the refusal to listen beyond loopback in the trusting modes', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ['0.0.0.0', '::', '', '10.0.0.1', '128.0.0.1', '192.168.1.10', 'example.com', 'localhost.example.com', '::ffff:10.0.0.1', '::2']) {
    assert.equal(isLoopbackHost(h), false, h);
  }
  for (const mode of ['basic', 'noauth', 'remoteuser'] as const) {
    assert.equal(listenRefusal('127.0.0.1', mode, false), null);
    assert.equal(listenRefusal('localhost', mode, false), null);
    const why = listenRefusal('0.0.0.0', mode, false);
    assert.ok(why);
    assert.match(why, new RegExp(`refusing to listen on 0\\.0\\.0\\.0 in auth mode "${mode}"`));
    assert.match(why, /--auth-mode token/);
    assert.match(why, /--insecure/);
    assert.equal(listenRefusal('0.0.0.0', mode, true), null);
  }
  assert.equal(listenRefusal('0.0.0.0', 'token', false), null);
  assert.match(listenRefusal('', 'basic', false) ?? '', /every interface/);
});

test('settings: --insecure from flag, environment or config key; TLS files go in pairs', () => {
  assert.equal(resolveSettings({}, {}).insecure, false);
  assert.equal(resolveSettings({ insecure: true }, {}).insecure, true);
  assert.equal(resolveSettings({}, { TALLY_INSECURE: '1' }).insecure, true);
  assert.equal(resolveSettings({}, { TALLY_INSECURE: 'false' }).insecure, false);
  const dir = tempDir();
  try {
    const config = join(dir, 'tally.json');
    writeFileSync(config, JSON.stringify({ insecure: true, 'tls-cert': 'c.pem', 'tls-key': 'k.pem', 'token-cache-ttl': 5 }));
    const fromFile = resolveSettings({ config }, {});
    assert.equal(fromFile.insecure, true);
    assert.equal(fromFile.tokenCacheTtl, 5);
    assert.ok(fromFile.tlsCert.endsWith('/c.pem'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(resolveSettings({}, { TALLY_AUTH_MODE: 'token' }).authMode, 'token');
  assert.equal(resolveSettings({}, {}).tokenCacheTtl, 30);
  assert.throws(() => resolveSettings({ authMode: 'keystone' }, {}), ConfigError);
  assert.throws(() => resolveSettings({ tlsCert: 'c.pem' }, {}), /--tls-cert and --tls-key go together/);
  const s = resolveSettings({ tlsCert: 'c.pem', tlsKey: 'k.pem' }, {});
  assert.ok(s.tlsCert.endsWith('/c.pem') && s.tlsKey.endsWith('/k.pem'));
});

test('tally serve/api refuse 0.0.0.0 and :: in basic, noauth and remoteuser modes, with a reason and a way out', () => {
  const dir = tempDir();
  try {
    for (const [cmd, host, mode] of [['serve', '0.0.0.0', 'basic'], ['api', '::', 'noauth'], ['serve', '10.1.2.3', 'remoteuser']]) {
      const r = tally([cmd, '--data-dir', dir, '--host', host, '--auth-mode', mode, '--port', String(freePort())]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^tally ${cmd}: refusing to listen on ${host.replace(/\./g, '\\.')} in auth mode "${mode}"`));
      assert.match(r.stderr, /--insecure/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    // The same through the environment and a config file.
    const env = tally(['serve', '--data-dir', dir], { TALLY_HOST: '0.0.0.0' });
    assert.equal(env.status, 2);
    assert.match(env.stderr, /refusing to listen on 0\.0\.0\.0 in auth mode "basic"/);
    const config = join(dir, 'tally.json');
    writeFileSync(config, JSON.stringify({ host: '0.0.0.0', 'auth-mode': 'noauth' }));
    const file = tally(['api', '--data-dir', dir, '--config', config]);
    assert.equal(file.status, 2);
    assert.match(file.stderr, /refusing to listen on 0\.0\.0\.0 in auth mode "noauth"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tally serve listens beyond loopback in basic mode when told so (TALLY_INSECURE=1)', async () => {
  const dir = tempDir();
  try {
    const port = freePort();
    const srv = await startTally(['serve', '--data-dir', dir, '--host', '0.0.0.0', '--port', String(port), '--alarm-port', '0', '--rating-port', '0', '--metricd-workers', '1'], { TALLY_INSECURE: '1' });
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/archive_policy`, { headers: { authorization: 'Basic ' + Buffer.from('admin:').toString('base64') } });
      assert.equal(res.status, 200);
    } finally {
      await srv.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A self-signed certificate for localhost, made with openssl. */
function selfSigned(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

/** GET over HTTPS trusting only `ca`. */
function httpsGet(port: number, path: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port, path, ca, headers: { accept: 'application/json', ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('tally user: create, list, tokens shown once and stored hashed, revoke, delete; usage errors exit 2', () => {
  const dir = tempDir();
  const d = ['--data-dir', dir];
  try {
    let r = tally(['user', 'create', 'alice', '--project', 'acme', ...d]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /created user alice \(id [0-9a-f-]{36}, project acme, role member\)/);
    assert.equal(tally(['user', 'create', 'root', '--project', 'ops', '--role', 'admin', ...d]).status, 0);
    r = tally(['user', 'create', 'alice', '--project', 'acme', ...d]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^tally user create: User alice already exists/);
    r = tally(['user', 'create', 'bob', '--project', 'acme', '--role', 'owner', ...d]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /role must be admin or member/);
    assert.notEqual(tally(['user', 'create', 'carol', ...d]).status, 0, '--project is required');
    assert.equal(tally(['user', 'create', 'a:b', '--project', 'acme', ...d]).status, 2);

    r = tally(['user', 'token', 'create', 'alice', ...d]);
    assert.equal(r.status, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /^tally_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.match(r.stderr, /shown only this once/);
    const id = token.slice(6, 22);
    const store = readFileSync(join(dir, 'users.sqlite'));
    assert.ok(!store.includes(token.slice(23)), 'the secret is not stored');
    assert.equal(statSync(join(dir, 'users.sqlite')).mode & 0o777, 0o600);
    assert.equal(tally(['user', 'token', 'create', 'nobody', ...d]).status, 2);

    r = tally(['user', 'list', ...d]);
    assert.equal(r.status, 0);
    // The client commands' table: rows between | borders, the first naming the columns.
    const cells = (text: string) => text.split('\n').filter((l) => l.startsWith('|')).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    const rows = cells(r.stdout);
    assert.deepEqual(rows[0], ['NAME', 'PROJECT', 'ROLE', 'TOKENS', 'CREATED', 'ID']);
    assert.deepEqual(rows.slice(1).map((row) => row.slice(0, 4)), [['alice', 'acme', 'member', '1'], ['root', 'ops', 'admin', '0']]);
    r = tally(['user', 'token', 'list', 'alice', ...d]);
    assert.deepEqual(cells(r.stdout).slice(1).map((row) => row.slice(0, 2)), [[id, 'alice']]);
    assert.ok(!r.stdout.includes(token));

    assert.equal(tally(['user', 'token', 'revoke', id, ...d]).status, 0);
    r = tally(['user', 'token', 'revoke', id, ...d]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no token with id/);
    // Revoking by the token itself works too.
    const second = tally(['user', 'token', 'create', 'alice', ...d]).stdout.trim();
    assert.equal(tally(['user', 'token', 'revoke', second, ...d]).status, 0);
    assert.equal(tally(['user', 'token', 'create', 'alice', ...d]).status, 0);
    r = tally(['user', 'delete', 'alice', ...d]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /deleted user alice \(1 token revoked\)/);
    assert.equal(tally(['user', 'delete', 'alice', ...d]).status, 2);
    assert.doesNotMatch(tally(['user', 'list', ...d]).stdout, /alice/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('token mode over HTTPS on every interface: tokens work, names do not, revocation applies, plain HTTP is not served', async () => {
  const dir = tempDir();
  const d = ['--data-dir', dir];
  try {
    const { cert, key } = selfSigned(dir);
    const ca = readFileSync(cert);
    assert.equal(tally(['user', 'create', 'root', '--project', 'ops', '--role', 'admin', ...d]).status, 0);
    const token = tally(['user', 'token', 'create', 'root', ...d]).stdout.trim();
    const port = freePort();
    const srv = await startTally(['serve', ...d, '--host', '0.0.0.0', '--port', String(port), '--alarm-port', '0', '--rating-port', '0', '--auth-mode', 'token',
      '--tls-cert', cert, '--tls-key', key, '--token-cache-ttl', '0']);
    try {
      assert.match(srv.output(), new RegExp(`"url":"https://0\\.0\\.0\\.0:${port}"`));
      assert.equal((await httpsGet(port, '/', ca)).status, 200);
      assert.equal((await httpsGet(port, '/v1/status', ca, { authorization: `Bearer ${token}` })).status, 200);
      const basic = 'Basic ' + Buffer.from(`gnocchi:${token}`).toString('base64');
      assert.equal((await httpsGet(port, '/v1/status', ca, { authorization: basic })).status, 200);
      assert.equal((await httpsGet(port, '/v1/status', ca)).status, 401);
      assert.equal((await httpsGet(port, '/v1/status', ca, { authorization: 'Basic ' + Buffer.from('admin:').toString('base64') })).status, 401);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`), 'no plain HTTP on the TLS port');
      // Revoked in another process: refused at once with a zero cache TTL.
      assert.equal(tally(['user', 'token', 'revoke', token, ...d]).status, 0);
      assert.equal((await httpsGet(port, '/v1/status', ca, { authorization: `Bearer ${token}` })).status, 401);
    } finally {
      await srv.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS settings are checked before anything starts: missing file, mismatched key', () => {
  const dir = tempDir();
  try {
    const a = selfSigned(mkdtempSync(join(dir, 'a-')));
    const b = selfSigned(mkdtempSync(join(dir, 'b-')));
    let r = tally(['serve', '--data-dir', dir, '--port', String(freePort()), '--tls-cert', join(dir, 'none.pem'), '--tls-key', a.key]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^tally serve: --tls-cert .*none\.pem: ENOENT/);
    r = tally(['api', '--data-dir', dir, '--port', String(freePort()), '--tls-cert', a.cert, '--tls-key', b.key]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^tally api: --tls-cert .* \/ --tls-key .*: .*(mismatch|key)/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a data folder that cannot be used ends the command with one line and exit 1, not a stack', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const r = tally(['serve', '--data-dir', join(file, 'data'), '--port', '0']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^tally serve: .*ENOTDIR.*\n$/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('environmentFailure names driver and system codes and leaves bugs alone', () => {
  const sqlite = Object.assign(new Error('unable to open database file'), { code: 'SQLITE_CANTOPEN' });
  assert.match(environmentFailure(sqlite) ?? '', /SQLITE_CANTOPEN.*writable/);
  const full = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
  assert.match(environmentFailure(full) ?? '', /disk is full/);
  const pg = Object.assign(new Error('database "x" does not exist'), { code: '3D000' });
  assert.match(environmentFailure(pg) ?? '', /3D000/);
  assert.equal(environmentFailure(new TypeError('x is undefined')), undefined);
  assert.equal(environmentFailure(Object.assign(new Error('odd'), { code: 42 })), undefined);
});
