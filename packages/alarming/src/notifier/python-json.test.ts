// pythonJsonDumps against CPython's json.dumps, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pythonJsonDumps } from './python-json.js';

/** json.dumps of each line of `literals` (Python literals), one result per line. */
function cpython(literals: string[]): string[] {
  const script = 'import json,sys\nfor line in sys.stdin.read().split("\\n"):\n  print(json.dumps(eval(line)))';
  const r = spawnSync('python3', ['-c', script], { input: literals.join('\n'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').slice(0, literals.length);
}

test('strings, numbers, nesting and key order as CPython writes them', () => {
  const cases: [unknown, string][] = [
    ['plain', "'plain'"],
    ['caf\u00e9 \u2713 \ud83d\udd25', "'caf\\u00e9 \\u2713 \\U0001f525'"],
    ['tab\there\nnl "q" back\\slash \u0001 \u007f \u0080 \u2028', "'tab\\there\\nnl \"q\" back\\\\slash \\x01 \\x7f \\x80 \\u2028'"],
    [0.1, '0.1'],
    [97.5, '97.5'],
    [1e-5, '1e-05'],
    [-2.5e-7, '-2.5e-07'],
    [1.5e300, '1.5e+300'],
    [1e16, '1e16'],
    [123456789012, '123456789012'],
    [-3, '-3'],
    [NaN, "float('nan')"],
    [Infinity, "float('inf')"],
    [-Infinity, "float('-inf')"],
    [null, 'None'],
    [true, 'True'],
    [[], '[]'],
    [{}, '{}'],
    [{ b: 1, a: [1, 'x', { z: null }], '\u00e9': false }, "{'b': 1, 'a': [1, 'x', {'z': None}], '\\u00e9': False}"],
  ];
  const expected = cpython(cases.map(([, py]) => py));
  cases.forEach(([value], i) => assert.equal(pythonJsonDumps(value), expected[i], `case ${i}: ${cases[i][1]}`));
});

test('undefined members are left out', () => {
  assert.equal(pythonJsonDumps({ a: 1, b: undefined, c: [undefined] }), '{"a": 1, "c": [null]}');
});
