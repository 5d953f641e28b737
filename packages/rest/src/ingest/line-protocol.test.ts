import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLineProtocol, LineProtocolError, PRECISIONS, compareCodePoints, type ParsedLines } from './line-protocol.js';

const NOW = 1_600_000_000_000_000_000n;

function parse(text: string, opts: { tag?: string; precision?: string } = {}): ParsedLines {
  return parseLineProtocol(text, { tagResourceId: opts.tag ?? 'host', precision: PRECISIONS[opts.precision ?? 'ns'], now: NOW });
}

/** resource -> metric -> [[ts, value], ...] */
function flat(p: ParsedLines): Record<string, Record<string, [bigint, number][]>> {
  const out: Record<string, Record<string, [bigint, number][]>> = {};
  for (const [r, ms] of p) {
    out[r] = {};
    for (const [m, col] of ms) {
      const { ts, values } = col.measures();
      out[r][m] = [...ts].map((t, i) => [t, values[i]]);
    }
  }
  return out;
}

function fails(text: string, line: number, kind: 'parse' | 'key' = 'parse', opts: { tag?: string; precision?: string } = {}): void {
  assert.throws(() => parse(text, opts), (e: unknown) => {
    assert.ok(e instanceof LineProtocolError, String(e));
    assert.equal(e.kind, kind, text);
    assert.equal(e.line, line, text);
    return true;
  }, text);
}

test('line protocol: Gnocchi names (measurement.field@sorted tags, resource tag removed)', () => {
  const p = parse('mymetric,host=foobar,mytag=myvalue field=123 1510581804179554816\ncpu,zz=1,path=/foobar,host=foobar,aa=2 v=43i,w=1.5e3 1');
  assert.deepEqual(flat(p), {
    foobar: {
      'mymetric.field@mytag=myvalue': [[1510581804179554816n, 123]],
      'cpu.v@aa=2,path=_foobar,zz=1': [[1n, 43]],
      'cpu.w@aa=2,path=_foobar,zz=1': [[1n, 1500]],
    },
  });
  assert.deepEqual(flat(parse('m,host=h f=1 5')), { h: { 'm.f': [[5n, 1]] } });
  assert.deepEqual(Object.keys(flat(parse('m,host=a,mytag=b f=1 5', { tag: 'mytag' }))), ['b']);
});

test('line protocol: series and points accumulate; missing timestamps take now', () => {
  const p = parse('m,host=a f=1 10\nm,host=a f=2 20\n\nm,host=b f=3\n# comment\n  m,host=a g=4 30  \r\n');
  assert.deepEqual(flat(p), {
    a: { 'm.f': [[10n, 1], [20n, 2]], 'm.g': [[30n, 4]] },
    b: { 'm.f': [[NOW, 3]] },
  });
  // Tag order does not matter: both lines feed one metric.
  const q = parse('m,host=a,x=1,y=2 f=1 1\nm,y=2,host=a,x=1 f=2 2');
  assert.deepEqual(flat(q), { a: { 'm.f@x=1,y=2': [[1n, 1], [2n, 2]] } });
});

test('line protocol: value forms', () => {
  const p = parse('m,host=a i=-5i,u=7u,f=-1.5,e=2E-3,d=.5,t=1.,s="text, with = and \\" quote",b=true,c=F,big=123456789012345678901 9');
  assert.deepEqual(flat(p).a, {
    'm.i': [[9n, -5]], 'm.u': [[9n, 7]], 'm.f': [[9n, -1.5]], 'm.e': [[9n, 0.002]], 'm.d': [[9n, 0.5]], 'm.t': [[9n, 1]],
    'm.big': [[9n, 1.2345678901234568e20]],
  });
  // A line with only strings and booleans makes nothing (not even its resource).
  assert.deepEqual(flat(parse('m,host=a s="x",b=t 1')), {});
});

test('line protocol: escapes and quoted names', () => {
  const p = parse('my\\ m\\,x,host=h\\ 1,t\\=k=v\\,w f\\ 1=1 1\n"q m",host="h 2",tag="a\\"b" "f,x"=2 2\nback\\slash,host=h\\\\ 1 f=3 3');
  assert.deepEqual(flat(p), {
    'h 1': { 'my m,x.f 1@t=k=v,w': [[1n, 1]] },
    'h 2': { 'q m.f,x@tag=a"b': [[2n, 2]] },
    'h\\ 1': { 'back\\slash.f': [[3n, 3]] },
  });
});

