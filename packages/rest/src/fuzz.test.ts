// Property-based fuzzing of every endpoint: arbitrary JSON bodies, odd values in known
// fields, arbitrary query strings and path segments, odd headers, very large and deeply
// nested bodies. Properties: never a 5xx, the process keeps serving, and every error
// answer has Gnocchi's shape {code, title, description} with code equal to the status.
//
// Endpoints that do not exist (yet) answer 404, which the properties accept, so the list
// can name every endpoint Gnocchi has. Requests ask for JSON (test-util does, as
// gnocchiclient does); errors to other Accept headers are text or HTML, as in Gnocchi.
// The heap, after a collection, may not grow by more than a bound over the whole fuzzing.
// Runs are bounded (FUZZ_RUNS scales them, FUZZ_SEED replays a failure fast-check reported).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startTestApi, type TestApi } from './test-util.js';

const SCALE = Number(process.env.FUZZ_RUNS ?? '1');
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const runs = (n: number): { numRuns: number; seed?: number } => ({ numRuns: Math.max(1, Math.round(n * SCALE)), ...(SEED === undefined ? {} : { seed: SEED }) });

interface Answer { status: number; text: string; headers: Record<string, unknown> }
type Call = (method: string, url: string, opts?: { body?: unknown; raw?: string; headers?: Record<string, string>; user?: string | null }) => Promise<Answer>;

let api: TestApi;
let metricId = '';
let otherMetricId = '';
/** A generic resource with a metric named cpu (the id stays a fresh uuid if resources are not served). */
let resourceId = '5b9c1e3f-6a1f-4d4c-9a1c-3f7a2c1d0e01';
let resourcesServed = false;
/** Paths served by the resource indexer. */
const RESOURCE_PATH = /\/(resource|search|resource_type)(\/|$|\?)|batch\/resources|aggregation\/resource/;
const served = (url: string): boolean => resourcesServed || !RESOURCE_PATH.test(url);
const violations: string[] = [];

/** Creates the fixtures every property can hit: policies, a rule, metrics with measures. */
async function fixtures(call: Call): Promise<string[]> {
  const ids: string[] = [];
  let r = await call('POST', '/v1/archive_policy', {
    body: { name: 'fz', back_window: 2, aggregation_methods: ['*', 'rate:mean'], definition: [{ granularity: '1s', points: 100 }, { granularity: '1 minute', timespan: '1 day' }] },
  });
  assert.ok(r.status === 201 || r.status === 409, r.text);
  r = await call('POST', '/v1/archive_policy_rule', { body: { name: 'fzr', metric_pattern: 'fz.*', archive_policy_name: 'fz' } });
  assert.ok(r.status === 201 || r.status === 409, r.text);
  for (const name of ['fz.a', 'fz.b']) {
    r = await call('POST', '/v1/metric', { body: { archive_policy_name: 'fz', name } });
    assert.equal(r.status, 201, r.text);
    const id = (JSON.parse(r.text) as { id: string }).id;
    ids.push(id);
    const measures = Array.from({ length: 30 }, (_v, i) => ({ timestamp: 1_600_000_000 + i * 7, value: (i * 37) % 11 }));
    r = await call('POST', `/v1/metric/${id}/measures`, { body: measures });
    assert.equal(r.status, 202, r.text);
    r = await call('GET', `/v1/metric/${id}/measures?refresh=true`);
    assert.equal(r.status, 200, r.text);
  }
  return ids;
}

before(async () => {
  api = await startTestApi({ bodyLimit: 1024 * 1024 });
  [metricId, otherMetricId] = await fixtures(api.call);
  const r = await api.call('POST', '/v1/resource/generic', { body: { id: resourceId, user_id: 'u', project_id: 'p', metrics: { cpu: { archive_policy_name: 'fz' } } } });
  assert.equal(r.status, 201, r.text);
  resourceId = (JSON.parse(r.text) as { id: string }).id;
  resourcesServed = true;
  heapBefore = heapAfterGc();
});

