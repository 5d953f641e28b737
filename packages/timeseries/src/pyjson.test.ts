// pyJson against CPython's json.dumps for the same document, byte for byte: floats given as
// PyFloat or named by floatKeys, plain numbers (ints below 1e16, floats otherwise), strings
// with and without ensure_ascii, nesting and separators.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PyFloat, pyJson, pyJsonBody, Raw, RawBytes } from './pyjson.js';

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

/** json.dumps of each line of `literals` (Python literals), one result per line. */
function cpython(literals: string[], args = ''): string[] {
  const script = `import json,sys\nfor line in sys.stdin.read().split("\\n"):\n  print(json.dumps(eval(line)${args}))`;
  const r = spawnSync('python3', ['-c', script], { input: literals.join('\n'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').slice(0, literals.length);
}

const CASES: [unknown, string][] = [
  ['plain', "'plain'"],
  ['caf\u00e9 \u2713 \ud83d\udd25', "'caf\\u00e9 \\u2713 \\U0001f525'"],
  ['tab\there\nnl "q" back\\slash \u0001 \u007f \u0080 \u2028', "'tab\\there\\nnl \"q\" back\\\\slash \\x01 \\x7f \\x80 \\u2028'"],
  [0.1, '0.1'],
  [1e-5, '1e-05'],
  [1e16, '1e16'],
  [-3, '-3'],
  [NaN, "float('nan')"],
  [null, 'None'],
  [true, 'True'],
  [{ b: 1, a: [1, 'x', { z: null }], '\u00e9': false }, "{'b': 1, 'a': [1, 'x', {'z': None}], '\\u00e9': False}"],
];

test('ensureAscii writes what json.dumps writes with its defaults (Aodh\'s notification bodies)', () => {
  const expected = cpython(CASES.map(([, py]) => py));
  CASES.forEach(([value], i) => assert.equal(pyJson(value, { ensureAscii: true }), expected[i], `case ${i}: ${CASES[i][1]}`));
});

test('without ensureAscii, non-ASCII text is kept as json.dumps(ensure_ascii=False) keeps it', () => {
  const expected = cpython(CASES.map(([, py]) => py), ', ensure_ascii=False');
  CASES.forEach(([value], i) => assert.equal(pyJson(value), expected[i], `case ${i}: ${CASES[i][1]}`));
});

test('floatKeys writes the named fields as floats at any depth, and nothing else', () => {
  const doc = { threshold: 300, rule: { threshold: 2, count: 3, most_recent: 70 }, list: [{ most_recent: 0.5, threshold: 1e16 }] };
  const [expected] = cpython(["{'threshold': 300.0, 'rule': {'threshold': 2.0, 'count': 3, 'most_recent': 70.0}, 'list': [{'most_recent': 0.5, 'threshold': 1e16}]}"]);
  assert.equal(pyJson(doc, { floatKeys: new Set(['threshold', 'most_recent']) }), expected);
  assert.equal(pyJson({ a: 1, b: undefined, c: [undefined] }), '{"a": 1, "c": [null]}');
});

test('pyJsonBody: the text when nothing is bytes; else the UTF-8 of the same text, RawBytes chunks spliced in as they are', () => {
  const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
  const plain = { a: [1, new PyFloat(2)], 'clé': 'ünï', raw: new Raw('[1, 2]') };
  assert.equal(pyJsonBody(plain), pyJson(plain));
  const list = ascii('[["2024-01-01T00:00:00+00:00", 60.0, 1.5]]');
  const doc = { measures: { 'mé': { mean: new RawBytes([ascii('['), list.subarray(1, list.length - 1), ascii(']')]) }, empty: new RawBytes([ascii('[]')]) }, n: 3 };
  const body = pyJsonBody(doc);
  assert.ok(Array.isArray(body));
  const joined = Buffer.concat(body);
  const text = '{"measures": {"m\u00e9": {"mean": [["2024-01-01T00:00:00+00:00", 60.0, 1.5]]}, "empty": []}, "n": 3}';
  assert.equal(joined.toString('utf8'), text);
  assert.equal(pyJson(doc), text);
  // The list's bytes are not copied into another chunk.
  assert.ok(body.some((c) => c.buffer === list.buffer));
});
