// Python float text against CPython itself: doubles go to python3 as bit patterns and
// strings as they are; repr(), json.dumps() and float() answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parsePyFloat, pyFloatJson, pyFloatRepr, secondsRepr } from './pyfloat.js';

const SEED = Number(process.env.TALLY_TEST_SEED ?? Date.now() % 2 ** 31);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const view = new DataView(new ArrayBuffer(8));
function fromBits(hi: number, lo: number): number {
  view.setUint32(0, hi >>> 0);
  view.setUint32(4, lo >>> 0);
  return view.getFloat64(0);
}
function bitsHex(x: number): string {
  view.setFloat64(0, x);
  return view.getUint32(0).toString(16).padStart(8, '0') + view.getUint32(4).toString(16).padStart(8, '0');
}

/** Runs a python3 program that reads one item per line on stdin and writes one answer per line. */
function python(program: string, lines: string[]): string[] {
  const r = spawnSync('python3', ['-c', program], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, `python3 failed: ${r.stderr}`);
  const out = r.stdout.split('\n');
  out.pop();
  assert.equal(out.length, lines.length);
  return out;
}

const EDGES = [
  0, -0, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, Number.MAX_VALUE, -Number.MAX_VALUE,
  2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53) + 1, -(2 ** 53), 1e16, 1e16 - 2, 1e16 + 2, 9999999999999998, 1e15, 1e15 + 0.5,
  999999999999999.9, 1e-5, 1e-4, 0.0001, 0.00009999999999999999, 0.00010000000000000002, 1e-7, 1e-6, 1e21, 1e22, 1e23,
  1.5e300, 1e-300, 0.1, 0.2 + 0.1, 1 / 3, 2 / 3, 100, 1, -1, 0.5, Number('123456789012345678'), 0.00005, 5e-5, Number('1.2345678901234567e-5'),
  NaN, Infinity, -Infinity,
];

function doubles(r: () => number): number[] {
  const out = [...EDGES];
  const u32 = (): number => Math.floor(r() * 2 ** 32);
  for (let i = 0; i < 20_000; i++) out.push(fromBits(u32(), u32())); // any bit pattern, NaNs included
  for (let i = 0; i < 2_000; i++) out.push(fromBits(u32() & 0x800fffff, u32())); // subnormals (and zeros)
  for (let i = 0; i < 20_000; i++) {
    // Decimal-looking values: up to 17 digits at any scale, and short ones around 1e-4 and 1e16.
    const digits = 1 + Math.floor(r() * 17);
    const mantissa = Math.floor(r() * 10 ** digits);
    const exp = i % 2 === 0 ? Math.floor(r() * 640) - 330 : Math.floor(r() * 30) - 20;
    out.push((r() < 0.5 ? -1 : 1) * Number(`${mantissa}e${exp}`));
  }
  for (let i = 0; i < 2_000; i++) out.push(Math.round((r() - 0.5) * 2 ** 62)); // integers across 2^53
  return out;
}

test('pyFloatRepr and pyFloatJson write what CPython repr() and json.dumps() write', () => {
  const xs = doubles(rng(SEED));
  const answers = python(
    'import sys, struct, json\n' +
      'for line in sys.stdin:\n' +
      '    x = struct.unpack(">d", bytes.fromhex(line.strip()))[0]\n' +
      '    print(repr(x) + "\\t" + json.dumps(x))\n',
    xs.map(bitsHex),
  );
  for (let i = 0; i < xs.length; i++) {
    const [repr, json] = answers[i].split('\t');
    const where = `double ${bitsHex(xs[i])} (seed ${SEED})`;
    assert.equal(pyFloatRepr(xs[i]), repr, where);
    assert.equal(pyFloatJson(xs[i]), json, where);
  }
});

test('secondsRepr writes timedelta.total_seconds() as Python does', () => {
  // timedelta holds microseconds: durations in whole microseconds, as granularities are.
  const ns = [60_000_000_000n, 500_000_000n, 1_000n, 10_000n, 3_600_000_000n, 86_400_000_000_000n, 31_536_000_000_000_000n, 0n, 123_456_789_000n];
  const answers = python(
    'import sys, datetime\n' +
      'for line in sys.stdin:\n' +
      '    print(repr(datetime.timedelta(microseconds=int(line) // 1000).total_seconds()))\n',
    ns.map(String),
  );
  assert.deepEqual(ns.map(secondsRepr), answers);
});

test('parsePyFloat reads what CPython float() reads, and refuses what it refuses', () => {
  const r = rng(SEED + 1);
  const texts = [
    '1', '-1', '+1', '1.', '.5', '-.5', '1.5e3', '1.5E+3', '1e-5', '1e5_0', '1_000', '1_000.000_1', '  42  ', '\t7\n', '\x1c1\x1f', '\x851', '\u00a01\u3000', '\u20281', '\ufeff1', '1\u200b',
    'inf', '-inf', '+INF', 'Infinity', '-iNfInItY', 'nan', '-NaN', '+nan', '0', '-0', '-0.0', '00012', '1e400', '-1e400',
    '1e-400', '4.9e-324', '2.4703282292062328e-324', '123456789012345678', '0.30000000000000004',
    // Refused by Python:
    '', ' ', '1__0', '_1', '1_', '1_.5', '1._5', '1e', '1e+', 'e5', '.', '-', '0x10', '0b1', '1,5', '1.5.2', 'infinit',
    'nan(1)', 'inf inity', '1 2', '++1', '1e1.5', '∞', 'Infinity1', 'true', '1d', '1f',
  ];
  const xs = doubles(r).slice(0, 5_000);
  for (const x of xs) {
    const s = pyFloatRepr(x);
    texts.push(s, s.toUpperCase(), ` ${s}\t`);
    // Underscores between two digits somewhere, or at a place Python refuses.
    const at = Math.floor(r() * s.length);
    texts.push(s.slice(0, at) + '_' + s.slice(at));
  }
  const answers = python(
    'import sys, struct\n' +
      'for line in sys.stdin.read().split("\\n")[:-1]:\n' +
      '    try:\n' +
      '        x = float(bytes.fromhex(line).decode())\n' +
      '        print("nan" if x != x else struct.pack(">d", x).hex())\n' +
      '    except ValueError:\n' +
      '        print("-")\n',
    texts.map((t) => Buffer.from(t, 'utf8').toString('hex')),
  );
  for (let i = 0; i < texts.length; i++) {
    const n = parsePyFloat(texts[i]);
    // NaN's sign and payload are not compared: Tally has one NaN.
    const got = n === null ? '-' : Number.isNaN(n) ? 'nan' : bitsHex(n);
    assert.equal(got, answers[i], `float(${JSON.stringify(texts[i])}) (seed ${SEED})`);
  }
});
