#!/usr/bin/env node
// Repro of the 5xx answers and non-Gnocchi error bodies found by packages/rest/src/fuzz.test.ts
// (run after `npx tsc -b`). Prints each case; exits 1 while any of them misbehaves.
import { startTestApi } from '../../packages/rest/dist/test-util.js';

const api = await startTestApi();
let bad = 0;
async function expect(label, method, url, opts, ok) {
  const r = await api.call(method, url, opts);
  let shape = false;
  try {
    const b = JSON.parse(r.text);
    shape = b.code === r.status && typeof b.title === 'string' && b.description !== undefined;
  } catch { /* not JSON */ }
  const good = ok(r, shape);
  if (!good) bad++;
  console.log(`${good ? 'ok  ' : 'BAD '} ${label}: ${r.status} ${r.text.slice(0, 160).replace(/\n/g, ' ')}`);
  return r;
}
const no5xx = (r, shape) => r.status < 500 && (r.status < 400 || shape);

const policies = async () => JSON.parse((await api.call('GET', '/v1/archive_policy')).text).map((p) => p.name);
await api.call('POST', '/v1/archive_policy', { body: { name: 'p', definition: [{ granularity: '1s', points: 10 }] } });
const before = await policies();
await expect('archive policy named with a lone surrogate', 'POST', '/v1/archive_policy',
  { raw: '{"name": "\\ud800", "definition": [{"granularity": "1s", "points": 10}]}' }, no5xx);
const created = (await policies()).filter((n) => !before.includes(n));
console.log(`${created.length ? 'BAD ' : 'ok  '}   ...policies created by that request: ${JSON.stringify(created)} (the name is stored as U+FFFD)`);
if (created.length) bad++;
await expect('archive policy rule named with a lone surrogate', 'POST', '/v1/archive_policy_rule',
  { raw: '{"name": "\\udc00", "metric_pattern": "*", "archive_policy_name": "p"}' }, no5xx);
await expect('timespan beyond int64 nanoseconds (points 1e15 at 1 s)', 'POST', '/v1/archive_policy',
  { body: { name: 'huge', definition: [{ granularity: '1s', points: 1e15 }] } }, no5xx);
await expect('undecodable path segment', 'GET', '/v1/archive_policy/%', {}, no5xx);
await expect('undecodable path segment (bad UTF-8)', 'DELETE', '/v1/archive_policy/%c3%28', {}, no5xx);
await expect('search filter with 20000 terms in one "or"', 'POST', '/v1/search/resource/generic',
  { body: { or: Array.from({ length: 20_000 }, (_v, i) => ({ '=': { id: `r${i}` } })) } }, no5xx);
await api.close();
process.exit(bad ? 1 : 0);
