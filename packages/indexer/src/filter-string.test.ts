import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidFilter } from './errors.js';
import { parseFilterString } from './filter-string.js';

// Expected trees produced by Gnocchi 4.4.2's QueryStringSearchAttrFilter._parse.
const CASES: [string, unknown][] = [
  ["id = 'abc'", { '=': { id: 'abc' } }],
  ['a = 1 and b = 2 and c = 3', { and: [{ '=': { c: 3 } }, { '=': { b: 2 } }, { '=': { a: 1 } }] }],
  ['not a = 1', { not: { '=': { a: 1 } } }],
  ['a = 1 or b = 2 and c = 3', { or: [{ and: [{ '=': { c: 3 } }, { '=': { b: 2 } }] }, { '=': { a: 1 } }] }],
  ['(a = 1 or b = 2) and c >= 3.5', { and: [{ '>=': { c: 3.5 } }, { or: [{ '=': { b: 2 } }, { '=': { a: 1 } }] }] }],
  ['user_id in [\'a\', "b"]', { in: { user_id: ['a', 'b'] } }],
  ['a = null', { '=': { a: null } }],
  ['a = true', { '=': { a: true } }],
  ['x = 5161bfd8-0b2a-4d0e-8f0c-123456789abc', { '=': { x: '5161bfd8-0b2a-4d0e-8f0c-123456789abc' } }],
  ['a ≥ 1 ∧ b = 2 ∨ c = 3', { '∨': [{ '=': { c: 3 } }, { '∧': [{ '=': { b: 2 } }, { '≥': { a: 1 } }] }] }],
  ["name like 'ab%'", { like: { name: 'ab%' } }],
  ['lifespan > 3600', { '>': { lifespan: 3600 } }],
];

for (const [q, expected] of CASES) {
  test(`parseFilterString(${JSON.stringify(q)})`, () => assert.deepEqual(parseFilterString(q), expected));
}

test('parseFilterString refuses what pyparsing refuses', () => {
  assert.throws(() => parseFilterString('a == 1'), InvalidFilter); // "=" wins the alternation, then "= 1" is no term
  assert.throws(() => parseFilterString('nonexistent = 1'), InvalidFilter); // "none" matches first
  assert.throws(() => parseFilterString('a = 1 and'), InvalidFilter);
  assert.throws(() => parseFilterString('(a = 1'), /^InvalidFilter: Invalid filter: Expected '\)'/);
  assert.throws(() => parseFilterString(`${'('.repeat(40)}a = 1${')'.repeat(40)}`), InvalidFilter);
});
