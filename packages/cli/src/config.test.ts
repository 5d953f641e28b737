import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IncomingConfigError } from '@tally/incoming';
import { resolveSettings } from './config.js';
import { openServices } from './services.js';

test('incoming, storage and coordination URLs default to file:// folders of the data folder', () => {
  const s = resolveSettings({}, { TALLY_DATA_DIR: '/srv/tally data' });
  assert.equal(s.incomingUrl, 'file:///srv/tally%20data/incoming');
  assert.equal(s.storageUrl, 'file:///srv/tally%20data/storage');
  assert.equal(s.coordinationUrl, 'file:///srv/tally%20data/locks');
});

test('each URL is a flag, an environment variable and a config key, in that order', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tally.json');
  writeFileSync(file, JSON.stringify({ 'incoming-url': 'file:///from/file', 'storage-url': 'file:///from/file', 'coordination-url': 'file:///from/file' }));
  const s = resolveSettings({ config: file, incomingUrl: 'file:///from/flag' }, { TALLY_STORAGE_URL: 'file:///from/env' });
  assert.equal(s.incomingUrl, 'file:///from/flag');
  assert.equal(s.storageUrl, 'file:///from/env');
  assert.equal(s.coordinationUrl, 'file:///from/file');
});

test('a URL of an unknown driver is refused before anything opens, naming the known schemes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = resolveSettings({ dataDir: dir, incomingUrl: 'etcd3://localhost:2379/incoming' }, {});
  await assert.rejects(openServices(s), (e: unknown) => e instanceof IncomingConfigError && /known schemes: file:\/\//.test(e.message));
});
