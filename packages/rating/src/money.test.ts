// The integer arithmetic of usage conversion and of pricing against CPython's decimal module
// (the arithmetic CloudKitty runs in) and against the decimal.js path it replaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Dec, decimalString, doubleTimesFactor, exactCmp, exactDecimalOfDouble, exactOfDec, exactPlus, exactString, exactTimes, parseExact, type Exact } from './money.js';

const PYTHON = '/usr/bin/python3';

// Decimal(float) * Decimal(float) in the default context (28 digits, half even), printed
// as plain decimals without trailing zeros, as decimalString prints them.
const REFERENCE = String.raw`
import sys, json, decimal
out = []
# JSON writes a whole double without a point: float() keeps Python from reading an int.
for v, f in json.load(sys.stdin):
    d = decimal.Decimal(float(v)) * decimal.Decimal(float(f))
    s = '{:f}'.format(d)
    if '.' in s:
        s = s.rstrip('0').rstrip('.')
    out.append('0' if d == 0 else s)
print(json.dumps(out))
`;

function cases(): [number, number][] {
  let seed = 11;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const factors = [1, 1 / 1024, 3600 / 1e6, 1 / 1048576, 0.1, -2.5, 1e-300, 1e300, 7, 5e-324];
  const values = [0, -0, 1, -1, 0.1, 0.5, 5e-324, 1e-300, 1e300, 2 ** 53 + 2, 1e15, 123.456, 4095.9, 9.999999999999999e22, 1 / 3];
  for (let i = 0; i < 150; i++) values.push(rnd() * 10 ** Math.floor(rnd() * 30 - 12) * (rnd() < 0.2 ? -1 : 1), Math.round(rnd() * 81920) / 10);
  const all = factors.flatMap((f) => values.map((v): [number, number] => [v, f]));
  // Ties: an odd whole factor times k + 0.5 near 10^27 is exact with 29 digits, the last a
  // 5 (half even rounds them up or down by the digit before).
  for (let i = 0; i < 20; i++) all.push([31622776601683.5 + i, 31622776601683 + 2 * i]);
  return all;
}

test('doubleTimesFactor rounds the exact product as CPython\'s Decimal does', { skip: spawnSync(PYTHON, ['-c', '1']).status !== 0 && 'python3 missing' }, () => {
  const all = cases();
  const r = spawnSync(PYTHON, ['-c', REFERENCE], { input: JSON.stringify(all), encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(r.stdout) as string[];
  const byFactor = new Map<number, (x: number) => string>();
  for (const [i, [v, f]] of all.entries()) {
    let times = byFactor.get(f);
    if (times === undefined) byFactor.set(f, (times = doubleTimesFactor(f)));
    assert.equal(times(v), expected[i], `${v} * ${f}`);
  }
});

test('doubleTimesFactor gives what the decimal.js conversion gives', () => {
  for (const [v, f] of cases()) {
    assert.equal(doubleTimesFactor(f)(v), decimalString(exactDecimalOfDouble(v).times(exactDecimalOfDouble(f))), `${v} * ${f}`);
  }
  assert.throws(() => doubleTimesFactor(1)(Number.NaN), /not a finite decimal number/);
  assert.throws(() => doubleTimesFactor(Infinity), /not a finite decimal number/);
});

// a * b, a + b (default context: 28 digits, half even) printed as decimalString prints, and
// the comparison of a and b.
const EXACT_REFERENCE = String.raw`
import sys, json, decimal
def plain(d):
    s = '{:f}'.format(d)
    if '.' in s:
        s = s.rstrip('0').rstrip('.')
    return '0' if d == 0 else s
out = []
for a, b in json.load(sys.stdin):
    x, y = decimal.Decimal(a), decimal.Decimal(b)
    out.append([plain(x * y), plain(x + y), (x > y) - (x < y)])
print(json.dumps(out))
`;

function decimalPairs(): [string, string][] {
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const one = (): string => {
    let digits = '';
    const n = 1 + Math.floor(rnd() * 40);
    for (let i = 0; i < n; i++) digits += String(Math.floor(rnd() * 10));
    const point = Math.floor(rnd() * (n + 1));
    const s = `${rnd() < 0.2 ? '-' : ''}${digits.slice(0, point) || '0'}.${digits.slice(point) || '0'}`;
    return rnd() < 0.2 ? `${s}e${Math.floor(rnd() * 60) - 30}` : s;
  };
  const fixed = ['0', '-0', '1', '0.5', '2.5', '9999999999999999999999999999', '0.00000000000000000000000000015', '1e-7', '12345678901234567890123456785'];
  const pairs: [string, string][] = fixed.flatMap((a) => fixed.map((b): [string, string] => [a, b]));
  for (let i = 0; i < 2000; i++) pairs.push([one(), one()]);
  return pairs;
}

test('exact decimals multiply, add and compare as CPython\'s Decimal and decimal.js do', { skip: spawnSync(PYTHON, ['-c', '1']).status !== 0 && 'python3 missing' }, () => {
  const pairs = decimalPairs();
  const r = spawnSync(PYTHON, ['-c', EXACT_REFERENCE], { input: JSON.stringify(pairs), encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(r.stdout) as [string, string, number][];
  for (const [i, [a, b]] of pairs.entries()) {
    const x = parseExact(a) as Exact;
    const y = parseExact(b) as Exact;
    assert.deepEqual([exactString(exactTimes(x, y)), exactString(exactPlus(x, y)), exactCmp(x, y)], expected[i], `${a} ${b}`);
    assert.equal(exactString(exactTimes(x, y)), decimalString(new Dec(a).times(b)), `${a} * ${b} (decimal.js)`);
    assert.equal(exactCmp(exactOfDec(new Dec(a)), x), 0, `${a} through Dec`);
  }
  for (const bad of ['', '.', 'e5', '1e', 'NaN', 'Infinity', '0x10', '1.2.3']) assert.equal(parseExact(bad), null, bad);
});