/** Heap in use after a full collection (the flag can be set at run time; `gc` then exists in a new context). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}
let heapBefore = 0;
/** What the fuzzing may leave behind in the heap: caches are bounded well below this. */
const HEAP_GROWTH_LIMIT = 64 * 2 ** 20;
after(async () => {
  await api?.close();
});

const SHAPE_EXEMPT = new Set([200, 201, 202, 204]);

/** The property: no 5xx, and (to a client accepting JSON) errors in Gnocchi's shape. */
function check(what: string, r: Answer, opts: { json?: boolean } = {}): void {
  const problem = ((): string | null => {
    if (r.status >= 500) return `status ${r.status}`;
    if (r.status < 400 || SHAPE_EXEMPT.has(r.status) || opts.json === false) return null;
    let body: unknown;
    try {
      body = JSON.parse(r.text);
    } catch {
      return `error body is not JSON: ${r.text.slice(0, 200)}`;
    }
    const b = body as { code?: unknown; title?: unknown; description?: unknown };
    if (typeof b !== 'object' || b === null) return 'error body is not an object';
    if (b.code !== r.status) return `code ${String(b.code)} != status ${r.status}`;
    if (typeof b.title !== 'string') return 'title is not a string';
    // Gnocchi describes an unknown path with null; every other error says something.
    if (b.description === undefined || (b.description === null && r.status !== 404)) return 'no description';
    return null;
  })();
  if (problem) {
    const msg = `${what} -> ${problem}: ${r.text.slice(0, 300)}`;
    violations.push(msg);
    assert.fail(msg);
  }
}

// ------------------------------------------------------------------ arbitraries

const uuidish = fc.oneof(fc.uuid(), fc.constant('00000000-0000-0000-0000-000000000000'), fc.string({ maxLength: 40 }));
const odd = [
  '', ' ', '0', '-0', '1', '-1', '1e308', '-1e308', '1e-320', 'NaN', 'nan', 'inf', '-Infinity', '9'.repeat(40),
  '1s', '1 second', '0:00:01', '-1s', '1 day, 0:00:00', '99999 days', '0.000000001', '1e-9s',
  'now', 'now-1d', '-1', '2020-01-01', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00+25:00', '1900-01-01', '9999-12-31T23:59:59',
  '10000-01-01', '+0', '\u0000', '\ud800', '%', '%00', '..', '/', '*', '?', '[', 'null', 'true', 'mean', 'rate:mean',
  'mean;drop table metric', "' OR 1=1 --", 'count', 'sum', 'std', '99pct', '101pct', 'rate:', ':', 'id:asc', 'name:desc', 'x'.repeat(3000),
];
const oddString = fc.oneof(fc.constantFrom(...odd), fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }));
const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, 1, -1, 2 ** 53, -(2 ** 63), 2 ** 64, 1e300, 5e-324, 1e15, 1e12, 1e19));
/** A value of any JSON kind, leaning on the ones validators trip over. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: oddString },
  { weight: 3, arbitrary: number },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined, freq: 3 });
const pruned = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const definitionItem = fc.record({ granularity: maybe(anyValue), points: maybe(anyValue), timespan: maybe(anyValue) }).map(pruned);
/** Definitions that pass validation often enough for the odd names and sizes to reach storage. */
const plausibleItem = fc.record({
  granularity: fc.oneof(fc.constantFrom('1s', '60', 1, '1 minute', '0.5', '1 day', 3600), fc.integer({ min: 1, max: 2 ** 40 })),
  points: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(2 ** 31, 2 ** 53, 1e15, 1e18, 1e300)),
});
const policyBody = fc.record({
  name: maybe(fc.oneof(anyValue, fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }))),
  back_window: maybe(anyValue),
  aggregation_methods: maybe(fc.oneof(fc.array(anyValue, { maxLength: 4 }), anyValue)),
  definition: maybe(fc.oneof(fc.array(definitionItem, { maxLength: 4 }), fc.array(plausibleItem, { minLength: 1, maxLength: 2 }), anyValue)),
  extra: maybe(anyValue),
}).map(pruned);
const ruleBody = fc.record({ name: maybe(fc.oneof(anyValue, fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }))), metric_pattern: maybe(anyValue), archive_policy_name: maybe(fc.oneof(fc.constant('fz'), anyValue)) }).map(pruned);
const metricBody = fc.record({
  archive_policy_name: maybe(fc.oneof(fc.constant('fz'), anyValue)), name: maybe(anyValue), unit: maybe(anyValue), resource_id: maybe(anyValue),
}).map(pruned);
const measure = fc.oneof(
  fc.record({ timestamp: maybe(anyValue), value: maybe(anyValue) }).map(pruned),
  fc.record({ timestamp: fc.integer({ min: 1_500_000_000, max: 1_700_000_000 }), value: number }),
  anyValue,
);
const measuresBody = fc.oneof(fc.array(measure, { maxLength: 8 }), anyValue);

