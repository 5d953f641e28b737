// pyJson against CPython's json.dumps for the same document: floats given as PyFloat, plain
// numbers (ints below 1e16, floats otherwise), strings, nesting and separators.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PyFloat, pyJson } from './pyjson.js';

const view = new DataView(new ArrayBuffer(8));
function bitsHex(x: number): string {
  view.setFloat64(0, x);
  return view.getUint32(0).toString(16).padStart(8, '0') + view.getUint32(4).toString(16).padStart(8, '0');
}

test('pyJson writes what json.dumps writes', () => {
  const numbers = [
    0, -0, 1, -1, 42, 0.5, 0.00005, 1e-7, 1e15, 1e16, 2 ** 53, Number('123456789012345678'), 1e20, 1e22, -1e16, 9999999999999998,
    1 / 3, 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity,
  ];
  const floats = [0, -0, 1, 60, 3.6, 1e16, 0.0001, 1e-5, NaN, -Infinity];
  const doc = {
    numbers,
    floats: floats.map((v) => new PyFloat(v)),
    nested: { 'a "key"': ['text', true, null, { x: new PyFloat(0.00005) }], empty: [] },
  };
  // Python gets the same document with each value typed as Python would hold it.
  const python = `
import json, struct, sys
f = lambda h: struct.unpack(">d", bytes.fromhex(h))[0]
n = lambda h: int(f(h)) if f(h) == f(h) and abs(f(h)) < 1e16 and f(h) == int(f(h)) else f(h)
numbers, floats = sys.argv[1].split(","), sys.argv[2].split(",")
doc = {"numbers": [n(h) for h in numbers], "floats": [f(h) for h in floats],
       "nested": {'a "key"': ["text", True, None, {"x": 0.00005}], "empty": []}}
print(json.dumps(doc))`;
  const r = spawnSync('python3', ['-c', python, numbers.map(bitsHex).join(','), floats.map(bitsHex).join(',')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(pyJson(doc), r.stdout.trimEnd());
});
