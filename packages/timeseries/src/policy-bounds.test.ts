import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArchivePolicyError, MAX_AGGREGATION_METHOD_ENTRIES, MAX_BACK_WINDOW, MAX_DURATION_NS, MAX_POINTS, makeArchivePolicyItem,
  resolveAggregationMethods, validateArchivePolicy, validateDefinition, VALID_AGGREGATION_METHODS, type ArchivePolicy,
} from './policy.js';

const S = 1_000_000_000n;
const refused = (f: () => unknown, message: string): void => {
  assert.throws(f, (e: unknown) => e instanceof ArchivePolicyError && e.message.startsWith(message), message);
};

test('definition items: points, granularity and timespan stay within what the index and engine hold', () => {
  assert.equal(MAX_DURATION_NS, 2n ** 63n - 1n);
  // 1 ns over 292 years: 9.2e18 points.
  refused(() => makeArchivePolicyItem({ granularity: 1n, timespan: 292n * 365n * 86400n * S }), 'points must be at most 4294967295');
  refused(() => makeArchivePolicyItem({ granularity: S, points: 2 ** 53 + 1 }), 'points must be at most 4294967295');
  refused(() => makeArchivePolicyItem({ timespan: S, points: MAX_POINTS + 1 }), 'points must be at most 4294967295');
  refused(() => makeArchivePolicyItem({ granularity: 10n ** 18n, points: 10 }), 'timespan must be at most 9223372036854775807 nanoseconds');
  refused(() => makeArchivePolicyItem({ granularity: MAX_DURATION_NS + 1n }), 'granularity must be at most');
  refused(() => makeArchivePolicyItem({ granularity: S, timespan: MAX_DURATION_NS + 1n }), 'timespan must be at most');
  refused(() => makeArchivePolicyItem({ granularity: 1n, points: 2 ** 40, timespan: 2n ** 40n }), 'points must be at most');
  // The bounds themselves are accepted.
  assert.deepEqual(makeArchivePolicyItem({ granularity: 1n, points: MAX_POINTS }), { granularity: 1n, points: MAX_POINTS, timespan: BigInt(MAX_POINTS) });
  assert.deepEqual(makeArchivePolicyItem({ granularity: MAX_DURATION_NS, points: 1 }), { granularity: MAX_DURATION_NS, points: 1, timespan: MAX_DURATION_NS });
  assert.equal(makeArchivePolicyItem({ granularity: MAX_DURATION_NS, timespan: MAX_DURATION_NS }).points, 1);
});

test('validateDefinition bounds items given directly and their number', () => {
  const item = { granularity: S, points: 10, timespan: 10n * S };
  validateDefinition(Array.from({ length: 100 }, (_v, i) => ({ ...item, granularity: BigInt(i + 1) * S })));
  refused(() => validateDefinition(Array.from({ length: 101 }, (_v, i) => ({ ...item, granularity: BigInt(i + 1) * S }))),
    'definition must have at most 100 items');
  refused(() => validateDefinition([item, { ...item, granularity: 2n * S }], { maxDefinitionItems: 1 }), 'definition must have at most 1 items');
  refused(() => validateDefinition([{ ...item, points: MAX_POINTS + 1 }]), 'points must be at most');
  refused(() => validateDefinition([{ ...item, points: 1.5 }]), 'Number of points should be > 0');
  refused(() => validateDefinition([{ ...item, timespan: MAX_DURATION_NS + 1n }]), 'timespan must be at most');
});

test('validateArchivePolicy: name, back_window and aggregation methods', () => {
  const ap = (o: Partial<ArchivePolicy>): ArchivePolicy => ({
    name: 'p', backWindow: 0, aggregationMethods: ['mean'], definition: [{ granularity: S, points: 1, timespan: S }], ...o,
  });
  validateArchivePolicy(ap({ name: '\u{1F600}'.repeat(255), backWindow: MAX_BACK_WINDOW }));
  refused(() => validateArchivePolicy(ap({ name: '\u{1F600}'.repeat(256) })), 'name must be at most 255 characters');
  refused(() => validateArchivePolicy(ap({ backWindow: MAX_BACK_WINDOW + 1 })), 'back_window must be at most 2147483647');
  refused(() => validateArchivePolicy(ap({ backWindow: 1e300 })), 'back_window must be at most 2147483647');
  refused(() => validateArchivePolicy(ap({ backWindow: -1 })), 'back_window must be a non-negative integer');
  assert.equal(MAX_AGGREGATION_METHOD_ENTRIES, 1 + 3 * VALID_AGGREGATION_METHODS.length);
  refused(() => resolveAggregationMethods(Array.from({ length: MAX_AGGREGATION_METHOD_ENTRIES + 1 }, () => 'mean'), ['mean']),
    `aggregation_methods must have at most ${MAX_AGGREGATION_METHOD_ENTRIES} entries`);
  const every = ['*', ...VALID_AGGREGATION_METHODS, ...VALID_AGGREGATION_METHODS.map((m) => `+${m}`), ...VALID_AGGREGATION_METHODS.map((m) => `-${m}`)];
  assert.deepEqual(resolveAggregationMethods(every, ['mean']), []);
  for (const bad of ['99.9999pct', '1000pct', '0pct', '100pct', 'rate:rate:mean', 'rate:']) {
    refused(() => resolveAggregationMethods([bad], ['mean']), 'Invalid value for aggregation_methods');
  }
});