/** An operations tree in Gnocchi's aggregates language, valid or not. */
const operations: fc.Arbitrary<unknown> = fc.letrec<{ op: unknown }>((tie) => ({
  op: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constant('metric'), fc.oneof(fc.constantFrom(() => metricId, () => otherMetricId).map((f) => f()), anyValue), fc.oneof(fc.constantFrom('mean', 'max', 'count', 'rate:mean', 'last'), anyValue)),
    fc.tuple(fc.constant('metric'), fc.array(fc.tuple(fc.constantFrom(() => metricId, () => otherMetricId).map((f) => f()), fc.constantFrom('mean', 'sum', 'nope')), { maxLength: 3 })),
    fc.tuple(fc.constantFrom('aggregate', 'resample'), fc.oneof(fc.constantFrom('mean', 'max', 'count', 'rate:last'), anyValue), fc.oneof(fc.constantFrom(60, '60', 'x'), number), tie('op')),
    fc.tuple(fc.constantFrom('+', '-', '*', '/', '**', '%', '>', '<=', '==', 'and', 'or', 'add', 'sub', 'mul', 'div', 'pow', 'eq', 'ne', 'le', 'gt', 'mod'), fc.oneof(tie('op'), number), fc.oneof(tie('op'), number)),
    fc.tuple(fc.constantFrom('abs', 'absolute', 'neg', 'negative', 'cos', 'sin', 'tan', 'floor', 'ceil', 'round', 'rateofchange', 'clip_min', 'clip_max', 'clip', 'rolling'), fc.oneof(tie('op'), number), fc.oneof(tie('op'), number)),
    fc.tuple(fc.constantFrom('rolling'), fc.constantFrom('mean', 'sum', 'max'), fc.oneof(fc.integer({ min: -2, max: 5 }), anyValue), tie('op')),
    anyValue,
  ),
})).op;

/** Percent-encodes any JS string, lone surrogates included (as their WTF-8 bytes, as a client could send). */
function enc(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)].map((b) => '%' + b.toString(16).toUpperCase()).join('');
    } else {
      out += encodeURIComponent(ch);
    }
  }
  return out;
}

