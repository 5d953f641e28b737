import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnmatch } from './fnmatch.js';

// [name, pattern, Python 3 fnmatch.fnmatch(name, pattern)], recorded from CPython.
const CASES: [string, string, boolean][] = [
  ['disk.io.rate', 'disk.*', true], ['disk.io.rate', 'disk.foo.*', false], ['', '*', true],
  ['anything', '*', true], ['a/b', 'a*b', true], ['a\nb', 'a?b', true], ['DISK.x', 'disk.*', false],
  ['abc', 'a[bc]c', true], ['abc', 'a[!b]c', false], ['adc', 'a[!b]c', true], ['a]c', 'a[]]c', true],
  ['a-c', 'a[a-]c', true], ['a[c', 'a[c', true], ['a[c', 'a[[]c', true], ['abc', 'a[c-a]c', false],
  ['axc', 'a[!c-a]c', true], ['cpu.util', 'cpu?util', true], ['x+y', 'x+y', true], ['x.y', 'x\\.y', false],
  ['x\\.y', 'x\\.y', true], ['a.b', 'a.b', true], ['axb', 'a.b', false], ['é☃', '?☃', true],
  ['😀x', '?x', true], ['ab', 'a**b', true], ['a^b', 'a[\\^]b', true], ['a\\b', 'a[\\]b', true],
  ['a(b', 'a(b', true], ['a$', 'a$', true],
];

test('fnmatch agrees with Python', () => {
  for (const [name, pattern, expected] of CASES) {
    assert.equal(fnmatch(name, pattern), expected, `fnmatch(${JSON.stringify(name)}, ${JSON.stringify(pattern)})`);
  }
});
