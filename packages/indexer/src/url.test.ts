import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { parseIndexerUrl } from './connect.js';

test('sqlite URLs and plain paths', () => {
  assert.deepEqual(parseIndexerUrl('sqlite:///var/lib/tally/index.db'), { dialect: 'sqlite', path: '/var/lib/tally/index.db' });
  assert.deepEqual(parseIndexerUrl('sqlite:////var/lib/tally/index.db'), { dialect: 'sqlite', path: '/var/lib/tally/index.db' });
  assert.deepEqual(parseIndexerUrl('/abs/x.db'), { dialect: 'sqlite', path: '/abs/x.db' });
  assert.deepEqual(parseIndexerUrl('rel/x.db'), { dialect: 'sqlite', path: resolve('rel/x.db') });
  assert.deepEqual(parseIndexerUrl(':memory:'), { dialect: 'sqlite', path: ':memory:' });
  assert.deepEqual(parseIndexerUrl('sqlite://:memory:'), { dialect: 'sqlite', path: ':memory:' });
  assert.deepEqual(parseIndexerUrl('sqlite://'), { dialect: 'sqlite', path: ':memory:' });
  assert.throws(() => parseIndexerUrl('sqlite://relative.db'), /absolute path/);
  assert.throws(() => parseIndexerUrl(''), /empty/);
});

test('postgresql URLs, including Gnocchi driver suffixes', () => {
  assert.deepEqual(parseIndexerUrl('postgresql://root@/tally?host=/var/run/postgresql'),
    { dialect: 'postgres', connectionString: 'postgresql://root@/tally?host=/var/run/postgresql' });
  assert.deepEqual(parseIndexerUrl('postgres://u:p@db:5432/g'), { dialect: 'postgres', connectionString: 'postgresql://u:p@db:5432/g' });
  assert.deepEqual(parseIndexerUrl('postgresql+psycopg2://u@h/g'), { dialect: 'postgres', connectionString: 'postgresql://u@h/g' });
  assert.throws(() => parseIndexerUrl('mysql://u@h/g'), /unsupported indexer URL scheme: mysql/);
});