/** Query strings: known keys (repeated, empty, odd values) plus random ones. */
const QUERY_KEYS = [
  'limit', 'marker', 'sort', 'details', 'refresh', 'aggregation', 'granularity', 'start', 'stop', 'resample', 'fill',
  'needed_overlap', 'reaggregation', 'metric', 'groupby', 'status', 'id', 'name', 'unit', 'archive_policy_name', 'creator',
  'resource_id', 'user_id', 'project_id', 'created_by_user_id', 'created_by_project_id', 'filter', 'transform', 'use_history',
];
const queryString = fc.array(fc.tuple(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...QUERY_KEYS) }, { weight: 1, arbitrary: oddString }), oddString), { maxLength: 6 })
  .map((pairs) => pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&'));
/** Raw (not encoded) query strings: bad percent escapes, brackets, repeated separators. */
const rawQueryString = fc.array(fc.constantFrom('a', '=', '&', '%', '%zz', '%ff', '[', ']', '[]', 'limit', 'sort', 'start', '+', ';', '#', '..', 'granularity', '1'), { maxLength: 12 }).map((p) => p.join(''));

// ------------------------------------------------------------------ endpoints

const resourceBody = fc.record({
  id: maybe(fc.oneof(fc.uuid(), anyValue)), user_id: maybe(anyValue), project_id: maybe(anyValue), started_at: maybe(anyValue),
  ended_at: maybe(anyValue), original_resource_id: maybe(anyValue), host: maybe(anyValue), display_name: maybe(anyValue),
  metrics: maybe(fc.oneof(fc.dictionary(oddString, fc.oneof(metricBody, fc.uuid(), anyValue), { maxKeys: 3 }), anyValue)),
}).map(pruned);
/** Search filters of Gnocchi's resource search language, valid or not. */
const searchFilter: fc.Arbitrary<unknown> = fc.letrec<{ f: unknown }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.dictionary(fc.constantFrom('=', '==', 'eq', '<', 'lt', '>=', 'ge', '!=', 'ne', 'in', 'like', 'ilike', 'wat'), fc.dictionary(fc.constantFrom('id', 'user_id', 'project_id', 'started_at', 'ended_at', 'revision_start', 'host', 'nope', 'metrics'), anyValue, { minKeys: 1, maxKeys: 2 }), { minKeys: 1, maxKeys: 1 }),
    fc.dictionary(fc.constantFrom('and', 'or', 'not', '∧'), fc.oneof(fc.array(tie('f'), { maxLength: 3 }), tie('f')), { minKeys: 1, maxKeys: 1 }),
    anyValue,
  ),
})).f;
const filterString = fc.oneof(
  fc.array(fc.constantFrom('id', '=', 'eq', '"x"', "'y'", 'and', 'or', 'not', '(', ')', 'in', '[', ']', ',', 'started_at', '>', '2020-01-01', 'null', 'true', '1', 'like', '"%"', ' '), { maxLength: 10 }).map((t) => t.join(' ')),
  oddString,
);

const BODY_ENDPOINTS = (): [string, string, fc.Arbitrary<unknown>][] => ([
  ['POST', '/v1/archive_policy', policyBody],
  ['PATCH', '/v1/archive_policy/fz', fc.record({ definition: maybe(fc.oneof(fc.array(definitionItem, { maxLength: 3 }), anyValue)), name: maybe(anyValue) }).map(pruned)],
  ['POST', '/v1/archive_policy_rule', ruleBody],
  ['PATCH', '/v1/archive_policy_rule/fzr', fc.record({ name: maybe(anyValue), metric_pattern: maybe(anyValue) }).map(pruned)],
  ['POST', '/v1/metric', metricBody],
  ['POST', `/v1/metric/${metricId}/measures`, measuresBody],
  ['POST', '/v1/batch/metrics/measures', fc.oneof(fc.dictionary(fc.oneof(fc.constant(metricId), fc.constant(otherMetricId), uuidish), measuresBody, { maxKeys: 3 }), anyValue)],
  ['POST', '/v1/batch/resources/metrics/measures', fc.oneof(fc.dictionary(fc.oneof(fc.constant(resourceId), uuidish), fc.dictionary(fc.oneof(fc.constant('cpu'), oddString), fc.oneof(measuresBody, fc.record({ archive_policy_name: maybe(anyValue), measures: maybe(measuresBody) }).map(pruned)), { maxKeys: 2 }), { maxKeys: 2 }), anyValue)],
  ['POST', '/v1/resource/generic', resourceBody],
  ['PATCH', `/v1/resource/generic/${resourceId}`, resourceBody],
  ['POST', `/v1/resource/generic/${resourceId}/metric`, fc.oneof(fc.dictionary(oddString, fc.oneof(metricBody, anyValue), { maxKeys: 2 }), anyValue)],
  ['POST', `/v1/resource/generic/${resourceId}/metric/cpu/measures`, measuresBody],
  ['POST', '/v1/search/resource/generic', searchFilter],
  ['DELETE', '/v1/resource/generic', searchFilter.map((f) => ({ and: [{ '=': { id: '00000000-0000-0000-0000-000000000001' } }, f] }))],
  ['POST', '/v1/search/metric', searchFilter],
  ['POST', '/v1/resource_type', fc.record({ name: maybe(anyValue), attributes: maybe(fc.oneof(fc.dictionary(oddString, fc.record({ type: maybe(fc.oneof(fc.constantFrom('string', 'uuid', 'number', 'bool', 'datetime'), anyValue)), required: maybe(anyValue), min: maybe(anyValue), max: maybe(anyValue), min_length: maybe(anyValue), max_length: maybe(anyValue), options: maybe(anyValue) }).map(pruned), { maxKeys: 3 }), anyValue)) }).map(pruned)],
  ['PATCH', '/v1/resource_type/generic', fc.array(fc.record({ op: maybe(fc.oneof(fc.constantFrom('add', 'remove', 'replace'), anyValue)), path: maybe(fc.oneof(fc.constantFrom('/attributes/x', '/attributes/'), anyValue)), value: maybe(anyValue) }).map(pruned), { maxLength: 3 })],
  ['POST', '/v1/aggregates', fc.record({ operations: maybe(fc.oneof(operations, operations.map((o) => JSON.stringify(o)), anyValue)), resource_type: maybe(fc.oneof(fc.constant('generic'), anyValue)), search: maybe(searchFilter) }).map(pruned)],
  ['POST', '/v1/aggregation/metric', fc.oneof(fc.array(fc.oneof(fc.constant(metricId), uuidish, anyValue), { maxLength: 3 }), anyValue)],
  ['POST', '/v1/aggregation/resource/generic/metric/cpu', searchFilter],
] as [string, string, fc.Arbitrary<unknown>][]).filter(([, u]) => served(u)).map(([m, u, b]) => [m, u, u === '/v1/aggregates' && !resourcesServed ? b.map((x) => { const { resource_type: _rt, search: _s, ...rest } = x as Record<string, unknown>; return rest; }) : b]);

