// Parsing and validation of operations. Expected messages are those Gnocchi 4.4.2 gives
// (its OperationsSchema run on the same input, and the conformance files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOperations, extractReferences, OperationsInvalid, type OpNode } from './schema.js';
import { parseOperationsString, OperationsParseError } from './parse.js';

function parseError(text: string): string {
  try {
    parseOperationsString(text);
  } catch (e) {
    if (e instanceof OperationsParseError) return e.detail;
    throw e;
  }
  assert.fail(`${text} parsed`);
}

function invalid(v: unknown): [string | null, readonly number[]] {
  try {
    parseOperations(v);
  } catch (e) {
    if (e instanceof OperationsInvalid) return [e.msg, e.path];
    throw e;
  }
  assert.fail(`${JSON.stringify(v)} validated`);
}

test('string form: nested lists of words, quoted strings kept, trailing text ignored', () => {
  assert.deepEqual(parseOperationsString('(aggregate mean (metric (a mean) (b max)))'),
    ['aggregate', 'mean', ['metric', ['a', 'mean'], ['b', 'max']]]);
  assert.deepEqual(parseOperationsString('(a b"c d" e)'), ['a', 'b', '"c d"', 'e']);
  assert.deepEqual(parseOperationsString('(metric a mean) (metric b mean)'), ['metric', 'a', 'mean']);
  assert.deepEqual(parseOperationsString('(metric a mean))'), ['metric', 'a', 'mean']);
  assert.deepEqual(parseOperationsString('("")'), ['""']);
});

test('string form: pyparsing messages and positions', () => {
  assert.equal(parseError('(metroc foo bar'), "Expected ')', found end of text  (at char 15), (line:1, col:16)");
  assert.equal(parseError('2.0'), "Expected '(', found '2'  (at char 0), (line:1, col:1)");
  assert.equal(parseError('metric a mean'), "Expected '(', found 'metric'  (at char 0), (line:1, col:1)");
  assert.equal(parseError(''), "Expected '('  (at char 0), (line:1, col:1)");
  assert.equal(parseError('   '), "Expected '(', found end of text  (at char 3), (line:1, col:4)");
  assert.equal(parseError(')'), "Expected '(', found ')'  (at char 0), (line:1, col:1)");
  assert.equal(parseError('((a'), "Expected ')', found '('  (at char 1), (line:1, col:2)");
  assert.equal(parseError('(a (b (c) d'), "Expected ')', found '('  (at char 3), (line:1, col:4)");
  assert.equal(parseError('(a "b c'), "Expected ')', found end of text  (at char 7), (line:1, col:8)");
  assert.equal(parseError('(a\tb'), "Expected ')', found end of text  (at char 9), (line:1, col:10)");
  assert.equal(parseError('\n\n  (a (b'), "Expected ')', found '('  (at char 7), (line:3, col:6)");
  assert.equal(parseError('((a) (b)'), "Expected ')', found end of text  (at char 8), (line:1, col:9)");
});

test('numbers are coerced to floats, windows to ints, timespans parsed', () => {
  const op = parseOperations('(+ (metric a mean) 2)') as Extract<OpNode, { kind: 'binary' }>;
  assert.equal(op.kind, 'binary');
  assert.deepEqual(op.right, { kind: 'number', value: 2, text: '2.0' });
  const rolling = parseOperations(['rolling', 'mean', 2.5, ['metric', 'a', 'mean']]);
  assert.equal(rolling.kind === 'rolling' && rolling.window, 2);
  const resample = parseOperations(['resample', 'mean', '60', ['metric', 'a', 'mean']]);
  assert.equal(resample.kind === 'resample' && resample.sampling, 60_000_000_000n);
  assert.equal(parseOperations(['abs', '3']).kind, 'unary');
  assert.equal(parseOperations(['+', true, ['metric', 'a', 'mean']]).kind, 'binary');
});

test("validation messages are voluptuous's, with the longest path winning", () => {
  assert.deepEqual(invalid([]), ['Operation must not be empty', []]);
  assert.deepEqual(invalid({ foo: 'bar' }), ["Expected a tuple/list, got a <class 'dict'>", []]);
  assert.deepEqual(invalid(3), ["Expected a tuple/list, got a <class 'int'>", []]);
  assert.deepEqual(invalid(null), ["Expected a tuple/list, got a <class 'NoneType'>", []]);
  assert.deepEqual(invalid(['metric']), ['Operation need at least one argument', []]);
  assert.deepEqual(invalid('((metric a mean))'), ['Operation need at least one argument', []]);
  assert.deepEqual(invalid(['metric', 'a']), [null, [0]]);
  assert.deepEqual(invalid(['metric', ['a', 'mean'], ['b']]), [null, [1]]);
  assert.deepEqual(invalid(['metric', ['a', 'mean'], 'b']), [null, [1]]);
  assert.deepEqual(invalid(['+', ['metric', 'a'], 2]), [null, [0]]);
  assert.deepEqual(invalid(['notexist', ['absolute', ['metric', 'a', 'mean']]]), ["'notexist' operation invalid", []]);
  assert.deepEqual(invalid('(rolling blah 2 (metric a mean))'), ["'rolling' operation invalid", []]);
  assert.deepEqual(invalid(['rolling', 'mean', 0, ['metric', 'a', 'mean']]), ["'rolling' operation invalid", []]);
  assert.deepEqual(invalid(['resample', 'mean', 'invalid', ['metric', 'a', 'mean']]), ["'resample' operation invalid", []]);
  assert.deepEqual(invalid(['aggregate', '95pct', ['metric', 'a', 'mean']]), ["'aggregate' operation invalid", []]);
  assert.deepEqual(invalid(['clip', ['metric', 'a', 'mean'], 1, 2, 3]), ["'clip' operation invalid", []]);
  assert.deepEqual(invalid(['+', ['metric', 'a', 'mean'], 'x']), ["'+' operation invalid", []]);
  assert.deepEqual(invalid([1, 2]), ["'1' operation invalid", []]);
});

test('references: distinct, in order of appearance', () => {
  const op = parseOperations(['-', ['metric', ['a', 'mean'], ['b', 'mean'], ['b', 'mean']], ['metric', 'a', 'max']]);
  assert.deepEqual(extractReferences(op), [['a', 'mean'], ['b', 'mean'], ['a', 'max']]);
});

test('node text is the Python repr Gnocchi prints in messages', () => {
  const op = parseOperations(['-', ['metric', 'a', 'mean'], ['rateofchange', ['metric', 'b', 'mean']]]);
  assert.ok(op.kind === 'binary');
  assert.equal(op.left.text, "['metric', 'a', 'mean']");
  assert.equal(op.right.text, "['rateofchange', ['metric', 'b', 'mean']]");
});
