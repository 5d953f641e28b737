// Agents of one process sharing sources through the local membership driver, publishing to
// a real Tally API: each source polled by one live agent, taken over when an agent stops
// or goes silent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GnocchiClient, InjectTransport } from '@tally/client';
import { LocalMembership } from '@tally/coordination';
import { startTestApi } from '@tally/rest/test-util';
import { Agent } from './agent.js';
import { parseAgentConfig } from './config.js';

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A plugin module of the test's own: counts its polls per source in a global the test reads.
const PLUGIN = `
const polls = (globalThis.__agentTestPolls ??= {});
export default {
  name: 'counter',
  create(options) {
    const source = options.source;
    return {
      name: 'counter', meters: [{ name: 'polls', unit: 'poll', type: 'cumulative', resourceType: 'generic' }], resourceTypes: [],
      async discover() { return { targets: [source] }; },
      async poll() {
        polls[source] = (polls[source] ?? 0) + 1;
        return [{ meter: 'polls', unit: 'poll', type: 'cumulative', volume: polls[source], timestamp: BigInt(Date.now()) * 1000000n,
                  resource: { id: 'agent-test-' + source, type: 'generic', attributes: {} } }];
      },
      async close() {},
    };
  },
};
`;

test('three agents split the sources, each polled by one; a stopped and a silent agent\'s sources are taken over', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-agents-'));
  const api = await startTestApi();
  t.after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'counter.mjs'), PLUGIN);
  const names = Array.from({ length: 9 }, (_v, i) => `s${i}`);
  writeFileSync(join(dir, 'polling.yaml'), `sources:\n${names.map((n) => `  - {name: ${n}, interval: 1, pollster: ./counter.mjs, meters: ["*"], options: {source: ${n}}}\n`).join('')}health_interval: 0\n`);
  const config = parseAgentConfig(readFileSync(join(dir, 'polling.yaml'), 'utf8'), join(dir, 'polling.yaml'));
  const transport = new InjectTransport(async (req) => {
    const res = await api.app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, payload: req.payload });
    return { statusCode: res.statusCode, headers: res.headers, rawPayload: res.rawPayload };
  }, { auth: { type: 'basic', user: 'admin' } });
  const client = new GnocchiClient({ transport });
  const memberships = ['a', 'b', 'c'].map(() => new LocalMembership({ dir: join(dir, 'coordination') }));
  const agents = await Promise.all(['a', 'b', 'c'].map((name, i) => Agent.start({
    config, client, dataDir: join(dir, name), name, membership: memberships[i], heartbeatMs: 50, membershipTimeoutMs: 500,
    log: () => undefined, publishRetryBaseMs: 20, publishRetryMaxMs: 100,
  })));
  const live = new Set([0, 1, 2]);
  const exactlyOnce = (): boolean => {
    const owned = [...live].flatMap((i) => agents[i].owned);
    return owned.length === names.length && new Set(owned).size === names.length;
  };
  await until('the sources to be shared by three', () => exactlyOnce() && [...live].every((i) => agents[i].owned.length > 0));
  const polls = (): Record<string, number> => (globalThis as unknown as { __agentTestPolls?: Record<string, number> }).__agentTestPolls ?? {};
  await until('every source polled', () => names.every((n) => (polls()[n] ?? 0) >= 1));

  // b stops: its sources move at once.
  await agents[1].stop();
  live.delete(1);
  await until('a and c to share everything', exactlyOnce, 2_000);

  // c goes silent (its membership stops heartbeating, as a killed process's would): a takes all within the timeout.
  const t0 = Date.now();
  memberships[2].abandon();
  await agents[2].stop();
  live.delete(2);
  await until('a to own every source', () => agents[0].owned.length === names.length, 3_000);
  assert.ok(Date.now() - t0 >= 400, 'taken over after the membership timeout, not before');
  const before = { ...polls() };
  await new Promise((r) => setTimeout(r, 2_200));
  for (const n of names) assert.ok(polls()[n] > before[n], `${n} polled by the last agent`);
  // Every source's counter reached the store as one resource with its metric.
  await agents[0].stop();
  for (const n of names) {
    const r = await client.resource.get('generic', `agent-test-${n}`) as unknown as { metrics: Record<string, string> };
    assert.ok(r.metrics.polls, n);
  }
  await memberships[0].close();
  await memberships[1].close();
});

test('publish_retry_max bounds the publisher\'s wait between tries while the store is away', { timeout: 20_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-agent-retry-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'counter.mjs'), PLUGIN);
  /** Calls the store receives in the 2 s after its first, with every call refused (the store is away). */
  async function triesIn2s(name: string, extra: string): Promise<number> {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, `sources:\n  - {name: r-${name}, interval: 1, pollster: ./counter.mjs, meters: ["*"], options: {source: r-${name}}}\nhealth_interval: 0\n${extra}`);
    const calls: number[] = [];
    const transport = new InjectTransport(async () => {
      calls.push(Date.now());
      throw new Error('connection refused');
    }, { auth: { type: 'basic', user: 'admin' } });
    const agent = await Agent.start({
      config: parseAgentConfig(readFileSync(file, 'utf8'), file), client: new GnocchiClient({ transport }), dataDir: join(dir, name), name,
      membership: new LocalMembership({ dir: join(dir, `coordination-${name}`) }), log: () => undefined, stopTimeoutMs: 100,
    });
    try {
      await until('the first call to the store', () => calls.length > 0, 5_000);
      await new Promise((r) => setTimeout(r, 2_000));
      return calls.filter((c) => c - calls[0] <= 2_000).length;
    } finally {
      await agent.stop();
    }
  }
  // Waits of at most 0.2 s: about twenty tries in two seconds, at least ten.
  const bounded = await triesIn2s('bounded', 'publish_retry_max: 0.2\n');
  assert.ok(bounded >= 8, `${bounded} tries in 2 s with publish_retry_max 0.2`);
  // The default starts at a second and doubles to a minute: a few tries at most.
  const dflt = await triesIn2s('default', '');
  assert.ok(dflt <= 5, `${dflt} tries in 2 s by default`);
});