const GET_URLS = (): string[] => [
  '/', '/v1', '/v1/capabilities', '/v1/status', '/healthcheck', '/v1/archive_policy', '/v1/archive_policy/fz',
  '/v1/archive_policy_rule', '/v1/archive_policy_rule/fzr', '/v1/metric', `/v1/metric/${metricId}`, `/v1/metric/${metricId}/measures`,
  '/v1/resource', '/v1/resource/generic', `/v1/resource/generic/${resourceId}`, `/v1/resource/generic/${resourceId}/history`,
  `/v1/resource/generic/${resourceId}/metric`, `/v1/resource/generic/${resourceId}/metric/cpu/measures`, '/v1/resource_type',
  '/v1/resource_type/generic', `/v1/aggregation/metric?metric=${metricId}`, `/v1/aggregation/metric?metric=${metricId}&metric=${otherMetricId}`,
].filter(served);

// ------------------------------------------------------------------ properties

test('fuzz: arbitrary JSON bodies on every endpoint that takes one', async () => {
  const eps = BODY_ENDPOINTS().map(([m, u]) => [m, u] as const);
  await fc.assert(fc.asyncProperty(fc.constantFrom(...eps), fc.jsonValue({ maxDepth: 6 }), async ([method, url], body) => {
    check(`${method} ${url} ${JSON.stringify(body).slice(0, 200)}`, await api.call(method, url, { body }));
  }), runs(300));
});

test('fuzz: odd values in known fields of every body', async () => {
  // One property per endpoint, so that a failure on one does not hide the others.
  const failures: string[] = [];
  for (const [method, url, arb] of BODY_ENDPOINTS()) {
    const out = await fc.check(fc.asyncProperty(arb, async (body) => {
      check(`${method} ${url} ${JSON.stringify(body).slice(0, 300)}`, await api.call(method, url, { body }));
    }), runs(50));
    if (out.failed) failures.push(`${method} ${url}: seed ${out.seed}, counterexample ${JSON.stringify(out.counterexample)?.slice(0, 300)}: ${String(out.errorInstance).slice(0, 300)}`);
  }
  assert.deepEqual(failures, []);
});

