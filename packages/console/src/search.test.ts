import test from 'node:test';
import assert from 'node:assert/strict';
import { parseFilterString } from '@tally/indexer';
import { SearchInputError, buildFilter, filterToString, type Condition, type Filter } from './search.js';

const c = (attribute: string, op: Condition['op'], value: string, type: Condition['type'] = 'string'): Condition => ({ attribute, op, value, type });

/** and/or operands in a canonical order: Gnocchi's parser lists a chain's operands reversed. */
function canon(f: unknown): unknown {
  if (Array.isArray(f)) return f.map(canon);
  if (f === null || typeof f !== 'object') return f;
  const [k, v] = Object.entries(f)[0];
  if ((k === 'and' || k === 'or') && Array.isArray(v)) return { [k]: v.map(canon).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) };
  return { [k]: canon(v) };
}

test('conditions become typed JSON filters', () => {
  assert.equal(buildFilter([]), undefined);
  assert.deepEqual(buildFilter([c('flavor_id', '=', '2', 'number')]), { '=': { flavor_id: 2 } });
  assert.deepEqual(buildFilter([c('display_name', 'like', 'web%'), c('project_id', 'in', 'a, b,,c')], 'or'),
    { or: [{ like: { display_name: 'web%' } }, { in: { project_id: ['a', 'b', 'c'] } }] });
  assert.deepEqual(buildFilter([c('ended_at', '=', 'null', 'datetime'), c('enabled', '!=', 'False', 'bool')]),
    { and: [{ '=': { ended_at: null } }, { '!=': { enabled: false } }] });
  assert.throws(() => buildFilter([c('vcpus', '>', 'four', 'number')]), SearchInputError);
  assert.throws(() => buildFilter([c('', '=', 'x')]), SearchInputError);
});

test("the string form parses, with Gnocchi's filter= grammar, to the same filter", () => {
  const filters: Filter[] = [
    buildFilter([c('display_name', 'like', "o'neil%")])!,
    buildFilter([c('host', '=', 'compute-1'), c('vcpus', '>=', '2.5', 'number'), c('ended_at', '=', 'null', 'datetime')])!,
    buildFilter([c('user_id', 'in', '1a, 2b'), c('flag', '=', 'true', 'bool')], 'or')!,
    { and: [{ or: [{ '=': { a: 'x' } }, { '<': { b: -3 } }] }, { not: { like: { c: 'y%' } } }] },
  ];
  for (const f of filters) {
    const s = filterToString(f);
    assert.ok(s !== null, JSON.stringify(f));
    assert.deepEqual(canon(parseFilterString(s)), canon(f), s);
  }
  assert.equal(filterToString({ '=': { host: 'compute-1' } }), "host = 'compute-1'");
});

test('values the string syntax cannot hold are reported, not mangled', () => {
  assert.equal(filterToString({ '=': { name: `it's "x"` } }), null);
  assert.equal(filterToString({ and: [{ '=': { a: 'ok' } }, { '=': { b: 'back\\tslash' } }] }), null);
});
