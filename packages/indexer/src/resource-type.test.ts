import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidResourceAttributeName, InvalidResourceAttributeOption, InvalidResourceAttributeValue,
  NoSuchResourceType, ResourceTypeAlreadyExists, ResourceTypeInUse, ResourceTypePatchConflict,
} from './errors.js';
import { resourceTypePatchToChange, validateResourceTypeDefinition } from './resource-type-schema.js';
import { engines, SECOND } from './test-util.js';
import type { ResourceAttributeSchema } from './types.js';

const S = (required = true, maxLength = 255): ResourceAttributeSchema => ({ type: 'string', required, minLength: 0, maxLength });

test('validateResourceTypeDefinition: defaults, order and Gnocchi\'s messages', () => {
  const d = validateResourceTypeDefinition({ name: 'x', attributes: {
    'a-b': { type: 'string', min_length: 3, max_length: 10 }, n: { type: 'number', min: 1.5 },
    b: { type: 'bool', required: false }, d: { type: 'datetime' }, u: { type: 'uuid' },
  } });
  assert.deepEqual(d.attributes, {
    'a-b': { type: 'string', required: true, minLength: 3, maxLength: 10 },
    n: { type: 'number', required: true, min: 1.5, max: null },
    b: { type: 'bool', required: false }, d: { type: 'datetime', required: true }, u: { type: 'uuid', required: true },
  });
  const bad = (body: unknown, e: Error | { message: string }): void => assert.throws(() => validateResourceTypeDefinition(body), e);
  bad({ name: 'x', attributes: { foo: { type: 'string', max_length: 300 } } },
    { message: "not a valid value for dictionary value @ data['attributes']['foo']['type']" });
  bad({ name: 5 }, { message: "expected str for dictionary value @ data['name']" });
  bad({ name: 'x', foo: 1 }, { message: "extra keys not allowed @ data['foo']" });
  bad({ name: 'x', attributes: [] }, { message: "expected a dictionary for dictionary value @ data['attributes']" });
  bad({ name: 'x', attributes: { id: { type: 'string' } } }, new InvalidResourceAttributeName('id'));
  bad({ name: 'x', attributes: { _x: { type: 'string' } } }, new InvalidResourceAttributeName('_x'));
  bad({ name: 'x', attributes: { foo: { type: 'number', min: 5, max: 1 } } }, new InvalidResourceAttributeValue('5', '1'));
  assert.equal(new InvalidResourceAttributeValue('5', '1').message,
    'Resource attribute value min (or min_length) 5 must be less  than or equal to max (or max_length) 1!');
});

test('resourceTypePatchToChange follows Gnocchi (fill rules, jsonpatch conflicts)', () => {
  const current = { name: 't', state: 'active' as const, attributes: { a: S() } };
  assert.deepEqual(resourceTypePatchToChange(current, [
    { op: 'add', path: '/attributes/s', value: { type: 'string', required: false } },
    { op: 'remove', path: '/attributes/a' },
    { op: 'add', path: '/attributes/d', value: { type: 'datetime', options: { fill: '2015-01-01' } } },
  ]), {
    add: { s: { schema: S(false) }, d: { schema: { type: 'datetime', required: true }, fill: 1420070400n * SECOND } },
    remove: ['a'],
  });
  assert.throws(() => resourceTypePatchToChange(current, [{ op: 'add', path: '/attributes/s', value: { type: 'string', max_length: 4 } }]),
    new InvalidResourceAttributeOption('s', 'fill', 'must not be empty if required=True'));
  assert.throws(() => resourceTypePatchToChange(current, [{ op: 'add', path: '/attributes/s', value: { type: 'string', max_length: 4, options: { fill: 'toolong' } } }]),
    { message: "Option 'fill' of resource attribute s is invalid: length of value must be at most 4" });
  assert.throws(() => resourceTypePatchToChange(current, [{ op: 'add', path: '/attributes/s', value: { type: 'number', max: 4, options: { fill: 'x' } } }]),
    { message: "Option 'fill' of resource attribute s is invalid: expected Real" });
  assert.throws(() => resourceTypePatchToChange(current, [{ op: 'remove', path: '/attributes/nope' }]),
    new ResourceTypePatchConflict("can't remove a non-existent object 'nope'"));
  assert.throws(() => resourceTypePatchToChange(current, [{ op: 'add', path: '/name', value: {} }]),
    { message: "not a valid value for dictionary value @ data[0]['path']" });
  assert.throws(() => resourceTypePatchToChange(current, [{ op: 'replace', path: '/attributes/x', value: {} }]),
    { message: "not a valid value for dictionary value @ data[0]['op']" });
  // "add" over an existing attribute is no change at all.
  assert.deepEqual(resourceTypePatchToChange(current, [{ op: 'add', path: '/attributes/a', value: { type: 'bool' } }]), { add: {}, remove: [] });
});