test('fuzz: query strings on aggregates, aggregation and search', async () => {
  const eps = BODY_ENDPOINTS().filter(([, u]) => /aggregat|search/.test(u));
  const arb = fc.oneof(...eps.map(([m, u, b]) => fc.tuple(fc.constant(m), fc.constant(u), b)));
  await fc.assert(fc.asyncProperty(arb, queryString, async ([method, url, body], qs) => {
    const full = qs ? `${url}?${qs}` : url;
    check(`${method} ${full} ${JSON.stringify(body).slice(0, 300)}`, await api.call(method, full, { body }));
  }), runs(300));
  await fc.assert(fc.asyncProperty(queryString, fc.array(fc.oneof(fc.constant(metricId), fc.constant(otherMetricId), uuidish), { maxLength: 3 }), async (qs, ids) => {
    const url = `/v1/aggregation/metric?${[...ids.map((i) => `metric=${enc(i)}`), qs].filter(Boolean).join('&')}`;
    check(`GET ${url}`, await api.call('GET', url));
  }), runs(150));
  // The query-string form of the search language.
  if (!resourcesServed) return;
  await fc.assert(fc.asyncProperty(filterString, fc.constantFrom('/v1/search/resource/generic', '/v1/resource/generic', '/v1/aggregation/resource/generic/metric/cpu'), async (f, url) => {
    const full = `${url}?filter=${enc(f)}`;
    check(`POST ${full}`, await api.call(url === '/v1/resource/generic' ? 'GET' : 'POST', full));
  }), runs(150));
});

test('fuzz: arbitrary query strings on list, status and measures reads', async () => {
  await fc.assert(fc.asyncProperty(fc.constantFrom(...GET_URLS()), fc.oneof(queryString, rawQueryString), async (url, qs) => {
    const full = `${url}${url.includes('?') ? '&' : '?'}${qs}`;
    check(`GET ${full}`, await api.call('GET', full));
  }), runs(600));
});

test('fuzz: arbitrary path segments and methods', async () => {
  const templates = [
    '/v1/archive_policy/$', '/v1/archive_policy_rule/$', '/v1/metric/$', '/v1/metric/$/measures', '/v1/$', '/$',
    '/v1/aggregation/resource/$/metric/$', '/v1/batch/$/measures', '/v1/resource/$', '/v1/resource/generic/$', '/v1/resource/$/$/metric',
    '/v1/resource/generic/$/metric/$/measures', '/v1/resource/generic/$/history', '/v1/search/resource/$', '/v1/resource_type/$',
  ].filter(served);
  const segment = fc.oneof(oddString.map(enc), fc.constantFrom('%', '%zz', '%c3%28', '..', '.', '', '%2F', 'fz', 'fzr', '%00', 'generic', 'cpu'), fc.uuid());
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS');
  await fc.assert(fc.asyncProperty(fc.constantFrom(...templates), segment, segment, method, fc.option(fc.jsonValue({ maxDepth: 2 })), async (t, a, b, m, body) => {
    // Fixtures are left alone: a DELETE of them would only make the other properties weaker.
    if (m === 'DELETE' && ['fz', 'fzr', 'generic', 'cpu'].some((x) => a === x || b === x)) return;
    const url = t.replace('$', a).replace('$', b);
    // A HEAD answer has no body, whatever its status.
    check(`${m} ${url}`, await api.call(m, url, body === null ? {} : { body }), { json: m !== 'HEAD' });
  }), runs(500));
});

