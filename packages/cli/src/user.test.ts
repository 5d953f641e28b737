// The command as users run it (./bin/tally): where the trusting auth modes may listen,
// `tally user ...`, token mode and HTTPS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, isLoopbackHost, listenRefusal, resolveSettings } from './config.js';

const TALLY = fileURLToPath(new URL('../../../bin/tally', import.meta.url));

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tally-cli-'));
}

/** Runs tally to completion. */
function tally(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TALLY, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a long-running tally command and waits until its API listens (or it exits). */
async function startServer(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [TALLY, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within 30 s:\n${output}`)), 30_000);
    const check = () => {
      if (output.includes('Tally API listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tally exited with ${code} before listening:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    child,
    output: () => output,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
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
    const srv = await startServer(['serve', '--data-dir', dir, '--host', '0.0.0.0', '--port', String(port), '--metricd-workers', '1'], { TALLY_INSECURE: '1' });
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
