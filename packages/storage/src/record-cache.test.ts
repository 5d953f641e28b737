import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordCache } from './record-cache.js';

test('the record cache keeps the most recently used entries within its byte bound', () => {
  const c = new RecordCache(80);
  const b = (n: number): Uint8Array => new Uint8Array(n);
  c.set('a', b(10));
  c.set('b', b(10));
  c.set('c', b(10));
  assert.ok(c.get('a')); // a is now the most recent
  for (let i = 0; i < 6; i++) c.set(`x${i}`, b(10));
  assert.equal(c.bytes, 80);
  assert.equal(c.get('b'), undefined, 'least recently used went first');
  assert.ok(c.get('a'));
  c.set('big', b(11)); // over an eighth of the bound: not kept
  assert.equal(c.get('big'), undefined);
  c.set('a', b(5));
  assert.equal(c.get('a')?.length, 5);
  assert.ok(c.bytes <= 80);
});
