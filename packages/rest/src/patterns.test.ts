// Shell patterns from users (archive policy rules, metric wildcards of /v1/aggregates) and
// LIKE patterns of searches, end to end: accepted whenever Python's fnmatch accepts them,
// matched in bounded time, refused at the door when over the length limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PATTERN_LENGTH } from '@tally/timeseries';
import { startTestApi, type TestApi } from './test-util.js';

async function withApi(fn: (api: TestApi) => Promise<void>): Promise<void> {
  const api = await startTestApi();
  try {
    for (const name of ['p-canary', 'p-za', 'p-close', 'p-notclose', 'p-star', 'p-stars']) {
      const r = await api.call('POST', '/v1/archive_policy', { body: { name, definition: [{ granularity: '1 minute', points: 10 }] } });
      assert.equal(r.status, 201);
    }
    await fn(api);
  } finally {
    await api.close();
  }
}

async function createRule(api: TestApi, name: string, pattern: string, policy: string): Promise<{ status: number; json: unknown }> {
  return api.call('POST', '/v1/archive_policy_rule', { body: { name, metric_pattern: pattern, archive_policy_name: policy } });
}

/** The policy POST /v1/metric picks for a metric named `name`, created by a non-admin user. */
async function policyFor(api: TestApi, name: string): Promise<string | number> {
  const r = await api.call('POST', '/v1/metric', { user: 'bob', body: { name } });
  if (r.status !== 201) return r.status;
  return (r.json as { archive_policy_name: string }).archive_policy_name;
}

test('rules Python accepts are accepted, and metric creation then picks the right policy', async () => {
  await withApi(async (api) => {
    // In precedence order (pattern descending): canary[b-a]*, [z-a], []], [!]], *.
    for (const [name, pattern, policy] of [
      ['canary', 'canary[b-a]*', 'p-canary'], ['za', '[z-a]', 'p-za'], ['close', '[]]', 'p-close'],
      ['notclose', '[!]]', 'p-notclose'], ['star', '*', 'p-star'],
    ]) {
      const r = await createRule(api, name, pattern, policy);
      assert.equal(r.status, 201, pattern);
      assert.deepEqual(r.json, { name, metric_pattern: pattern, archive_policy_name: policy });
    }
    assert.equal(await policyFor(api, ']'), 'p-close');
    assert.equal(await policyFor(api, 'z'), 'p-notclose'); // [z-a] matches nothing
    assert.equal(await policyFor(api, 'canaryb'), 'p-star'); // nor does canary[b-a]*
    assert.equal(await policyFor(api, 'canary'), 'p-star');
    assert.equal(await policyFor(api, 'cpu.util'), 'p-star');
    // The resource path resolves its metrics through the same rules.
    const r = await api.call('POST', '/v1/resource/generic', {
      user: 'bob', body: { id: '5a301761-aaaa-46e2-8900-8b4f6fe6675a', metrics: { ']': {}, 'x': {}, 'xy': {} } },
    });
    assert.equal(r.status, 201);
    const metrics = (r.json as { metrics: Record<string, string> }).metrics;
    const policies: Record<string, string> = {};
    for (const [name, id] of Object.entries(metrics)) {
      policies[name] = ((await api.call('GET', `/v1/metric/${id}`)).json as { archive_policy: { name: string } }).archive_policy.name;
    }
    assert.deepEqual(policies, { ']': 'p-close', x: 'p-notclose', xy: 'p-star' });
  });
});

test('a rule of 30 stars does not hold metric creation', async () => {
  await withApi(async (api) => {
    assert.equal((await createRule(api, 'stars', '*'.repeat(30) + 'Z', 'p-stars')).status, 201);
    assert.equal((await createRule(api, 'star', '*', 'p-star')).status, 201);
    const start = performance.now();
    assert.equal(await policyFor(api, 'a'.repeat(250)), 'p-star');
    assert.equal(await policyFor(api, 'a'.repeat(249) + 'Z'), 'p-stars');
    // Generous: backtracking takes minutes here.
    assert.ok(performance.now() - start < 5000);
  });
});

