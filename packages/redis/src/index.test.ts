import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRedisUnavailable, parseRedisUrl, type RedisTarget } from './index.js';

class ConfigError extends Error {}

function parse(url: string, extra: string[] = []): RedisTarget {
  return parseRedisUrl(url, { prefix: 'p:', extra }, (m) => new ConfigError(m));
}

test('redis:// and rediss:// give host, port, credentials and database; redis+unix:// a socket path', () => {
  const t = parse('redis://u:s%40cret@cache.example:6380/3?timeout=2.5');
  assert.deepEqual([t.options.host, t.options.port, t.options.username, t.options.password, t.options.db, t.options.commandTimeout],
    ['cache.example', 6380, 'u', 's@cret', 3, 2500]);
  assert.equal(t.options.tls, undefined);
  assert.equal(t.prefix, 'p:');
  assert.ok(!t.display.includes('s%40cret'), t.display);
  const d = parse('redis://[::1]');
  assert.deepEqual([d.options.host, d.options.port, d.options.db, d.options.commandTimeout], ['::1', 6379, undefined, 10_000]);
  assert.deepEqual(parse('rediss://h/0').options.tls, { servername: 'h' });
  const u = parse('redis+unix:///run/redis/redis%20x.sock?db=2&password=pw&prefix=x:&lock_timeout=5', ['lock_timeout']);
  assert.deepEqual([u.options.path, u.options.db, u.options.password, u.prefix], ['/run/redis/redis x.sock', 2, 'pw', 'x:']);
  assert.deepEqual([...u.params], [['lock_timeout', '5']], 'only the driver\'s own parameters are left');
  assert.ok(!u.display.includes('pw'), u.display);
});

test('malformed Redis URLs are refused with the driver\'s error', () => {
  for (const bad of ['redis://h/0?db=1', 'redis://h/x', 'redis://h?timeout=0', 'redis://h?timeout=soon', 'redis://h?lock_timeout=5',
    'redis+unix://host/x.sock', 'redis+unix:x.sock', 'redis+unix:///', 'http://h', 'not a url']) {
    assert.throws(() => parse(bad), ConfigError, bad);
  }
});

test('connection failures and busy replies are "unavailable"; wrong commands are not', () => {
  const reply = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });
  for (const err of [
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }),
    new Error('Connection is closed.'),
    new Error('Stream isn\'t writeable and enableOfflineQueue options is false'),
    new Error('Command timed out'),
    Object.assign(new Error('Reached the max retries per request limit (which is 0).'), { name: 'MaxRetriesPerRequestError' }),
    reply('LOADING Redis is loading the dataset in memory'),
    reply('MISCONF Errors writing to the AOF file: No space left on device'),
    reply('OOM command not allowed when used memory > \'maxmemory\'.'),
  ]) assert.equal(isRedisUnavailable(err), true, err.message);
  for (const err of [reply('ERR Error running script'), reply('WRONGTYPE Operation against a key holding the wrong kind of value'),
    new TypeError('bad input'), 'a string']) {
    assert.equal(isRedisUnavailable(err), false, String(err));
  }
});