test('fuzz: odd headers (content type, accept, authorization, preconditions)', async () => {
  const contentType = fc.oneof(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', ';;', 'application/json;charset=latin1', '*/*'), fc.string({ unit: 'grapheme-ascii', maxLength: 20 }));
  const accept = fc.oneof(fc.constantFrom('*/*', 'application/json', 'text/html', 'application/json;q=0', 'application/*;q=0.5, text/*', ';q=', 'q=abc', '', 'text/plain'), fc.string({ unit: 'grapheme-ascii', maxLength: 20 }));
  const auth = fc.oneof(fc.constantFrom('basic', 'basic ', 'basic !!!', 'basic ' + Buffer.from(':').toString('base64'), 'basic ' + Buffer.from('admin').toString('base64'), 'bearer x', 'basic ' + Buffer.from('\u0000:').toString('base64')), fc.string({ unit: 'grapheme-ascii', maxLength: 30 }));
  const precondition = fc.oneof(fc.constant(undefined), fc.tuple(fc.constantFrom('if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'), fc.oneof(fc.constantFrom('*', '"x"', 'W/"x"', 'Tue, 15 Nov 1994 08:12:31 GMT', 'yesterday', ''), fc.string({ unit: 'grapheme-ascii', maxLength: 20 }))));
  const target = fc.constantFrom<[string, string]>(['POST', '/v1/metric'], ['GET', '/v1/metric'], ['POST', '/v1/archive_policy'], ['GET', '/v1/status'], ['POST', '/v1/batch/metrics/measures'], ['GET', '/v1/archive_policy_rule'], ...([['GET', '/v1/resource/generic/$rid'], ['PATCH', '/v1/resource/generic/$rid'], ['POST', '/v1/search/resource/generic']] as [string, string][]).filter(([, u]) => served(u)));
  await fc.assert(fc.asyncProperty(target, contentType, accept, fc.option(auth), precondition, async ([m, u], ct, acc, a, pre) => {
    const url = u.replace('$rid', resourceId);
    const headers: Record<string, string> = { 'content-type': ct, accept: acc };
    if (a !== null) headers.authorization = a;
    if (pre) headers[pre[0]] = pre[1];
    const raw = m === 'GET' ? undefined : m === 'PATCH' ? '{"user_id": "u"}' : '{"archive_policy_name": "fz"}';
    const r = await api.call(m, url, { raw, headers, user: null });
    check(`${m} ${url} ct=${JSON.stringify(ct)} accept=${JSON.stringify(acc)} auth=${JSON.stringify(a)} ${JSON.stringify(pre)}`, r, { json: acc.toLowerCase().includes('json') });
  }), runs(300));
});

test('fuzz: raw bodies that are not (quite) JSON', async () => {
  const raw = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.jsonValue().map((v) => JSON.stringify(v).slice(0, -1)),
    fc.constantFrom('', ' ', 'null', '[', ']', '{"a":1}}', '\ufeff[]', '[1e999]', '[-0]', '{"__proto__": {"x": 1}}', '{"constructor": {"prototype": {"y": 1}}}', '[{"timestamp": 1, "value": 1}]\u0000'),
  );
  const eps = BODY_ENDPOINTS().map(([m, u]) => [m, u] as const);
  await fc.assert(fc.asyncProperty(fc.constantFrom(...eps), raw, async ([m, url], body) => {
    check(`${m} ${url} raw=${JSON.stringify(body).slice(0, 200)}`, await api.call(m, url, { raw: body }));
  }), runs(300));
  // Prototype keys must not have polluted anything.
  assert.equal(({} as Record<string, unknown>).x, undefined);
  assert.equal(({} as Record<string, unknown>).y, undefined);
});

test('huge and deeply nested bodies are refused cleanly', async () => {
  const deepArray = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  const deepObject = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  const deepAnd = (n: number): string => '{"and":['.repeat(n) + '{"=":{"id":"x"}}' + ']}'.repeat(n);
  const bodies: [string, string][] = [
    ['deep array 10k', deepArray(10_000)],
    ['deep array 100k', deepArray(100_000)],
    ['deep object 50k', deepObject(50_000)],
    ['deep search filter 5k', deepAnd(5000)],
    ['deep in a field', `{"archive_policy_name": ${deepArray(20_000)}, "user_id": ${deepArray(20_000)}}`],
    ['deep measures', `[{"timestamp": 1600000000, "value": ${deepArray(20_000)}}]`],
    ['long name', JSON.stringify({ archive_policy_name: 'fz', name: 'n'.repeat(500_000), id: 'i'.repeat(300_000) })],
    ['long unit', JSON.stringify({ archive_policy_name: 'fz', unit: 'u'.repeat(500_000) })],
    ['many keys', JSON.stringify(Object.fromEntries(Array.from({ length: 20_000 }, (_v, i) => [`k${i}`, i])))],
    ['many definitions', JSON.stringify({ name: 'many', definition: Array.from({ length: 5000 }, (_v, i) => ({ granularity: `${i + 1}s`, points: 2 })) })],
    ['many measures, one timestamp', JSON.stringify(Array.from({ length: 20_000 }, () => ({ timestamp: 1_600_000_000, value: 1 })))],
    ['many or terms', JSON.stringify({ or: Array.from({ length: 20_000 }, (_v, i) => ({ '=': { id: `r${i}` } })) })],
    ['over the body limit', '[' + '0,'.repeat(600_000) + '0]'],
  ];
  for (const [label, raw] of bodies) {
    for (const [m, url] of BODY_ENDPOINTS()) {
      if (m === 'DELETE') continue;
      check(`${m} ${url} (${label})`, await api.call(m, url, { raw }));
    }
  }
  // Deep operations in the aggregates language, as JSON and as a string.
  // Written as text: V8's JSON.stringify itself overflows on 5000 levels.
  const op = '{"operations": ' + '["abs", '.repeat(5000) + `["metric", "${metricId}", "mean"]` + ']'.repeat(5000) + '}';
  check('POST /v1/aggregates (operations nested 5000 deep)', await api.call('POST', '/v1/aggregates', { raw: op }));
  check('POST /v1/aggregates (operations string nested 5000 deep)', await api.call('POST', '/v1/aggregates', { body: { operations: '(abs '.repeat(5000) + `(metric ${metricId} mean)` + ')'.repeat(5000) } }));
  check('POST /v1/aggregates (operations string of 100k parentheses)', await api.call('POST', '/v1/aggregates', { body: { operations: '('.repeat(100_000) } }));
  // Deep filters in the query-string language, long query strings and paths.
  const deepFilter = 'not '.repeat(5000) + 'id = "x"';
  check('POST /v1/search/resource/generic?filter=<5000 nots>', await api.call('POST', `/v1/search/resource/generic?filter=${enc(deepFilter)}`));
  check('POST /v1/search/resource/generic?filter=<20000 parentheses>', await api.call('POST', `/v1/search/resource/generic?filter=${'('.repeat(20_000)}`));
  check('GET /v1/metric?<many args>', await api.call('GET', '/v1/metric?' + Array.from({ length: 2000 }, (_v, i) => `name=n${i}`).join('&')));
  check('GET /v1/metric/<long id>', await api.call('GET', '/v1/metric/' + 'x'.repeat(5000)));
  check('GET /v1/metric?limit=<huge>', await api.call('GET', '/v1/metric?limit=' + '9'.repeat(400)));
});

test('names with lone surrogates (valid JSON, not valid UTF-16) are not a 5xx', async () => {
  const defn = '[{"granularity": "1s", "points": 10}]';
  for (const [i, lone] of ['\\ud800', '\\udfff', 'a\\udc00b'].entries()) {
    const cases: [string, string, string][] = [
      ['POST', '/v1/archive_policy', `{"name": "${lone}", "definition": ${defn}}`],
      ['POST', '/v1/archive_policy_rule', `{"name": "${lone}${i}", "metric_pattern": "${lone}", "archive_policy_name": "fz"}`],
      ['POST', '/v1/metric', `{"archive_policy_name": "fz", "name": "${lone}", "unit": "${lone}"}`],
      ['POST', '/v1/resource_type', `{"name": "${lone}"}`],
      ['POST', '/v1/resource/generic', `{"id": "${lone}", "user_id": "${lone}"}`],
    ];
    for (const [m, url, raw] of cases) {
      if (served(url)) check(`${m} ${url} ${raw}`, await api.call(m, url, { raw }));
    }
  }
});

test('after the fuzzing the API still serves normal requests', async () => {
  const r = await api.call('GET', `/v1/metric/${metricId}/measures?refresh=true`);
  assert.equal(r.status, 200, r.text);
  const s = await api.call('GET', '/v1/status');
  assert.equal(s.status, 200, s.text);
  assert.deepEqual(violations, []);
  const growth = heapAfterGc() - heapBefore;
  assert.ok(growth < HEAP_GROWTH_LIMIT, `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB over the fuzzing`);
});
