// The client's identities against servers in the matching auth modes: a Tally API token
// (bearer) in token mode, and noauth's user and project headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTally } from '../tally-process.js';
import { runTally } from './run-tally.js';

test('token mode: --token or TALLY_TOKEN is sent as a bearer token; none, or a wrong one, exits 1 with a hint', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-client-token-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = ['--data-dir', join(dir, 'data')];
  assert.equal((await runTally(['user', 'create', 'ops', '--project', 'proj-1', '--role', 'admin', ...data])).code, 0);
  const issued = await runTally(['user', 'token', 'create', 'ops', ...data]);
  assert.equal(issued.code, 0, issued.stderr);
  const token = issued.stdout.trim();
  const port = await freePort();
  const server = await startTally(['serve', ...data, '--auth-mode', 'token', '--port', String(port), '--alarm-port', '0', '--rating-port', '0']);
  t.after(() => server.stop());
  const env = { TALLY_ENDPOINT: `http://127.0.0.1:${port}`, XDG_CONFIG_HOME: join(dir, 'config') };

  const created = await runTally(['metric', 'create', 'm', '-a', 'low', '--token', token, '-f', 'json'], { env });
  assert.equal(created.code, 0, created.stderr);
  assert.equal((JSON.parse(created.stdout) as { creator: string }).creator.endsWith(':proj-1'), true);
  const viaEnv = await runTally(['metric', 'list', '-f', 'value', '-c', 'name'], { env: { ...env, TALLY_TOKEN: token } });
  assert.equal(viaEnv.stdout, 'm\n');

  const none = await runTally(['metric', 'list'], { env });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /401 .*--token \(token mode\)/);
  const wrong = await runTally(['metric', 'list', '--token', 'not-a-token'], { env });
  assert.equal(wrong.code, 1);
});

test('noauth mode: --user, --project and --roles become X-User-Id, X-Project-Id and X-Roles', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-client-noauth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const server = await startTally(['serve', '--data-dir', join(dir, 'data'), '--auth-mode', 'noauth', '--port', String(port), '--alarm-port', '0', '--rating-port', '0']);
  t.after(() => server.stop());
  const env = { TALLY_ENDPOINT: `http://127.0.0.1:${port}`, XDG_CONFIG_HOME: join(dir, 'config') };
  const created = await runTally(['metric', 'create', 'n', '-a', 'low', '--user', 'u-1', '--project', 'p-1', '-f', 'json'], { env });
  assert.equal(created.code, 0, created.stderr);
  assert.equal((JSON.parse(created.stdout) as { creator: string }).creator, 'u-1:p-1');
  // Another project does not see it (noauth lists are filtered by project unless admin).
  const other = await runTally(['metric', 'list', '-f', 'json', '--user', 'u-2', '--project', 'p-2'], { env });
  assert.deepEqual(JSON.parse(other.stdout), []);
  const admin = await runTally(['metric', 'list', '-f', 'json', '--user', 'u-2', '--project', 'p-2', '--roles', 'admin'], { env });
  assert.equal((JSON.parse(admin.stdout) as unknown[]).length, 1);
});