test('an over-long rule pattern is refused at creation with a 400', async () => {
  await withApi(async (api) => {
    const r = await createRule(api, 'long', 'a'.repeat(MAX_PATTERN_LENGTH + 1), 'p-star');
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, {
      code: 400, title: 'Bad Request',
      description: {
        cause: 'Invalid input',
        reason: `pattern is ${MAX_PATTERN_LENGTH + 1} characters long, more than the ${MAX_PATTERN_LENGTH} allowed for dictionary value @ data['metric_pattern']`,
        detail: ['metric_pattern'],
      },
    });
    assert.equal((await createRule(api, 'huge', '*'.repeat(100_000), 'p-star')).status, 400);
    assert.deepEqual((await api.call('GET', '/v1/archive_policy_rule')).json, []);
    // Creating metrics is unaffected.
    assert.equal((await createRule(api, 'star', '*', 'p-star')).status, 201);
    assert.equal(await policyFor(api, 'cpu'), 'p-star');
  });
});

test('aggregates: metric wildcards with Python set syntax, many stars, and over the limit', async () => {
  await withApi(async (api) => {
    const id = '7ad2bcc5-9b5f-4a8b-9bc7-2b0c2e1bd111';
    const names = [']', 'cpu]', 'cpu.util', 'b'.repeat(200)];
    const r = await api.call('POST', '/v1/resource/generic', {
      body: { id, metrics: Object.fromEntries(names.map((n) => [n, { archive_policy_name: 'p-star' }])) },
    });
    assert.equal(r.status, 201);
    const aggregate = (wildcard: string) => api.call('POST', '/v1/aggregates', {
      user: 'bob', body: { resource_type: 'generic', search: {}, operations: ['metric', wildcard, 'mean'] },
    });
    const matched = async (wildcard: string): Promise<string[] | number> => {
      const res = await aggregate(wildcard);
      if (res.status !== 200) return res.status;
      return Object.keys((res.json as { measures: Record<string, Record<string, unknown>> }).measures[id]).sort();
    };
    assert.deepEqual(await matched('[]]'), [']']);
    assert.deepEqual(await matched('cpu[]]'), ['cpu]']);
    assert.deepEqual(await matched('cpu[!]]*'), ['cpu.util']);
    assert.deepEqual(await matched('*[!]]'), ['b'.repeat(200), 'cpu.util']);
    const start = performance.now();
    // Nothing matches these: Gnocchi's "Metrics not found".
    for (const wildcard of ['[z-a]', 'cpu[b-a]*', '*'.repeat(30) + 'Z', '*b'.repeat(MAX_PATTERN_LENGTH / 2 - 1) + '*Z']) {
      const res = await aggregate(wildcard);
      assert.equal(res.status, 400, wildcard.slice(0, 10));
      assert.equal((res.json as { description: { cause: string } }).description.cause, 'Metrics not found');
    }
    assert.ok(performance.now() - start < 5000);
    const long = '*'.repeat(MAX_PATTERN_LENGTH + 1);
    const res = await aggregate(long);
    assert.equal(res.status, 400);
    assert.deepEqual((res.json as { description: unknown }).description, {
      cause: 'Invalid metric references',
      reason: `pattern is ${MAX_PATTERN_LENGTH + 1} characters long, more than the ${MAX_PATTERN_LENGTH} allowed`,
      detail: [[long, 'mean']],
    });
  });
});

test('search: an over-long like pattern is a 400 in the search errors format', async () => {
  await withApi(async (api) => {
    const r = await api.call('POST', '/v1/search/resource/generic', { body: { like: { original_resource_id: '%a'.repeat(600) } } });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, {
      code: 400, title: 'Bad Request',
      description: "Invalid value for field `original_resource_id': like pattern longer than 1024 characters",
    });
    const ok = await api.call('POST', '/v1/search/resource/generic', { body: { like: { original_resource_id: '%a'.repeat(500) } } });
    assert.deepEqual([ok.status, ok.json], [200, []]);
  });
});
