import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidResourceId } from './errors.js';
import { parseUuid, resourceUuid, uuid5 } from './resource-id.js';

test('resourceUuid matches Gnocchi 4.4.2 (reference: "abc" by admin)', () => {
  assert.equal(resourceUuid('abc', 'admin'), '2c3b1c10-6e6c-58bc-8ad4-2f4686247567');
});

test('uuid5 matches Python uuid.uuid5 for the DNS namespace example', () => {
  // uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org')
  assert.equal(uuid5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org'), '886313e1-3b8a-5372-9b90-0c9aee199e5d');
});

test('UUID spellings accepted by Python are canonicalised, not hashed', () => {
  const c = '8f6b0c3a-2d7e-4c55-9a3b-0d1e2f3a4b5c';
  assert.equal(resourceUuid(c.toUpperCase(), 'x'), c);
  assert.equal(resourceUuid(`{${c}}`, 'x'), c);
  assert.equal(resourceUuid(`urn:uuid:${c}`, 'x'), c);
  assert.equal(resourceUuid(c.replace(/-/g, ''), 'x'), c);
  assert.equal(parseUuid('not-a-uuid'), null);
  assert.equal(parseUuid('8f6b0c3a2d7e4c559a3b0d1e2f3a4b5g'), null);
});

test('resourceUuid errors carry Gnocchi\'s messages', () => {
  assert.throws(() => resourceUuid('a/b', 'u'), new InvalidResourceId("'/' is not supported in resource id"));
  assert.throws(() => resourceUuid('x'.repeat(256), 'u'),
    new InvalidResourceId('transformable resource id >255 max allowed characters'));
  // Creator-scoped: the same name gives different ids for different creators, null is "\0".
  assert.notEqual(resourceUuid('abc', 'u1'), resourceUuid('abc', 'u2'));
  assert.equal(resourceUuid('abc', null), uuid5('0a7a15ff-aa13-4ac2-897c-9bdf30ce175b', 'abc\0\0'));
});
