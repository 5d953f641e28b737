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

test('csv: a header, text quoted with doubled quotes, numbers and booleans bare, null an empty string', () => {
  const out = render(list(['a', 'b', 'c', 'd'], [['say "hi", then\nleave', 1.5, null, true]]), opts('csv'));
  assert.equal(out, '"a","b","c","d"\n"say ""hi"", then\nleave",1.5,"",True\n');
  // What CPython's csv writer (QUOTE_NONNUMERIC, as cliff uses it) writes for the same rows.
  const written = execFileSync('python3', ['-c', 'import csv,sys,json; w=csv.writer(sys.stdout, quoting=csv.QUOTE_NONNUMERIC, lineterminator=\'\\n\'); [w.writerow(r) for r in json.load(sys.stdin)]'],
    { input: JSON.stringify([['a', 'b', 'c', 'd'], ['say "hi", then\nleave', 1.5, null, true]]), encoding: 'utf8' });
  assert.equal(out, written);
  // And its reader reads it back to the same cells.
  const back = execFileSync('python3', ['-c', 'import csv,sys,json; print(json.dumps(list(csv.reader(sys.stdin))))'], { input: out, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(back), [['a', 'b', 'c', 'd'], ['say "hi", then\nleave', '1.5', '', 'True']]);
});

test('value: values only, space separated, one row a line; one item a field a line', () => {
  assert.equal(render(list(['id', 'name'], [['1', 'a'], ['2', null]]), opts('value')), '1 a\n2 None\n');
  assert.equal(render(show({ b: 2, a: 'x' }), opts('value')), 'x\n2\n');
});

test('json and yaml keep the values typed; a list of objects, or one object', () => {
  const r = list(['name', 'count', 'tags', 'at', 'flag'], [['x', 1, ['a'], '2024-01-01T00:00:00+00:00', 'on'], ['z', null, [], null, true]]);
  assert.deepEqual(JSON.parse(render(r, opts('json'))), [
    { name: 'x', count: 1, tags: ['a'], at: '2024-01-01T00:00:00+00:00', flag: 'on' }, { name: 'z', count: null, tags: [], at: null, flag: true },
  ]);
  assert.deepEqual(JSON.parse(render(show({ a: 1 }), opts('json'))), { a: 1 });
  // YAML as cliff writes it with PyYAML's safe_dump (keys sorted, text that YAML 1.1 would read otherwise quoted).
  const pyYaml = execFileSync('python3', ['-c', 'import sys,json,yaml; sys.stdout.write(yaml.safe_dump(json.load(sys.stdin), default_flow_style=False))'],
    { input: render(r, opts('json')), encoding: 'utf8' });
  assert.equal(render(r, opts('yaml')), pyYaml);
  assert.equal(render(list(['id'], []), opts('json')), '[]\n');
  assert.equal(render(list(['id'], []), opts('yaml')), '[]\n');
  // NaN, which aggregates may hold, still gives JSON.
  assert.deepEqual(JSON.parse(render(list(['v'], [[NaN]]), opts('json'))), [{ v: 'NaN' }]);
});

test("--column: the columns asked for, in the command's order as cliff keeps them, in every format; an unknown one names the known ones", () => {
  const r = list(['id', 'name', 'unit'], [['1', 'cpu', 'ns']]);
  assert.equal(render(r, opts('value', ['unit', 'id'])), '1 ns\n');
  assert.deepEqual(JSON.parse(render(r, opts('json', ['name']))), [{ name: 'cpu' }]);
  assert.equal(render(r, opts('csv', ['name'])), '"name"\n"cpu"\n');
  assert.equal(render(show({ a: 1, b: 2 }), opts('value', ['b'])), '2\n');
  assert.equal(render(show({ a: 1, b: 2, c: 3 }), opts('value', ['c', 'a'])), '1\n3\n');
  assert.throws(() => render(r, opts('table', ['name', 'nope'])), (e: unknown) =>
    e instanceof UsageError && /unknown column 'nope'/.test(e.message) && /id, name, unit/.test(e.message));
});