test('line protocol: precision', () => {
  assert.deepEqual(flat(parse('m,host=a f=1 1510581804', { precision: 's' })).a['m.f'], [[1510581804000000000n, 1]]);
  assert.deepEqual(flat(parse('m,host=a f=1 1510581804179', { precision: 'ms' })).a['m.f'], [[1510581804179000000n, 1]]);
  assert.deepEqual(flat(parse('m,host=a f=1 1510581804179554', { precision: 'u' })).a['m.f'], [[1510581804179554000n, 1]]);
  assert.deepEqual(flat(parse('m,host=a f=1 2', { precision: 'h' })).a['m.f'], [[7200_000_000_000n, 1]]);
  assert.deepEqual(flat(parse('m,host=a f=1 3', { precision: 'm' })).a['m.f'], [[180_000_000_000n, 1]]);
  assert.deepEqual(flat(parse('m,host=a f=1 9223372036854775807')).a['m.f'], [[9223372036854775807n, 1]]);
  fails('m,host=a f=1 9223372036854775808', 1);
  fails('m,host=a f=1 9223372036854775', 1, 'parse', { precision: 's' });
});

test('line protocol: errors name the line', () => {
  fails('m,host=a f=1\nbad line', 2);
  fails('\n\nm,host=a', 3);
  fails('m,host=a f=', 1);
  fails('m,host=a f=abc', 1);
  fails('m,host=a f=1 -5', 1);
  fails('m,host=a f=1 12x', 1);
  fails('m,host=a f=1 1 2', 1);
  fails('m,host=a f=1e999', 1);
  fails('m,host=a f=1.5i', 1);
  fails('m,host=a f=-1u', 1);
  fails('m,host= f=1', 1);
  fails('m,=a f=1', 1);
  fails('m,host f=1', 1);
  fails('m=x,host=a f=1', 1);
  fails(',host=a f=1', 1);
  fails('m,host=a f="unterminated', 1);
  fails('m,host="a f=1', 1);
  fails('m,host=a f=1,', 1);
  fails('m,host=a f="x"y', 1);
  fails('m,host=a  ', 1);
  fails('m,host=a f=1\nm,nohost=a f=1', 2, 'key');
  fails('m,host=a f=1', 1, 'key', { tag: 'other' });
  // A bad line is reported even when its series was seen before.
  fails('m,host=a f=1 1\nm,host=a f=x 1', 2);
});

test('line protocol: Python ordering of tag keys (by code point)', () => {
  assert.ok(compareCodePoints('\uffff', '\u{10000}') < 0);
  assert.ok(compareCodePoints('a', 'b') < 0);
  assert.ok(compareCodePoints('ab', 'a') > 0);
  assert.deepEqual(Object.keys(flat(parse('m,host=h,\u{10000}=1,\uffff=2 f=1 1')).h), ['m.f@\uffff=2,\u{10000}=1']);
});

test('line protocol: many points stay in typed arrays', () => {
  const lines: string[] = [];
  for (let i = 0; i < 5000; i++) lines.push(`cpu,host=h${i % 7},core=${i % 3} user=${i}.5,idle=${i}i ${1_600_000_000_000_000_000 + i * 1000}`);
  const p = parse(lines.join('\n'));
  assert.equal(p.size, 7);
  let n = 0;
  for (const ms of p.values()) for (const col of ms.values()) n += col.measures().ts.length;
  assert.equal(n, 10000);
});

test('line protocol: decimal values equal Number() of their text', () => {
  const texts: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const int = Math.floor(Math.random() * 10 ** Math.floor(Math.random() * 9));
    const frac = String(Math.floor(Math.random() * 10 ** Math.floor(Math.random() * 9)));
    texts.push(`${i % 2 ? '-' : ''}${int}.${frac}`);
  }
  texts.push('0.1', '0.3', '-0.0', '123456789012.345', '1234567890123.456', '9007199254740993', '0.000000000000001');
  const p = parse(texts.map((v, i) => `m,host=a f=${v} ${i}`).join('\n'));
  const { values } = (p.get('a') as Map<string, { measures(): { values: Float64Array } }>).get('m.f')!.measures();
  texts.forEach((v, i) => assert.ok(Object.is(values[i], Number(v)), `${v}: ${values[i]} vs ${Number(v)}`));
});

test('line protocol: mutated input fails only with LineProtocolError', () => {
  const seed = 'cpu,host=a\\ b,"q t"=x usage=1.5,n=3i,s="x\\"y",b=true 1510581804179554816\nm,host=h f=1';
  const alphabet = ' ,="\\\nix.e-+1aT';
  for (let i = 0; i < 5000; i++) {
    const chars = [...seed];
    for (let k = 0; k < 1 + (i % 4); k++) {
      const at = Math.floor(Math.random() * chars.length);
      const op = Math.random();
      if (op < 0.4) chars.splice(at, 1);
      else chars.splice(at, op < 0.7 ? 0 : 1, alphabet[Math.floor(Math.random() * alphabet.length)]);
    }
    try {
      parse(chars.join(''));
    } catch (e) {
      assert.ok(e instanceof LineProtocolError, `${JSON.stringify(chars.join(''))}: ${String(e)}`);
    }
  }
});
