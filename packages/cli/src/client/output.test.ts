import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cellText, colorWanted, displayWidth, list, render, show, UsageError, type OutputOptions } from './output.js';
import type { JsonValue } from '@tally/client';

const opts = (format: OutputOptions['format'], columns: string[] = [], color = false): OutputOptions => ({ format, columns, color });

test('displayWidth: wide East Asian characters and emoji take two columns, combining marks none, ANSI codes none', () => {
  assert.equal(displayWidth('abc'), 3);
  assert.equal(displayWidth('日本語'), 6);
  assert.equal(displayWidth('한국'), 4);
  assert.equal(displayWidth('🔥x'), 3);
  assert.equal(displayWidth('e\u0301t\u00e9'), 3);
  assert.equal(displayWidth('\u001b[31mred\u001b[39m'), 3);
  assert.equal(displayWidth('👍🏽'), 2); // an emoji with a skin tone modifier is one grapheme
});

test('table: every line of a table with wide, combining and multi-line cells has the same width; numbers right-aligned in lists', () => {
  const out = render(list(['name', 'n', 'note'], [['日本語', 5, 'a\nlonger line'], ['café', 12345, '🔥'], ['x', 7, null]]), opts('table'));
  const lines = out.trimEnd().split('\n');
  const widths = new Set(lines.map(displayWidth));
  assert.equal(widths.size, 1, out);
  assert.deepEqual(lines.map((l) => l[0]), ['+', '|', '+', '|', '|', '|', '|', '+']);
  assert.equal(lines[3], '| 日本語 |     5 | a           |');
  assert.equal(lines[4], '|        |       | longer line |');
  assert.equal(lines[5], '| café   | 12345 | 🔥          |');
  assert.equal(lines[6], '| x      |     7 | None        |');
});

test('table of one item: Field and Value, fields sorted as cliff sorts them, left-aligned', () => {
  const out = render(show({ zeta: 1, alpha: true, beta: ['x'] }), opts('table'));
  assert.equal(out, [
    '+-------+-------+',
    '| Field | Value |',
    '+-------+-------+',
    '| alpha | True  |',
    "| beta  | ['x'] |",
    '| zeta  | 1     |',
    '+-------+-------+',
    '',
  ].join('\n'));
});

test('table colour: bold headers and alarm states coloured only when asked', () => {
  const r = list(['name', 'state'], [['a', 'alarm'], ['b', 'ok']]);
  const ESC = '\u001b';
  assert.ok(!render(r, opts('table')).includes(ESC));
  const coloured = render(r, opts('table', [], true));
  assert.ok(coloured.includes(`${ESC}[1mname`));
  assert.ok(coloured.includes(`${ESC}[31malarm${ESC}[39m`));
  assert.ok(coloured.includes(`${ESC}[32mok${ESC}[39m`));
  // The colour codes do not break the alignment.
  assert.equal(new Set(coloured.trimEnd().split('\n').map(displayWidth)).size, 1);
});

test("cells as cliff prints them: CPython's str() of the value", () => {
  const values: JsonValue[] = ['plain', 1, 2.5, -3, null, true, false, [], ['a', 1, null], "it's", 'say "x"', 'both \' and "', { k: [1.5, 'x\ny\t\\'] }, { '': {} }];
  const py = execFileSync('python3', ['-c', 'import sys,json; print(json.dumps([str(v) for v in json.load(sys.stdin)]))'], { input: JSON.stringify(values), encoding: 'utf8' });
  assert.deepEqual(values.map(cellText), JSON.parse(py));
});

test('colorWanted: a terminal without NO_COLOR', () => {
  assert.equal(colorWanted(true, {}), true);
  assert.equal(colorWanted(false, {}), false);
  assert.equal(colorWanted(true, { NO_COLOR: '1' }), false);
  assert.equal(colorWanted(true, { NO_COLOR: '' }), true);
});

test('csv: a header, text quoted with doubled quotes, numbers bare, null empty, CRLF rows', () => {
  const out = render(list(['a', 'b', 'c', 'd'], [['say "hi", then\nleave', 1.5, null, true]]), opts('csv'));
  assert.equal(out, '"a","b","c","d"\r\n"say ""hi"", then\nleave",1.5,,"True"\r\n');
  // CPython's csv module reads it back to the same cells.
  const back = execFileSync('python3', ['-c', 'import csv,sys,json; print(json.dumps(list(csv.reader(sys.stdin))))'], { input: out, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(back), [['a', 'b', 'c', 'd'], ['say "hi", then\nleave', '1.5', '', 'True']]);
});

test('value: values only, space separated, one row a line; one item a field a line', () => {
  assert.equal(render(list(['id', 'name'], [['1', 'a'], ['2', null]]), opts('value')), '1 a\n2 None\n');
  assert.equal(render(show({ b: 2, a: 'x' }), opts('value')), 'x\n2\n');
});

test('json and yaml keep the values typed; a list of objects, or one object', () => {
  const r = list(['id', 'n', 'tags'], [['x', 1, ['a']], ['y', null, []]]);
  assert.deepEqual(JSON.parse(render(r, opts('json'))), [{ id: 'x', n: 1, tags: ['a'] }, { id: 'y', n: null, tags: [] }]);
  assert.deepEqual(JSON.parse(render(show({ a: 1 }), opts('json'))), { a: 1 });
  assert.equal(render(r, opts('yaml')), '- id: x\n  n: 1\n  tags:\n    - a\n- id: y\n  n: null\n  tags: []\n');
  assert.equal(render(list(['id'], []), opts('json')), '[]\n');
  assert.equal(render(list(['id'], []), opts('yaml')), '[]\n');
  // NaN, which aggregates may hold, still gives JSON.
  assert.deepEqual(JSON.parse(render(list(['v'], [[NaN]]), opts('json'))), [{ v: 'NaN' }]);
});

test("--column: the columns asked for, in the command's order as cliff keeps them, in every format; an unknown one names the known ones", () => {
  const r = list(['id', 'name', 'unit'], [['1', 'cpu', 'ns']]);
  assert.equal(render(r, opts('value', ['unit', 'id'])), '1 ns\n');
  assert.deepEqual(JSON.parse(render(r, opts('json', ['name']))), [{ name: 'cpu' }]);
  assert.equal(render(r, opts('csv', ['name'])), '"name"\r\n"cpu"\r\n');
  assert.equal(render(show({ a: 1, b: 2 }), opts('value', ['b'])), '2\n');
  assert.equal(render(show({ a: 1, b: 2, c: 3 }), opts('value', ['c', 'a'])), '1\n3\n');
  assert.throws(() => render(r, opts('table', ['name', 'nope'])), (e: unknown) =>
    e instanceof UsageError && /unknown column 'nope'/.test(e.message) && /id, name, unit/.test(e.message));
});
