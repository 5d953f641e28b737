import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countMeasures, requestKind } from './agent-bench.js';
import { fixtureDomains, nodeXml } from './agent-bench-fixtures.js';

test('countMeasures: both batch shapes, single-metric posts, and bodies that are not measures', () => {
  const byResource = { r1: { cpu: { archive_policy_name: 'low', unit: 'ns', measures: [{ timestamp: 1, value: 1 }, { timestamp: 2, value: 2 }] }, vcpus: [{ timestamp: 1, value: 1 }] } };
  assert.equal(countMeasures('/v1/batch/resources/metrics/measures?create_metrics=true', Buffer.from(JSON.stringify(byResource))), 3);
  assert.equal(countMeasures('/v1/batch/metrics/measures', Buffer.from(JSON.stringify({ m1: [{ timestamp: 1, value: 1 }], m2: { measures: [{ timestamp: 1, value: 1 }] } }))), 2);
  assert.equal(countMeasures('/v1/metric/abc/measures', Buffer.from('[{"timestamp":1,"value":1}]')), 1);
  assert.equal(countMeasures('/v1/resource/instance', Buffer.from('{"id":"x"}')), 0);
  assert.equal(countMeasures('/v1/batch/metrics/measures', Buffer.from('not json')), 0);
});

test('requestKind tells batches, resource creations and updates apart', () => {
  assert.equal(requestKind('POST', '/v1/batch/resources/metrics/measures?create_metrics=true'), 'batch');
  assert.equal(requestKind('POST', '/v1/resource/instance'), 'resource create');
  assert.equal(requestKind('PATCH', '/v1/resource/instance/0bc8b503-94f7-585c-823c-2da6b8be186d'), 'resource update');
  assert.equal(requestKind('GET', '/v1/resource/instance/x'), 'other');
});

test('the fixture node: N distinct domains with Nova metadata, the same on every call', () => {
  const a = fixtureDomains({ domains: 50 });
  assert.equal(new Set(a.map((d) => d.uuid)).size, 50);
  assert.equal(new Set(a.map((d) => d.tap)).size, 50);
  assert.deepEqual(fixtureDomains({ domains: 50 }), a);
  const xml = nodeXml({ domains: 3 });
  assert.equal(xml.match(/<domain type="test">/g)?.length, 3);
  assert.equal(xml.match(/xmlns:nova="http:\/\/openstack.org\/xmlns\/libvirt\/nova\/1.1"/g)?.length, 3);
  assert.match(xml, new RegExp(`<nova:project uuid="${a[0].projectId}">`));
  assert.match(xml, /<target dev="tap[0-9a-f]{8}-[0-9a-f]{2}"\/>/);
});
