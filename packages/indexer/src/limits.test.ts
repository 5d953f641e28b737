import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidResourceAttributeName, InvalidResourceTypeDefinition, QueryInvalidOperator, ResourceTypePatchConflict,
  TooManyResourceTypeAttributes, ValueTooLong,
} from './errors.js';
import { resolveLimits, MAX_RESOURCE_TYPE_COLUMNS } from './limits.js';
import { resourceTypePatchToChange, validateResourceTypeDefinition } from './resource-type-schema.js';
import { engines, policy } from './test-util.js';
import type { ResourceAttributeSchema } from './types.js';

const bool: ResourceAttributeSchema = { type: 'bool', required: false };
const attrs = (...names: string[]): Record<string, ResourceAttributeSchema> => Object.fromEntries(names.map((n) => [n, bool]));

test('limits: the attribute bound is checked against what the database allows', () => {
  assert.equal(resolveLimits().maxResourceTypeAttributes, 250);
  assert.equal(resolveLimits({ maxResourceTypeAttributes: MAX_RESOURCE_TYPE_COLUMNS }).maxResourceTypeAttributes, MAX_RESOURCE_TYPE_COLUMNS);
  for (const bad of [0, MAX_RESOURCE_TYPE_COLUMNS + 1, 2.5]) assert.throws(() => resolveLimits({ maxResourceTypeAttributes: bad }), RangeError);
});

test('resource type definitions: prototype member names and unbounded values are refused', () => {
  for (const name of ['__proto__', 'constructor', 'prototype']) {
    const body = JSON.parse(`{"name": "t", "attributes": {"${name}": {"type": "bool"}}}`) as unknown;
    assert.throws(() => validateResourceTypeDefinition(body), new InvalidResourceAttributeName(name));
  }
  assert.throws(() => validateResourceTypeDefinition({ name: 'n'.repeat(256) }),
    { message: "length of value must be at most 255 for dictionary value @ data['name']" });
  validateResourceTypeDefinition({ name: '\u{1F600}'.repeat(255) });
  for (const bound of ['{"min": 1e400}', '{"max": -1e400}']) {
    const body = JSON.parse(`{"name": "t", "attributes": {"n": ${bound.replace('{', '{"type": "number", ')}}}`) as unknown;
    assert.throws(() => validateResourceTypeDefinition(body), InvalidResourceTypeDefinition);
  }
});

test('JSON patch paths never reach a prototype', () => {
  const before = Object.getOwnPropertyNames(Object.prototype).sort();
  const current = { name: 't', state: 'active' as const, attributes: { a: bool } };
  for (const path of ['/attributes/__proto__/polluted', '/attributes/constructor/prototype/polluted', '/attributes/__proto__']) {
    assert.throws(() => resourceTypePatchToChange(current, [{ op: 'add', path, value: { type: 'bool', required: false } }]),
      { message: "not a valid value for dictionary value @ data[0]['path']" });
  }
  assert.throws(() => resourceTypePatchToChange(current, [{ op: 'remove', path: '/attributes/hasOwnProperty' }]), ResourceTypePatchConflict);
  assert.throws(() => resourceTypePatchToChange(current, [{ op: 'add', path: '/attributes/toString/x', value: {} }]), ResourceTypePatchConflict);
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), before);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

for (const engine of engines()) {
  test(`[${engine.name}] attributes per resource type follow the configured bound`, async () => {
    const { ix, done } = await engine.open({ limits: { maxResourceTypeAttributes: 3 } });
    try {
      await assert.rejects(ix.createResourceType('wide', attrs('a', 'b', 'c', 'd')), new TooManyResourceTypeAttributes('wide', 3));
      await ix.createResourceType('full', attrs('a', 'b', 'c'));
      await assert.rejects(ix.updateResourceType('full', { add: { d: { schema: bool } } }), new TooManyResourceTypeAttributes('full', 3));
      const t = await ix.updateResourceType('full', { remove: ['a'], add: { d: { schema: bool } } });
      assert.deepEqual(Object.keys(t.attributes).sort(), ['b', 'c', 'd']);
    } finally {
      await done();
    }
  });

  test(`[${engine.name}] strings are bounded by their columns, in code points`, async () => {
    const { ix, done } = await engine.open();
    try {
      await ix.createArchivePolicy(policy('p'));
      const long = 'n'.repeat(256);
      const wide = '\u{1F600}'.repeat(255);
      await assert.rejects(ix.createMetric({ archivePolicyName: 'p', creator: 'u', name: long }), new ValueTooLong('Metric name', 255));
      await assert.rejects(ix.createMetric({ archivePolicyName: 'p', creator: 'u', unit: 'u'.repeat(32) }), new ValueTooLong('Metric unit', 31));
      await assert.rejects(ix.createMetric({ archivePolicyName: 'p', creator: long }), new ValueTooLong('Creator', 255));
      assert.equal((await ix.createMetric({ archivePolicyName: 'p', creator: 'u', name: wide })).name, wide);
      const id = '6f3a9b4e-0c1d-4e5f-8a9b-0c1d2e3f4a5b';
      await assert.rejects(ix.createResource({ type: 'generic', id, creator: 'u', userId: long }), new ValueTooLong('user_id', 255));
      await assert.rejects(ix.createResource({ type: 'generic', id, creator: 'u', projectId: long }), new ValueTooLong('project_id', 255));
      await assert.rejects(ix.createResource({ type: 'generic', id, creator: 'u', metrics: { [long]: { archivePolicyName: 'p' } } }),
        new ValueTooLong('Metric name', 255));
      const r = await ix.createResource({ type: 'generic', id, creator: 'u', userId: wide, metrics: { [wide]: { archivePolicyName: 'p' } } });
      assert.equal(r.userId, wide);
      await assert.rejects(ix.updateResource('generic', id, { projectId: long }), new ValueTooLong('project_id', 255));
      await assert.rejects(ix.createArchivePolicyRule({ name: long, metricPattern: '*', archivePolicyName: 'p' }),
        new ValueTooLong('Archive policy rule name', 255));
      await assert.rejects(ix.createArchivePolicyRule({ name: 'r', metricPattern: long, archivePolicyName: 'p' }),
        new ValueTooLong('Archive policy rule metric_pattern', 255));
      await assert.rejects(ix.createResourceType(long, {}), new ValueTooLong('Resource type name', 255));
    } finally {
      await done();
    }
  });

  test(`[${engine.name}] metric names that are prototype members are ordinary keys`, async () => {
    const { ix, done } = await engine.open();
    try {
      await ix.createArchivePolicy(policy('p'));
      const id = '7f3a9b4e-0c1d-4e5f-8a9b-0c1d2e3f4a5b';
      const metrics = JSON.parse('{"__proto__": {"archivePolicyName": "p"}, "constructor": {"archivePolicyName": "p"}}') as Record<string, { archivePolicyName: string }>;
      const r = await ix.createResource({ type: 'generic', id, creator: 'u', metrics });
      assert.deepEqual(Object.keys(r.metrics).sort(), ['__proto__', 'constructor']);
      const [listed] = await ix.listResources({ filter: { '=': { id } } });
      assert.deepEqual(Object.keys(listed.metrics).sort(), ['__proto__', 'constructor']);
      for (const op of ['constructor', 'toString', '__proto__']) {
        const filter = JSON.parse(`{"${op}": [{"=": {"id": "${id}"}}]}`) as Record<string, unknown>;
        await assert.rejects(ix.listResources({ filter }), new QueryInvalidOperator(op));
      }
    } finally {
      await done();
    }
  });
}