for (const engine of engines()) {
  test(`[${engine.name}] generic exists after upgrade; create/get/list/delete resource types`, async () => {
    const { ix, done } = await engine.open();
    try {
      assert.deepEqual(await ix.listResourceTypes(), [{ name: 'generic', attributes: {}, state: 'active' }]);
      const attrs = { host: S(), size: { type: 'number', required: false, min: 0, max: null } as ResourceAttributeSchema };
      assert.deepEqual(await ix.createResourceType('vm', attrs), { name: 'vm', attributes: attrs, state: 'active' });
      await assert.rejects(ix.createResourceType('vm', {}), new ResourceTypeAlreadyExists('vm'));
      assert.deepEqual(await ix.getResourceType('vm'), { name: 'vm', attributes: attrs, state: 'active' });
      assert.equal(await ix.getResourceType('nope'), null);
      assert.deepEqual((await ix.listResourceTypes()).map((t) => t.name), ['generic', 'vm']);
      await ix.createResource({ type: 'vm', id: '8f6b0c3a-2d7e-4c55-9a3b-0d1e2f3a4b5c', creator: 'u:p', attributes: { host: 'h1' } });
      await assert.rejects(ix.deleteResourceType('vm'), new ResourceTypeInUse('vm'));
      await assert.rejects(ix.deleteResourceType('generic'), { message: 'Resource type generic is still in use' });
      await assert.rejects(ix.deleteResourceType('nope'), new NoSuchResourceType('nope'));
      await ix.deleteResource('8f6b0c3a-2d7e-4c55-9a3b-0d1e2f3a4b5c');
      await ix.deleteResourceType('vm');
      assert.equal(await ix.getResourceType('vm'), null);
      // The name is free again, with fresh tables.
      await ix.createResourceType('vm', {});
    } finally {
      await done();
    }
  });

  test(`[${engine.name}] updateResourceType adds (with fill) and removes attributes`, async () => {
    const { ix, done } = await engine.open();
    try {
      await ix.createResourceType('vm', { host: S() });
      const id = '8f6b0c3a-2d7e-4c55-9a3b-0d1e2f3a4b5c';
      await ix.createResource({ type: 'vm', id, creator: 'u:p', attributes: { host: 'h1' } });
      await ix.updateResource('vm', id, { attributes: { host: 'h2' } }); // one history row
      await assert.rejects(ix.updateResourceType('vm', { add: { flag: { schema: { type: 'bool', required: true } } } }),
        new InvalidResourceAttributeOption('flag', 'fill', 'must not be empty if required=True'));
      const t = await ix.updateResourceType('vm', {
        add: { flag: { schema: { type: 'bool', required: true }, fill: true }, note: { schema: S(false, 10) } },
        remove: ['host'],
      });
      assert.deepEqual(t.attributes, { flag: { type: 'bool', required: true }, note: S(false, 10) });
      const r = await ix.getResource('vm', id);
      assert.deepEqual(r?.attributes, { flag: true, note: null });
      const hist = await ix.listResources({ type: 'vm', history: true });
      assert.deepEqual(hist.map((h) => h.attributes), [{ flag: true, note: null }, { flag: true, note: null }]);
      // Re-adding a removed name gives a fresh (empty) column.
      await ix.updateResourceType('vm', { add: { host: { schema: S(false) } } });
      assert.deepEqual((await ix.getResource('vm', id))?.attributes, { flag: true, note: null, host: null });
      await ix.createResource({ type: 'vm', id: '9a7c1d4b-3e8f-4d66-8b4c-1e2f3a4b5c6d', creator: 'u:p', attributes: { flag: false, host: 'x' } });
      assert.equal((await ix.listResources({ type: 'vm', filter: { '=': { host: 'x' } } })).length, 1);
    } finally {
      await done();
    }
  });

  test(`[${engine.name}] createStandardResourceTypes creates Gnocchi's legacy types once`, async () => {
    const { ix, done } = await engine.open();
    try {
      const created = await ix.createStandardResourceTypes();
      assert.equal(created.length, 14);
      assert.deepEqual((await ix.getResourceType('instance'))?.attributes, {
        flavor_id: S(), image_ref: S(false), host: S(), display_name: S(), server_group: S(false),
      });
      assert.deepEqual((await ix.getResourceType('instance_disk'))?.attributes, { name: S(), instance_id: { type: 'uuid', required: true } });
      assert.deepEqual(await ix.createStandardResourceTypes(), []);
    } finally {
      await done();
    }
  });
}
