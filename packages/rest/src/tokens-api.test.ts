// Token mode end to end over the real API: who may do what, and one project never sees,
// lists, searches, aggregates or changes another project's resources and metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SqliteUserStore } from './users-sqlite.js';
import { StoreTokenVerifier, issueToken } from './tokens.js';
import { startTestApi } from './test-util.js';

interface Env {
  app: FastifyInstance;
  tokens: Record<'root' | 'alice' | 'al2' | 'eve', string>;
  ids: Record<'root' | 'alice' | 'al2' | 'eve', string>;
  close(): Promise<void>;
}

let env: Env;

async function start(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-token-api-'));
  const users = await SqliteUserStore.open(join(dir, 'users.sqlite'));
  const people = [['root', 'ops', 'admin'], ['alice', 'acme', 'member'], ['al2', 'acme', 'member'], ['eve', 'evil', 'member']] as const;
  const tokens = {} as Env['tokens'];
  const ids = {} as Env['ids'];
  for (const [name, projectId, role] of people) {
    ids[name] = (await users.createUser({ name, projectId, role })).id;
    tokens[name] = (await issueToken(users, name)).token;
  }
  const api = await startTestApi({ authMode: 'token' }, { tokens: new StoreTokenVerifier(users) });
  return {
    app: api.app, tokens, ids,
    async close() {
      await api.close();
      await users.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function as(who: keyof Env['tokens'] | null, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
  const h: Record<string, string> = { accept: 'application/json', ...headers };
  if (who) h.authorization = `Bearer ${env.tokens[who]}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await env.app.inject({ method: method as 'GET', url, headers: h, payload: body === undefined ? undefined : JSON.stringify(body) });
  let json: unknown;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json };
}

before(async () => {
  env = await start();
  assert.equal((await as('root', 'POST', '/v1/archive_policy', { name: 'low', aggregation_methods: ['mean', 'count'], definition: [{ granularity: '1s', points: 100 }] })).status, 201);
});
after(async () => env.close());

test('token mode: no token, a bad token or a claimed name is 401; the version document stays public', async () => {
  assert.equal((await as(null, 'GET', '/v1/metric')).status, 401);
  assert.equal((await as(null, 'GET', '/v1/metric', undefined, { authorization: `Bearer ${env.tokens.alice}x` })).status, 401);
  assert.equal((await as(null, 'GET', '/v1/status', undefined, { authorization: 'Basic ' + Buffer.from('admin:').toString('base64') })).status, 401);
  assert.equal((await as(null, 'GET', '/v1/status', undefined, { 'x-user-id': 'root', 'x-project-id': 'ops', 'x-roles': 'admin' })).status, 401);
  assert.equal((await as(null, 'GET', '/')).status, 200);
  // Gnocchi clients: HTTP basic with the token as password, any user name; keystone-style header.
  const basic = 'Basic ' + Buffer.from(`whoever:${env.tokens.root}`).toString('base64');
  assert.equal((await as(null, 'GET', '/v1/status', undefined, { authorization: basic })).status, 200);
  assert.equal((await as(null, 'GET', '/v1/status', undefined, { 'x-auth-token': env.tokens.root })).status, 200);
  // gnocchiclient's gnocchi-basic plugin sends "USER:" only: the token as user name.
  const gnocchiBasic = 'basic ' + Buffer.from(`${env.tokens.root}:`).toString('base64');
  assert.equal((await as(null, 'GET', '/v1/status', undefined, { authorization: gnocchiBasic })).status, 200);
  assert.equal((await as('alice', 'GET', '/v1/status')).status, 403);
});

test('token mode: only admins manage archive policies, their rules and resource types', async () => {
  const ap = { name: 'mine', definition: [{ granularity: '1s', points: 10 }] };
  assert.equal((await as('alice', 'POST', '/v1/archive_policy', ap)).status, 403);
  assert.equal((await as('root', 'POST', '/v1/archive_policy', ap)).status, 201);
  assert.equal((await as('alice', 'PATCH', '/v1/archive_policy/mine', { definition: [{ granularity: '1s', points: 20 }] })).status, 403);
  assert.equal((await as('eve', 'DELETE', '/v1/archive_policy/mine')).status, 403);
  assert.equal((await as('alice', 'POST', '/v1/archive_policy_rule', { name: 'r', metric_pattern: 'x.*', archive_policy_name: 'mine' })).status, 403);
  assert.equal((await as('root', 'POST', '/v1/archive_policy_rule', { name: 'r', metric_pattern: 'x.*', archive_policy_name: 'mine' })).status, 201);
  assert.equal((await as('eve', 'DELETE', '/v1/archive_policy_rule/r')).status, 403);
  assert.equal((await as('alice', 'POST', '/v1/resource_type', { name: 'thing' })).status, 403);
  assert.equal((await as('root', 'POST', '/v1/resource_type', { name: 'thing' })).status, 201);
  assert.equal((await as('eve', 'PATCH', '/v1/resource_type/thing', [{ op: 'add', path: '/attributes/x', value: { type: 'string', required: false } }], { 'content-type': 'application/json-patch+json' })).status, 403);
  assert.equal((await as('eve', 'DELETE', '/v1/resource_type/thing')).status, 403);
  assert.equal((await as('alice', 'GET', '/v1/archive_policy/mine')).status, 200, 'reading them is for everyone');
});

test('token mode: metrics belong to the project; another project can neither see nor touch them', async () => {
  const created = await as('alice', 'POST', '/v1/metric', { archive_policy_name: 'low', name: 'cpu' });
  assert.equal(created.status, 201);
  const m = created.json as { id: string; creator: string; created_by_user_id: string; created_by_project_id: string };
  assert.equal(m.creator, `${env.ids.alice}:acme`);
  assert.equal(m.created_by_user_id, env.ids.alice);
  assert.equal(m.created_by_project_id, 'acme');
  const measures = [{ timestamp: '2026-01-01T00:00:00', value: 1 }, { timestamp: '2026-01-01T00:00:01', value: 3 }];
  // Same project: another member may read and write.
  assert.equal((await as('al2', 'GET', `/v1/metric/${m.id}`)).status, 200);
  assert.equal((await as('al2', 'POST', `/v1/metric/${m.id}/measures`, measures)).status, 202);
  assert.equal((await as('alice', 'GET', `/v1/metric/${m.id}/measures?refresh=true`)).status, 200);
  // Another project: nothing.
  assert.equal((await as('eve', 'GET', `/v1/metric/${m.id}`)).status, 403);
  assert.equal((await as('eve', 'GET', `/v1/metric/${m.id}/measures`)).status, 403);
  assert.equal((await as('eve', 'POST', `/v1/metric/${m.id}/measures`, measures)).status, 403);
  assert.equal((await as('eve', 'DELETE', `/v1/metric/${m.id}`)).status, 403);
  assert.equal((await as('eve', 'POST', '/v1/batch/metrics/measures', { [m.id]: measures })).status, 403);
  const listed = (who: 'eve' | 'al2' | 'root') => as(who, 'GET', '/v1/metric').then((r) => (r.json as { id: string }[]).map((x) => x.id));
  assert.ok(!(await listed('eve')).includes(m.id));
  assert.ok((await listed('al2')).includes(m.id));
  assert.ok((await listed('root')).includes(m.id));
  assert.ok(!((await as('eve', 'GET', `/v1/metric?creator=${env.ids.alice}:acme`)).json as { id: string }[]).some((x) => x.id === m.id));
  // Aggregating another project's metric is refused like reading it.
  assert.equal((await as('eve', 'GET', `/v1/aggregation/metric?metric=${m.id}`)).status, 403);
  assert.equal((await as('eve', 'POST', '/v1/aggregates', { operations: ['metric', m.id, 'mean'] })).status, 403);
  assert.equal((await as('al2', 'POST', '/v1/aggregates', { operations: ['metric', m.id, 'mean'] })).status, 200);
});

test('token mode: resources of a project are invisible to others (get, list, search, history, aggregates) and unchangeable', async () => {
  const rid = 'a0c87a6c-0e1c-4a4f-93a9-3f1d5f5b0001';
  const created = await as('alice', 'POST', '/v1/resource/generic', { id: rid, project_id: 'acme', metrics: { cpu: { archive_policy_name: 'low' } } });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const metricId = (created.json as { metrics: Record<string, string> }).metrics.cpu;
  const ids = (r: { json: unknown }) => (r.json as { id: string }[]).map((x) => x.id);
  assert.equal((await as('al2', 'GET', `/v1/resource/generic/${rid}`)).status, 200);
  assert.equal((await as('eve', 'GET', `/v1/resource/generic/${rid}`)).status, 403);
  assert.equal((await as('eve', 'GET', `/v1/resource/generic/${rid}/history`)).status, 403);
  assert.equal((await as('eve', 'GET', `/v1/resource/generic/${rid}/metric/cpu/measures`)).status, 403);
  assert.equal((await as('eve', 'POST', `/v1/resource/generic/${rid}/metric/cpu/measures`, [{ timestamp: '2026-01-01T00:00:00', value: 1 }])).status, 403);
  assert.equal((await as('eve', 'PATCH', `/v1/resource/generic/${rid}`, { user_id: 'eve' })).status, 403);
  assert.equal((await as('eve', 'POST', `/v1/resource/generic/${rid}/metric`, { mem: { archive_policy_name: 'low' } })).status, 403);
  assert.equal((await as('eve', 'DELETE', `/v1/resource/generic/${rid}`)).status, 403);
  assert.ok(!ids(await as('eve', 'GET', '/v1/resource/generic')).includes(rid));
  assert.ok(ids(await as('al2', 'GET', '/v1/resource/generic')).includes(rid));
  assert.ok(!ids(await as('eve', 'POST', '/v1/search/resource/generic', { '=': { id: rid } })).includes(rid));
  assert.ok(!ids(await as('eve', 'POST', '/v1/search/resource/generic', { '=': { project_id: 'acme' } })).includes(rid));
  assert.ok(ids(await as('root', 'POST', '/v1/search/resource/generic', { '=': { id: rid } })).includes(rid));
  // Search-driven aggregation only reaches the caller's resources: for eve, alice's resource
  // answers exactly as one that does not exist; for alice's project it is there.
  const aggregate = (who: 'eve' | 'al2', id: string) =>
    as(who, 'POST', '/v1/aggregates?groupby=project_id', { operations: '(metric cpu mean)', resource_type: 'generic', search: { '=': { id } } });
  const theirs = await aggregate('eve', rid);
  assert.deepEqual(theirs, await aggregate('eve', 'a0c87a6c-0e1c-4a4f-93a9-3f1d5f5b0999'));
  assert.ok(!JSON.stringify(theirs.json).includes('acme'));
  const ours = await aggregate('al2', rid);
  assert.equal(ours.status, 200, JSON.stringify(ours.json));
  assert.equal((ours.json as { group: { project_id: string } }[])[0].group.project_id, 'acme');
  assert.equal((await as('eve', 'GET', `/v1/aggregation/metric?metric=${metricId}`)).status, 403);
  // Same project: changes are allowed.
  assert.equal((await as('al2', 'PATCH', `/v1/resource/generic/${rid}`, { user_id: 'someone' })).status, 200);
  assert.equal((await as('alice', 'DELETE', `/v1/resource/generic/${rid}`)).status, 204);
});
