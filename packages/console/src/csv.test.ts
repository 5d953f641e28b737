import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { seriesRows, toCsv } from './csv.js';

test("CSV reads back through CPython's csv module exactly", () => {
  const header = ['timestamp', 'cpu, "util"', 'line\nbreak'];
  const rows = [
    ['2026-01-01T00:00:00+00:00', 1.5, null],
    ['a "quoted" word', -0.000001, 1e21],
    ['', Number.NaN, 42],
  ];
  const text = toCsv(header, rows);
  const py = spawnSync('python3', ['-c', 'import sys, csv, io, json; print(json.dumps(list(csv.reader(io.StringIO(sys.stdin.read(), newline="")))))'], { input: text, encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  assert.deepEqual(JSON.parse(py.stdout), [
    header,
    ['2026-01-01T00:00:00+00:00', '1.5', ''],
    ['a "quoted" word', '-0.000001', '1e+21'],
    ['', '', '42'],
  ]);
  assert.ok(text.endsWith('\r\n'));
});

test('series rows share the time axis; missing values are empty cells', () => {
  const rows = [...seriesRows(new Float64Array([60, 120]), [new Float64Array([1, 2]), [null, 7]], (s) => `t${s}`)];
  assert.deepEqual(rows, [['t60', 1, null], ['t120', 2, 7]]);
  assert.equal(toCsv(['t', 'a', 'b'], rows), 't,a,b\r\nt60,1,\r\nt120,2,7\r\n');
});
