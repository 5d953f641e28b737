#!/usr/bin/env node
// Poison suite: nothing one user sends may break, hang or poison the server for the others.
//
// For each family of hostile inputs, user A (a non-admin where the API lets one send the
// input, `admin` where only an admin can) sends every candidate: a fixed list of known
// troublemakers, then inputs fast-check generates from the family's arbitrary (fixed seed,
// so a run can be replayed). Each candidate may answer anything below 500, but within
// --limit-ms; after every request `GET /` must answer within --hang-ms (the hang detector).
// Then user B runs an ordinary workflow, checked step by step against the same workflow run
// before any poison (ids and times normalised): a 5xx, a step slower than --step-ms or a
// changed answer fails the candidate. What A created is deleted (as admin) before the next
// candidate, so a failure names the candidate that caused it.
//
// A family is { name, user, setup?, candidates(ctx), generate() }: a candidate is
// { label, steps: [spec | (ctx, answers) => spec | null], limitMs? } where a spec is
// { method, path, body | raw, headers?, user?, limitMs? }, or { label, run(ctx, h) } for
// the few that need their own choreography (ingest with concurrent readers).
//
// Exits 1 on any failure of the target under test. --vs-reference runs the same candidates
// against the real Gnocchi 4.4.2 too and prints both side by side; Gnocchi's failures are
// reported, not counted.
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  parseArgs, freePort, startTally, startGnocchi, requestUrl, waitAnswering, sleep, percentile, GNOCCHI_SCRIPT,
} from './lib.mjs';

const USAGE = `usage: node reliability/poison.mjs [options]
  --target URL      run against a running Gnocchi-compatible endpoint (basic auth: admin, and
                    any other name as a non-admin user) instead of starting bin/tally serve
  --vs-reference    also start the real Gnocchi 4.4.2 and run the same candidates against it
  --install         install the reference Gnocchi first (its script's --install; needs root)
  --only LIST       comma-separated family names or prefixes (rules,policies,types,resources,measures,search)
  --runs N          generated candidates per family (default 8)
  --seed N          fast-check seed of the generated candidates (default 4242)
  --limit-ms N      longest a candidate's request may take (default 5000)
  --step-ms N       longest a step of B's workflow may take (default 3000)
  --hang-ms N       longest GET / may take after any request (default 1000)
  --heavy N         measures of the ingest-while-reading candidates (default 200000; 0 skips them)
  --keep            keep the data folders and logs
  --verbose         print every step of failing workflows`;
const opts = parseArgs(process.argv.slice(2), {
  target: '', vsReference: false, install: false, only: '', runs: 8, seed: 4242, limitMs: 5000, stepMs: 3000,
  hangMs: 1000, heavy: 200_000, keep: false, verbose: false,
}, USAGE);

const ADMIN = 'admin';
const A = 'mallory';
const B = 'bob';
/** A path segment; text that is not valid Unicode goes as the UTF-8 of its replacement. */
const enc = (s) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
};
const parse = (a) => {
  try {
    return JSON.parse(a.body);
  } catch {
    return undefined;
  }
};
const ok2xx = (a) => a && a.status >= 200 && a.status < 300;
/** A JSON object text from entries, so that keys like `__proto__` stay own keys. */
const rawObject = (entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${typeof v === 'string' && v.startsWith('\u0001RAW') ? v.slice(4) : JSON.stringify(v)}`).join(',')}}`;
/** A value rawObject writes verbatim (NaN, 1e400, ...). */
const rawValue = (text) => `\u0001RAW${text}`;
const short = (s, n = 58) => {
  const t = String(s).replace(/[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};

// ------------------------------------------------------------ endpoints

/**
 * One server under test. `restart` (own servers only) replaces a hung or dead server by a
 * fresh one on a new data folder; with --target the suite can only wait for it.
 */
class Endpoint {
  /** `backgroundMs`: how long B waits for the workers to process its measures. */
  constructor(name, base, restart, backgroundMs = opts.stepMs + 3000) {
    this.name = name;
    this.base = base;
    this.restartFn = restart;
    this.restarts = 0;
    this.backgroundMs = backgroundMs;
  }
  req(method, path, o = {}) {
    return requestUrl(this.base, method, path, { timeoutMs: opts.limitMs + 2000, ...o });
  }
  async alive() {
    const r = await requestUrl(this.base, 'GET', '/', { user: null, timeoutMs: opts.hangMs });
    return r.status === 200 ? null : r.error ?? `status ${r.status}`;
  }
  /** Waits for the server to answer again; restarts it when it is ours. Returns what happened. */
  async recover() {
    const t0 = Date.now();
    const patience = this.restartFn ? 3000 : 60_000;
    while (Date.now() - t0 < patience) {
      if (!(await this.alive())) return `recovered after ${Date.now() - t0} ms`;
      await sleep(250);
    }
    if (!this.restartFn) return `still not answering after ${patience} ms`;
    await this.restart();
    return `still hung after ${patience} ms: restarted on a fresh data folder`;
  }
  async restart() {
    this.base = await this.restartFn();
    this.restarts++;
  }
}

async function ownTally(work) {
  let proc = null;
  let n = 0;
  const start = async () => {
    if (proc) await proc.kill('SIGKILL');
    const port = await freePort();
    const dir = join(work, `tally-${n++}`);
    proc = startTally('serve', { dataDir: join(dir, 'data'), port, logDir: work, name: 'serve', extra: ['--processing-interval', '100'] });
    const base = `http://127.0.0.1:${port}`;
    await waitAnswering(base, { proc, timeoutMs: 30_000 });
    return base;
  };
  const base = await start();
  return { ep: new Endpoint('tally', base, start), stop: () => proc?.kill('SIGKILL') };
}

async function ownGnocchi(work) {
  if (opts.install) {
    const r = spawnSync('bash', [GNOCCHI_SCRIPT, '--install'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('installing the reference Gnocchi failed');
  }
  let proc = null;
  let n = 0;
  const start = async () => {
    if (proc) await proc.kill('SIGTERM');
    const port = await freePort();
    proc = startGnocchi({ port, dataDir: join(work, `gnocchi-${n++}`), logDir: work });
    const base = `http://127.0.0.1:${port}`;
    await waitAnswering(base, { proc, timeoutMs: 120_000 });
    return base;
  };
  const base = await start();
  // Gnocchi's metricd finds new measures by polling its sacks: give it more time than Tally's
  // workers, which the API wakes.
  return { ep: new Endpoint('gnocchi', base, start, 15_000), stop: () => proc?.kill('SIGTERM') };
}

// ------------------------------------------------------------ B's ordinary workflow

const B_MEASURES = Array.from({ length: 6 }, (_v, i) => ({ timestamp: `2024-01-01T00:0${i}:00+00:00`, value: i * 1.5 + 1 }));
const READER_MEASURES = Array.from({ length: 12 }, (_v, i) => ({ timestamp: `2024-02-01T00:${String(i * 5).padStart(2, '0')}:00+00:00`, value: (i * 7) % 5 }));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NOW_KEYS = new Set(['revision_start', 'started_at', 'revision_end', 'ended_at']);
/** Lists that are sets: Gnocchi writes them in its processes' hash order, which varies. */
const SET_KEYS = new Set(['aggregation_methods']);

/** Ids, run tags and creation times replaced by placeholders; sets sorted; everything else kept. */
function normalise(v, tag) {
  if (typeof v === 'string') return UUID.test(v) ? '<uuid>' : v.replaceAll(tag, '<tag>');
  if (Array.isArray(v)) return v.map((x) => normalise(x, tag));
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) {
      const key = UUID.test(k) ? '<uuid>' : k.replaceAll(tag, '<tag>');
      if (NOW_KEYS.has(k) && typeof v[k] === 'string') out[key] = '<time>';
      else if (SET_KEYS.has(k) && Array.isArray(v[k])) out[key] = normalise([...v[k]].sort(), tag);
      else out[key] = normalise(v[k], tag);
    }
    return out;
  }
  return v;
}

/** The shape of /v1/status: its counters move with everyone's work, its keys must not. */
function statusShape(v) {
  if (Array.isArray(v)) return 'array';
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, ['measures_to_process', 'statistics'].includes(k) ? 'object' : statusShape(v[k])]));
  return typeof v;
}

/**
 * B's workflow. Returns the steps as { step, status, ms, norm, problem } and the problems
 * found without a baseline (5xx, slow, no answer, archive policies nobody created).
 */
async function workflow(ctx) {
  const { ep } = ctx;
  const k = ++ctx.k;
  const tag = `${ctx.tok}-${k}`;
  const steps = [];
  const problems = [];
  let hung = false;
  const step = async (name, user, method, path, o = {}, norm = (x) => normalise(x, tag), limit = opts.stepMs) => {
    if (hung) {
      steps.push({ step: name, status: 'skipped', ms: 0, norm: null });
      return { a: null, body: undefined };
    }
    const a = await ep.req(method, path, { user, timeoutMs: limit + 2000, ...o });
    const s = { step: name, status: a.status, ms: a.ms, norm: null };
    if (a.error) problems.push(`${name}: no answer (${a.error}) after ${a.ms} ms`);
    else if (a.status >= 500) problems.push(`${name}: ${a.status} ${short(a.body, 120)}`);
    if (a.ms > limit) problems.push(`${name}: ${a.ms} ms > ${limit} ms`);
    const down = await ep.alive();
    if (down) {
      // The rest would only time out too: stop here, the caller recovers the server.
      problems.push(`${name}: GET / did not answer within ${opts.hangMs} ms afterwards (${down})`);
      hung = true;
    }
    const body = parse(a);
    s.norm = body === undefined ? a.body.slice(0, 200) : norm(body);
    steps.push(s);
    return { a, body };
  };
  const skip = (name) => {
    steps.push({ step: name, status: 'skipped', ms: 0, norm: null });
  };

  // Archive policies: the ones B had before are unchanged; others were created by an admin's accepted request.
  await step('list archive policies', B, 'GET', '/v1/archive_policy', {}, (body) => {
    if (!Array.isArray(body)) return body;
    if (ctx.policyNames) {
      const extra = body.map((p) => p.name).filter((n) => !ctx.policyNames.has(n) && !ctx.acceptedPolicies.has(n));
      if (extra.length) problems.push(`list archive policies: entries nobody created: ${short(extra.join(', '), 120)}`);
    }
    const known = ctx.policyNames ?? new Set(body.map((p) => p.name));
    return normalise(body.filter((p) => known.has(p.name)).sort((x, y) => (x.name < y.name ? -1 : 1)), tag);
  });
  const m = await step('create metric (default rule)', B, 'POST', '/v1/metric', { body: { name: 'wf.cpu', unit: 'ns' } });
  const mid = m.body?.id;
  if (mid) {
    await step('post measures', B, 'POST', `/v1/metric/${mid}/measures`, { body: B_MEASURES });
    await step('read measures (refresh)', B, 'GET', `/v1/metric/${mid}/measures?refresh=true`);
  } else ['post measures', 'read measures (refresh)'].forEach(skip);
  if (ctx.readerId) await step("read B's older metric", B, 'GET', `/v1/metric/${ctx.readerId}/measures?refresh=true`);
  const r = await step('create resource with a metric', B, 'POST', '/v1/resource/generic', {
    body: { id: `wf-host-${tag}`, user_id: `wf-user-${tag}`, project_id: 'wf-project', metrics: { cpu: { archive_policy_name: 'low' } } },
  });
  const rid = r.body?.id;
  const rmid = r.body?.metrics?.cpu;
  if (rid && !hung) {
    await step('post measures to the resource', B, 'POST', `/v1/resource/generic/${rid}/metric/cpu/measures`, { body: B_MEASURES });
    // Processed in the background (no refresh): a poisoned backlog would hold it up.
    const t0 = Date.now();
    let last;
    do {
      last = await ep.req('GET', `/v1/resource/generic/${rid}/metric/cpu/measures`, { user: B, timeoutMs: opts.stepMs });
      if (Array.isArray(parse(last)) && parse(last).length > 0) break;
      await sleep(100);
    } while (Date.now() - t0 < ep.backgroundMs);
    const waited = Date.now() - t0;
    const body = parse(last);
    steps.push({ step: 'measures processed in the background', status: last.status, ms: waited, norm: body === undefined ? last.body.slice(0, 200) : normalise(body, tag) });
    if (last.status >= 500 || last.error) problems.push(`measures processed in the background: ${last.status || last.error}`);
    if (!(Array.isArray(body) && body.length > 0)) problems.push(`measures processed in the background: not processed after ${waited} ms`);
  } else ['post measures to the resource', 'measures processed in the background'].forEach(skip);
  await step('search resources', B, 'POST', '/v1/search/resource/generic', { body: { '=': { user_id: `wf-user-${tag}` } } });
  if (mid && rmid) {
    await step('aggregate B\'s metrics (ids)', B, 'POST', '/v1/aggregates?refresh=true', {
      body: { operations: `(aggregate mean (metric (${mid} mean) (${rmid} mean)))` },
    });
  } else skip('aggregate B\'s metrics (ids)');
  await step('aggregate B\'s resources (search)', B, 'POST', '/v1/aggregates', {
    body: { operations: '(metric cpu mean)', resource_type: 'generic', search: { '=': { user_id: `wf-user-${tag}` } } },
  });
  await step('status (admin)', ADMIN, 'GET', '/v1/status', {}, statusShape);
  if (rid) await step('delete resource', B, 'DELETE', `/v1/resource/generic/${rid}`);
  else skip('delete resource');
  if (mid) await step('delete metric', B, 'DELETE', `/v1/metric/${mid}`);
  else skip('delete metric');
  return { steps, problems, hung };
}

/** Problems of a workflow run against the baseline. */
function compareWorkflow(ctx, run) {
  const out = [...run.problems];
  const skipped = run.steps.filter((s) => s.status === 'skipped').map((s) => s.step);
  if (skipped.length) out.push(`skipped (an earlier step failed): ${skipped.join(', ')}`);
  for (const [i, s] of run.steps.entries()) {
    if (s.status === 'skipped') continue;
    const b = ctx.baseline[i];
    if (!b || b.step !== s.step) {
      out.push(`${s.step}: not in the baseline`);
      continue;
    }
    if (s.status !== b.status) out.push(`${s.step}: status ${s.status}, before ${b.status}`);
    else if (JSON.stringify(s.norm) !== JSON.stringify(b.norm)) out.push(`${s.step}: answer changed: ${diff(b.norm, s.norm)}`);
  }
  return out;
}

function diff(before, after) {
  const x = JSON.stringify(before) ?? 'undefined';
  const y = JSON.stringify(after) ?? 'undefined';
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  const from = Math.max(0, i - 30);
  return `before …${x.slice(from, i + 60)}… now …${y.slice(from, i + 60)}…`;
}

/** State created once per server: B's older metric, the baseline, the names of B's archive policies. */
async function setupServer(ctx) {
  ctx.k = 0;
  const m = await ctx.ep.req('POST', '/v1/metric', { user: B, body: { name: 'reader', archive_policy_name: 'low' } });
  if (m.status !== 201) throw new Error(`${ctx.ep.name}: B cannot create a metric: ${m.status} ${m.body}`);
  ctx.readerId = parse(m).id;
  const p = await ctx.ep.req('POST', `/v1/metric/${ctx.readerId}/measures`, { user: B, body: READER_MEASURES });
  if (p.status !== 202) throw new Error(`${ctx.ep.name}: B cannot post measures: ${p.status} ${p.body}`);
  const list = await ctx.ep.req('GET', '/v1/archive_policy', { user: B });
  ctx.policyNames = new Set(parse(list).map((x) => x.name));
  // Two runs before any poison: they must agree, or the normalisation misses something.
  const first = await workflow(ctx);
  const second = await workflow(ctx);
  if (first.problems.length) throw new Error(`${ctx.ep.name}: B's workflow fails before any poison:\n  ${first.problems.join('\n  ')}`);
  if (opts.verbose) console.log(`  B's workflow before any poison: ${second.steps.map((s) => `${s.step} ${s.status} ${s.ms} ms`).join('; ')}`);
  if (!ctx.baseline) {
    ctx.baseline = first.steps;
    const again = compareWorkflow(ctx, second);
    if (again.length) throw new Error(`${ctx.ep.name}: two runs of B's workflow before any poison differ:\n  ${again.join('\n  ')}`);
  } else {
    const again = compareWorkflow(ctx, second);
    if (again.length) throw new Error(`${ctx.ep.name}: B's workflow differs on the restarted server:\n  ${again.join('\n  ')}`);
  }
}

// ------------------------------------------------------------ running a candidate

/** What an accepted creation leaves behind, and the request (as admin) that deletes it. */
function undoOf(spec, a) {
  if (spec.method !== 'POST' || !ok2xx(a)) return null;
  const body = parse(a);
  if (!body || typeof body !== 'object') return null;
  const path = spec.path.split('?')[0];
  if (path === '/v1/metric' && body.id) return { method: 'DELETE', path: `/v1/metric/${body.id}` };
  const res = /^\/v1\/resource\/([^/]+)$/.exec(path);
  if (res && body.id) return { method: 'DELETE', path: `/v1/resource/${res[1]}/${body.id}` };
  if (typeof body.name !== 'string') return null;
  if (path === '/v1/archive_policy_rule') return { method: 'DELETE', path: `/v1/archive_policy_rule/${enc(body.name)}` };
  if (path === '/v1/archive_policy') return { method: 'DELETE', path: `/v1/archive_policy/${enc(body.name)}` };
  if (path === '/v1/resource_type') return { method: 'DELETE', path: `/v1/resource_type/${enc(body.name)}` };
  return null;
}

/**
 * Sends one request of a candidate, then the hang detector. Records the status in `res`;
 * a hang ends the candidate (the server is recovered or restarted).
 */
async function send(ctx, fam, res, spec) {
  const limit = spec.limitMs ?? opts.limitMs;
  const a = await ctx.ep.req(spec.method, spec.path, {
    body: spec.body, raw: spec.raw, headers: spec.headers, user: spec.user ?? fam.user, timeoutMs: limit + 2000,
  });
  res.statuses.push(a.error ? a.error : a.status);
  res.ms.push(a.ms);
  const what = `${spec.method} ${short(spec.path.split('?')[0], 40)}`;
  if (a.error) res.reasons.push(`${what}: no answer (${a.error}) after ${a.ms} ms`);
  // A 503 naming request-deadline-ms is the documented answer of a request that would
  // compute (or wait) longer than the deadline: a bound, not a failure.
  else if (a.status >= 500 && !(a.status === 503 && String(a.body).includes('request-deadline-ms'))) {
    res.reasons.push(`${what}: ${a.status} ${short(a.body, 100)}`);
  } else if (a.ms > limit) res.reasons.push(`${what}: answered in ${a.ms} ms > ${limit} ms`);
  if (spec.method === 'POST' && spec.path === '/v1/archive_policy' && a.status === 201) ctx.acceptedPolicies.add(parse(a)?.name);
  const undo = undoOf(spec, a);
  if (undo) ctx.undo.push(undo);
  const down = await ctx.ep.alive();
  if (down) {
    res.reasons.push(`after ${what}: GET / did not answer within ${opts.hangMs} ms (${down}); ${await ctx.ep.recover()}`);
    if (ctx.ep.base !== ctx.lastBase) {
      res.restarted = true;
      await reset(ctx, fam);
    }
  }
  return a;
}

/** After a restart: the new server gets B's state and the family's fixtures again. */
async function reset(ctx, fam) {
  ctx.lastBase = ctx.ep.base;
  ctx.undo = [];
  await setupServer(ctx);
  if (fam.setup) await fam.setup(ctx, fixtureHelper(ctx, fam));
}

function fixtureHelper(ctx, fam) {
  return async (spec, expect) => {
    const a = await ctx.ep.req(spec.method, spec.path, { body: spec.body, raw: spec.raw, headers: spec.headers, user: spec.user ?? fam.user, timeoutMs: 30_000 });
    if (expect !== undefined && a.status !== expect) throw new Error(`${ctx.ep.name}: fixture of ${fam.name}: ${spec.method} ${spec.path}: ${a.status || a.error} ${a.body.slice(0, 300)}`);
    return parse(a);
  };
}

async function runCandidate(ctx, fam, cand) {
  const res = { label: cand.label, statuses: [], ms: [], reasons: [], restarted: false };
  try {
    await judge(ctx, fam, cand, res);
  } catch (e) {
    res.reasons.push(`harness error: ${e.message}`);
  }
  return res;
}

async function judge(ctx, fam, cand, res) {
  ctx.seq++;
  ctx.undo = [];
  const answers = [];
  if (cand.run) {
    await cand.run(ctx, {
      send: (spec) => send(ctx, fam, res, spec),
      fail: (reason) => res.reasons.push(reason),
      res,
    });
  } else {
    for (const s of cand.steps) {
      if (res.restarted) break;
      const spec = typeof s === 'function' ? s(ctx, answers) : s;
      if (!spec) {
        res.statuses.push('-');
        answers.push(null);
        continue;
      }
      answers.push(await send(ctx, fam, res, { limitMs: cand.limitMs, ...spec }));
    }
  }
  if (!res.restarted) {
    const run = await workflow(ctx);
    for (const p of compareWorkflow(ctx, run)) res.reasons.push(`B: ${p}`);
    if (opts.verbose && res.reasons.length) for (const s of run.steps) console.log(`      ${s.step}: ${s.status} ${s.ms} ms`);
    if (run.hung) {
      res.reasons.push(`B: ${await ctx.ep.recover()}`);
      if (ctx.ep.base !== ctx.lastBase) {
        res.restarted = true;
        await reset(ctx, fam);
      }
    }
  }
  for (const u of ctx.undo.reverse()) {
    await ctx.ep.req(u.method, u.path, { user: ADMIN, timeoutMs: opts.limitMs + 2000 });
  }
  const down = await ctx.ep.alive();
  if (down) {
    res.reasons.push(`cleanup: GET / did not answer within ${opts.hangMs} ms (${down}); ${await ctx.ep.recover()}`);
    if (ctx.ep.base !== ctx.lastBase) await reset(ctx, fam);
  } else if (!res.restarted && res.reasons.length > 0) {
    // B is hurt once A's objects are gone (a poison that persists, or work a hung request
    // left behind): a fresh server keeps it from being blamed on the next candidates.
    const again = compareWorkflow(ctx, await workflow(ctx));
    if (again.length) {
      if (ctx.ep.restartFn) {
        await ctx.ep.restart();
        await reset(ctx, fam);
        res.reasons.push(`poison persists once A's objects are deleted (${again[0]}): restarted on a fresh data folder`);
      } else {
        res.reasons.push(`poison persists once A's objects are deleted (${again[0]}): later candidates may fail because of it`);
      }
    }
  }
}

const statusText = (r) => (r.statuses.length > 6 ? `${r.statuses.slice(0, 3).join(',')},…,${r.statuses.slice(-2).join(',')}` : r.statuses.join(','));
const msText = (r) => String(Math.max(0, ...r.ms));

async function runFamily(ctx, fam, fi) {
  ctx.lastBase = ctx.ep.base;
  const fixture = fixtureHelper(ctx, fam);
  if (fam.setup) await fam.setup(ctx, fixture);
  const generated = fc.sample(fam.generate(ctx), { seed: opts.seed + fi, numRuns: opts.runs })
    .map((c, i) => ({ ...c, label: `gen ${i}: ${c.label}` }));
  const results = [];
  for (const cand of [...fam.candidates(ctx), ...generated]) {
    const r = await runCandidate(ctx, fam, cand);
    results.push(r);
    if (ctx.live) {
      console.log(`  ${r.reasons.length ? 'FAIL' : 'ok  '} ${r.label.padEnd(60)} ${statusText(r).padEnd(16)} ${msText(r).padStart(6)} ms`);
      for (const reason of r.reasons) console.log(`         ${reason}`);
    }
  }
  return results;
}

// ------------------------------------------------------------ families

/** Numbers and number-like strings at the edges of every representation on the way. */
const NUM_EDGES = [0, -0, 1, -1, 0.5, 1e-9, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e300, -1e300, 5e-324];
const numEdge = fc.oneof(
  fc.constantFrom(...NUM_EDGES), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom('1e300', 'NaN', 'inf', '-1', '0', '1 ns', '0.000000001', '106653 days', '9223372036.854775807', '1e-9s', ''),
);
/** Characters that mean something to a glob, a regex, SQL LIKE, a path or a JSON pointer. */
const HOSTILE_CHARS = ['*', '?', '[', ']', '!', '-', '^', '\\', 'a', 'z', '.', '/', '(', ')', '|', '+', '$', '{', '}', '%', '_', '~', '\u0000', '\n', '\u{1F600}', 'é', ' '];
const hostileString = (maxLength) => fc.array(fc.constantFrom(...HOSTILE_CHARS), { maxLength }).map((a) => a.join(''));
/** Names that are properties of every JS object. */
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

// -- archive policy rules

/** Metric names some patterns take a backtracking matcher exponential time to reject. */
const RULE_PROBES = ['a'.repeat(40), `canary${'b'.repeat(40)}`, 'x'.repeat(250)];
function ruleCandidate(label, pattern, rawPattern) {
  return {
    label: `metric_pattern ${label}`,
    steps: [
      (ctx) => {
        const name = `pz-rule-${ctx.tok}-${ctx.seq}`;
        return rawPattern === undefined
          ? { method: 'POST', path: '/v1/archive_policy_rule', body: { name, metric_pattern: pattern, archive_policy_name: 'low' } }
          : { method: 'POST', path: '/v1/archive_policy_rule', raw: `{"name":"${name}","metric_pattern":${rawPattern},"archive_policy_name":"low"}` };
      },
      // Then a non-admin names metrics the rule is matched against.
      ...RULE_PROBES.map((name) => ({ method: 'POST', path: '/v1/metric', user: A, body: { name } })),
    ],
  };
}

const rules = {
  name: 'archive policy rules',
  key: 'rules',
  user: ADMIN,
  candidates: () => [
    ruleCandidate('[]]', '[]]'),
    ruleCandidate('[!]]', '[!]]'),
    ruleCandidate('[z-a]', '[z-a]'),
    ruleCandidate('canary[b-a]*', 'canary[b-a]*'),
    ruleCandidate('30 * then Z', `${'*'.repeat(30)}Z`),
    ruleCandidate('100 000 x', 'x'.repeat(100_000)),
    ruleCandidate('*? x 50 000 (100 000 chars)', '*?'.repeat(50_000)),
    ruleCandidate('*a x 50', '*a'.repeat(50)),
    ruleCandidate('*a x 40 then Z', `${'*a'.repeat(40)}Z`),
    ruleCandidate('? x 1000 then Z', `${'?'.repeat(1000)}Z`),
    ruleCandidate('[ x 1000', '['.repeat(1000)),
    ruleCandidate('regex syntax (?:a|a)*$', '(?:a|a)*$'),
    ruleCandidate('[\\]', '[\\]'),
    ruleCandidate('empty', ''),
    ruleCandidate('NUL', '\u0000'),
    ruleCandidate('lone surrogate', null, '"\\ud800"'),
  ],
  // A trailing literal Z (never inside a bracket expression: nothing can close it) keeps
  // generated patterns off B's metric names, so B's metrics keep the default rule.
  generate: () => hostileString(60).map((p) => ruleCandidate(short(`${p}Z`, 40), `${p}Z`)),
};

// -- archive policies

/** Creates the policy, reads it back, then a non-admin uses it: a metric, a measure, a read. */
function policyCandidate(label, make) {
  const nameOf = (ctx) => `pz-pol-${ctx.tok}-${ctx.seq}`;
  const created = (ans) => (ok2xx(ans[0]) ? parse(ans[0])?.name : undefined);
  return {
    label,
    steps: [
      (ctx) => ({ method: 'POST', path: '/v1/archive_policy', ...make(nameOf(ctx)) }),
      (_ctx, ans) => (created(ans) === undefined ? null : { method: 'GET', path: `/v1/archive_policy/${enc(created(ans))}`, user: A }),
      (_ctx, ans) => (created(ans) === undefined ? null : { method: 'POST', path: '/v1/metric', user: A, body: { archive_policy_name: created(ans) } }),
      (_ctx, ans) => (!ok2xx(ans[2]) ? null : { method: 'POST', path: `/v1/metric/${parse(ans[2]).id}/measures`, user: A, body: B_MEASURES }),
      (_ctx, ans) => (!ok2xx(ans[2]) ? null : { method: 'GET', path: `/v1/metric/${parse(ans[2]).id}/measures?refresh=true`, user: A }),
    ],
  };
}
const def1s = [{ granularity: '1s', points: 10 }];
const policies = {
  name: 'archive policies',
  key: 'policies',
  user: ADMIN,
  candidates: () => [
    policyCandidate('granularity 1 ns, timespan 292 years', (name) => ({ body: { name, definition: [{ granularity: 1e-9, timespan: '106653 days' }] } })),
    policyCandidate('granularity "0.000000001", points 9.2e18', (name) => ({ raw: `{"name":"${name}","definition":[{"granularity":"0.000000001","points":9214819200000000000}]}` })),
    policyCandidate('points 2^53+1', (name) => ({ raw: `{"name":"${name}","definition":[{"granularity":"1s","points":9007199254740993}]}` })),
    policyCandidate('back_window 2^63', (name) => ({ raw: `{"name":"${name}","back_window":9223372036854775808,"definition":${JSON.stringify(def1s)}}` })),
    policyCandidate('back_window 1e300', (name) => ({ body: { name, back_window: 1e300, definition: def1s } })),
    policyCandidate('back_window -1', (name) => ({ body: { name, back_window: -1, definition: def1s } })),
    policyCandidate('5000 definition items', (name) => ({ body: { name, definition: Array.from({ length: 5000 }, (_v, i) => ({ granularity: `${i + 1}s`, points: 10 })) } })),
    policyCandidate('3000 aggregation methods (repeated)', (name) => ({
      body: { name, definition: def1s, aggregation_methods: Array.from({ length: 3000 }, (_v, i) => ['mean', 'max', 'rate:sum', '-min', `${(i % 99) + 1}pct`][i % 5]) },
    })),
    policyCandidate('3000 unknown aggregation methods', (name) => ({ body: { name, definition: def1s, aggregation_methods: Array.from({ length: 3000 }, (_v, i) => `m${i}`) } })),
    policyCandidate('aggregation method 1000pct', (name) => ({ body: { name, definition: def1s, aggregation_methods: ['1000pct'] } })),
    policyCandidate('name of 100 KB', () => ({ body: { name: 'p'.repeat(100_000), definition: def1s } })),
    ...['__proto__', 'constructor', '', '/', '..', 'a\u0000b'].map((n) => policyCandidate(`name ${JSON.stringify(n)}`, () => ({ raw: `{"name":${JSON.stringify(n)},"definition":${JSON.stringify(def1s)}}` }))),
    policyCandidate('definition with granularity 0', (name) => ({ body: { name, definition: [{ granularity: 0, points: 10 }] } })),
  ],
  generate: () => fc.record({
    back_window: numEdge,
    definition: fc.array(fc.record({ granularity: numEdge, points: numEdge, timespan: numEdge }, { requiredKeys: [] }), { maxLength: 3 }),
    aggregation_methods: fc.array(fc.constantFrom('mean', '*', '-mean', '1000pct', '0pct', '99pct', 'rate:mean', 'rate:', '', 'rate:rate:mean', '__proto__'), { maxLength: 4 }),
  }, { requiredKeys: ['definition'] }).map((b) => policyCandidate(short(JSON.stringify(b), 50), (name) => ({ body: { name, ...b } }))),
};

// -- resource types and JSON Patch

const STR_ATTR = { type: 'string', required: false };
/** Creates the type, then a non-admin creates a resource of it (with `values`) and reads it. */
function typeCandidate(label, attributesRaw, valuesRaw = '{}', patch) {
  const nameOf = (ctx) => `pz-rt-${ctx.tok}-${ctx.seq}`;
  const steps = [(ctx) => ({ method: 'POST', path: '/v1/resource_type', raw: `{"name":"${nameOf(ctx)}","attributes":${attributesRaw}}` })];
  if (patch !== undefined) {
    steps.push((ctx, ans) => (!ok2xx(ans[0]) ? null : {
      method: 'PATCH', path: `/v1/resource_type/${nameOf(ctx)}`, raw: patch, headers: { 'content-type': 'application/json-patch+json' },
    }));
    steps.push((ctx, ans) => (!ok2xx(ans[0]) ? null : { method: 'GET', path: `/v1/resource_type/${nameOf(ctx)}`, user: A }));
  }
  steps.push((ctx, ans) => (!ok2xx(ans[0]) ? null : {
    method: 'POST', path: `/v1/resource/${nameOf(ctx)}`, user: A, raw: valuesRaw === '{}' ? `{"id":"${randomUUID()}"}` : `{"id":"${randomUUID()}",${valuesRaw.slice(1)}`,
  }));
  steps.push((ctx, ans) => {
    const made = ans.at(-1);
    return ok2xx(made) ? { method: 'GET', path: `/v1/resource/${nameOf(ctx)}/${parse(made).id}`, user: A } : null;
  });
  return { label, steps };
}
const ops = (list) => JSON.stringify(list);
const base = rawObject([['host', STR_ATTR]]);
const types = {
  name: 'resource types and JSON Patch',
  key: 'types',
  user: ADMIN,
  candidates: () => [
    typeCandidate('2100 attributes', rawObject(Array.from({ length: 2100 }, (_v, i) => [`a${i}`, STR_ATTR]))),
    typeCandidate('attributes __proto__, constructor, prototype', rawObject(['__proto__', 'constructor', 'prototype'].map((k) => [k, STR_ATTR])),
      rawObject([['__proto__', 'x'], ['constructor', 'y'], ['prototype', 'z']])),
    typeCandidate('attribute __proto__ (object value)', rawObject([['__proto__', STR_ATTR]]), '{"__proto__":{"polluted":"yes"}}'),
    ...[
      ['/attributes/__proto__/polluted', 'yes'],
      ['/attributes/__proto__/archive_policy_name', 'low'],
      ['/attributes/constructor/prototype/x', 'yes'],
      ['/attributes/__proto__', STR_ATTR],
      ['/attributes/constructor', STR_ATTR],
      ['/attributes/prototype', STR_ATTR],
      ['/__proto__/polluted', 'yes'],
      ['/attributes/toString', STR_ATTR],
    ].map(([path, value]) => typeCandidate(`PATCH add ${path}`, base, '{}', ops([{ op: 'add', path, value }]))),
    typeCandidate('PATCH remove /attributes/__proto__', base, '{}', ops([{ op: 'remove', path: '/attributes/__proto__' }])),
    typeCandidate('PATCH remove /attributes/__proto__/toString', base, '{}', ops([{ op: 'remove', path: '/attributes/__proto__/toString' }])),
    typeCandidate('PATCH replace /attributes/constructor/prototype/valueOf', base, '{}', ops([{ op: 'replace', path: '/attributes/constructor/prototype/valueOf', value: 'x' }])),
    typeCandidate('PATCH remove /attributes/constructor/prototype', base, '{}', ops([{ op: 'remove', path: '/attributes/constructor/prototype' }])),
    typeCandidate('PATCH 2100 adds', base, '{}', ops(Array.from({ length: 2100 }, (_v, i) => ({ op: 'add', path: `/attributes/p${i}`, value: STR_ATTR })))),
    typeCandidate('max_length 1e300', rawObject([['s', { type: 'string', required: false, max_length: 1e300 }]]), '{"s":"x"}'),
    typeCandidate('max_length 2^63', `{"s":{"type":"string","required":false,"max_length":9223372036854775808}}`, '{"s":"x"}'),
    typeCandidate('min_length > max_length', rawObject([['s', { type: 'string', required: false, min_length: 10, max_length: 1 }]]), '{"s":"xxxxx"}'),
    typeCandidate('number min > max', rawObject([['n', { type: 'number', required: false, min: 10, max: 1 }]]), '{"n":5}'),
    typeCandidate('number min NaN (bare)', '{"n":{"type":"number","required":false,"min":NaN}}', '{"n":5}'),
    typeCandidate('number max 1e400 (Infinity)', '{"n":{"type":"number","required":false,"min":-1e400,"max":1e400}}', '{"n":1e400}'),
    typeCandidate('number min "NaN"', '{"n":{"type":"number","required":false,"min":"NaN","max":"inf"}}', '{"n":"NaN"}'),
    typeCandidate('required attribute with a 2262 default', '{"d":{"type":"datetime","required":true,"options":{"fill":"2262-04-11T23:47:16.854775808"}}}'),
  ],
  generate: () => {
    const key = fc.oneof(fc.constantFrom(...PROTO_KEYS, 'id', 'type', 'metrics', 'revision_start', 'a-b', 'é', 'x'.repeat(70), ''), fc.string({ maxLength: 8 }));
    const attr = fc.oneof(
      fc.record({
        type: fc.constantFrom('string', 'number', 'uuid', 'bool', 'datetime', '__proto__'), required: fc.boolean(),
        min_length: numEdge, max_length: numEdge, min: numEdge, max: numEdge,
      }, { requiredKeys: ['type'] }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const segment = fc.constantFrom('attributes', ...PROTO_KEYS, 'polluted', 'name', 'host', '-', '0', '~0', '~1', '', 'archive_policy_name', 'length', 'state');
    const pointer = fc.array(segment, { maxLength: 4 }).map((a) => (a.length ? `/${a.join('/')}` : ''));
    const op = fc.record({ op: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test', 'x'), path: pointer, from: pointer, value: attr }, { requiredKeys: ['op', 'path'] });
    return fc.oneof(
      fc.array(fc.tuple(key, attr), { minLength: 1, maxLength: 4 }).map((entries) => {
        const raw = rawObject(entries);
        return typeCandidate(`type ${short(raw, 50)}`, raw, rawObject(entries.map(([k]) => [k, 'v'])));
      }),
      fc.array(op, { minLength: 1, maxLength: 4 }).map((list) => typeCandidate(`PATCH ${short(ops(list), 50)}`, base, '{}', ops(list))),
    );
  },
};

// -- resources and metric names

/** A non-admin creates a generic resource from `raw`, reads it back by the id it sent and by the id it got. */
function resourceCandidate(label, make, metricName) {
  let raw = '';
  return {
    label,
    steps: [
      (ctx) => {
        raw = make(ctx);
        return { method: 'POST', path: '/v1/resource/generic', raw };
      },
      () => {
        const sent = (() => {
          try {
            return JSON.parse(raw).id;
          } catch {
            return undefined;
          }
        })();
        return typeof sent === 'string' ? { method: 'GET', path: `/v1/resource/generic/${enc(sent)}` } : null;
      },
      (_ctx, ans) => (ok2xx(ans[0]) ? { method: 'GET', path: `/v1/resource/generic/${parse(ans[0]).id}` } : null),
      (_ctx, ans) => (ok2xx(ans[0]) && metricName !== undefined
        ? { method: 'POST', path: `/v1/resource/generic/${parse(ans[0]).id}/metric/${enc(metricName)}/measures`, body: B_MEASURES } : null),
      (_ctx, ans) => (ok2xx(ans[0]) && metricName !== undefined
        ? { method: 'GET', path: `/v1/resource/generic/${parse(ans[0]).id}/metric/${enc(metricName)}/measures?refresh=true` } : null),
    ],
  };
}
const withId = (idRaw, extra = '') => () => `{"id":${idRaw},"user_id":"u","project_id":"p"${extra}}`;
const withMetric = (name) => () => `{"id":"${randomUUID()}","metrics":${rawObject([[name, { archive_policy_name: 'low' }]])}}`;
const plainMetric = (label, name) => ({
  label,
  steps: [
    { method: 'POST', path: '/v1/metric', raw: `{"name":${JSON.stringify(name)},"archive_policy_name":"low"}` },
    (_ctx, ans) => (ok2xx(ans[0]) ? { method: 'POST', path: `/v1/metric/${parse(ans[0]).id}/measures`, body: B_MEASURES } : null),
    (_ctx, ans) => (ok2xx(ans[0]) ? { method: 'GET', path: `/v1/metric/${parse(ans[0]).id}/measures?refresh=true` } : null),
  ],
});
const ID_SHAPES = [
  ['UUID upper case', () => JSON.stringify(randomUUID().toUpperCase())],
  ['UUID in braces', () => JSON.stringify(`{${randomUUID()}}`)],
  ['UUID without dashes', () => JSON.stringify(randomUUID().replaceAll('-', ''))],
  ['urn:uuid:', () => JSON.stringify(`urn:uuid:${randomUUID()}`)],
  ['nil UUID', () => '"00000000-0000-0000-0000-000000000000"'],
  ['255 characters', () => JSON.stringify('r'.repeat(255))],
  ['256 characters', () => JSON.stringify('r'.repeat(256))],
  ['10 000 characters', () => JSON.stringify('r'.repeat(10_000))],
  ['"/"', () => '"/"'],
  ['"a/b"', () => '"a/b"'],
  ['".."', () => '".."'],
  ['"."', () => '"."'],
  ['NUL', () => '"\\u0000"'],
  ['"a\\u0000b"', () => '"a\\u0000b"'],
  ['non-BMP', () => '"\u{1F600}"'],
  ['lone surrogate', () => '"\\ud800"'],
  ['"%2F"', () => '"%2F"'],
  ['empty', () => '""'],
  ['number', () => '12'],
  ['__proto__', () => '"__proto__"'],
];
const resources = {
  name: 'resources and metric names',
  key: 'resources',
  user: A,
  candidates: () => [
    ...ID_SHAPES.map(([label, id]) => resourceCandidate(`id ${label}`, withId(id()))),
    {
      // B's next resource ids: ids other than UUIDs are B's own, whoever took them first.
      label: "ids B is about to use (squatting)",
      steps: [1, 2, 3].map((d) => (ctx) => ({ method: 'POST', path: '/v1/resource/generic', body: { id: `wf-host-${ctx.tok}-${ctx.k + d}`, user_id: 'u', project_id: 'p' } })),
    },
    resourceCandidate('original_resource_id of 100 000 chars', withId('"orig-long"', `,"original_resource_id":${JSON.stringify('o'.repeat(100_000))}`)),
    resourceCandidate('user_id of 100 000 chars', () => `{"id":"${randomUUID()}","user_id":${JSON.stringify('u'.repeat(100_000))}}`),
    ...['__proto__', 'constructor', 'toString', 'a/b', '/', '..', 'x'.repeat(10_000), '\u0000', ''].map((n) => resourceCandidate(`metric ${short(n, 20)} in metrics`, withMetric(n), n)),
    ...['__proto__', '/', 'a/b', 'x'.repeat(10_000)].map((n) => plainMetric(`metric named ${short(n, 20)}`, n)),
  ],
  generate: () => {
    const id = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.uuid().map((u) => u.toUpperCase()), hostileString(40), fc.constantFrom(...PROTO_KEYS));
    const name = fc.oneof(hostileString(30), fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom(...PROTO_KEYS));
    return fc.tuple(id, fc.array(name, { maxLength: 3 })).map(([i, names]) => resourceCandidate(
      `id ${short(i, 24)} metrics ${short(names.join('|'), 24)}`,
      () => `{"id":${JSON.stringify(i)},"metrics":${rawObject(names.map((n) => [n, { archive_policy_name: 'low' }]))}}`,
      names[0],
    ));
  },
};

// -- measures at the edges

/** A fresh metric of the all-methods 1 s policy gets `raw` measures, then A reads it (refresh). */
function measureCandidate(label, raw) {
  return {
    label,
    steps: [
      (ctx) => ({ method: 'POST', path: '/v1/metric', body: { archive_policy_name: ctx.fx.allPolicy } }),
      (_ctx, ans) => (ok2xx(ans[0]) ? { method: 'POST', path: `/v1/metric/${parse(ans[0]).id}/measures`, raw } : null),
      (_ctx, ans) => (ok2xx(ans[0]) ? { method: 'GET', path: `/v1/metric/${parse(ans[0]).id}/measures?refresh=true&aggregation=mean` } : null),
      (_ctx, ans) => (ok2xx(ans[0]) ? { method: 'GET', path: `/v1/metric/${parse(ans[0]).id}/measures?refresh=true&aggregation=rate:last` } : null),
    ],
  };
}
const TS_EDGES = [
  '"1677-09-21T00:12:43.145224192"', '"1677-09-21T00:12:43.145224191"', '"1677-01-01T00:00:00"', '"2262-04-11T23:47:16.854775807"',
  '"2262-04-11T23:47:16.854775808"', '"2262-04-12T00:00:00"', '9223372036.854775807', '9223372037', '-9223372037', '-1', '"-1"',
  '1e300', '"1e300"', '1e400', '"0001-01-01T00:00:00"', '"9999-12-31T23:59:59.999999999"', 'true', 'null', '"NaN"', '-62135596800',
];
const VALUE_EDGES = ['NaN', 'Infinity', '-Infinity', '"NaN"', '"nan"', '"inf"', '"-inf"', '1e309', '-1e309', 'true', 'false', 'null', '"1"', '{}', '[]', '1e-400', '5e-324', '1.7976931348623157e308'];
const measuresOf = (pairs) => `[${pairs.map(([t, v]) => `{"timestamp":${t},"value":${v}}`).join(',')}]`;

/**
 * A non-admin ingests `count` measures into one metric whose policy has every aggregation
 * method at 1 s while B keeps reading; B's read latency p99 must stay below 1 s until the
 * measures are processed (by the workers, or by A's own refresh read when `refresh`).
 */
function heavyCandidate(count, refresh) {
  return {
    label: `${count} measures, every method at 1 s${refresh ? ', then A reads with refresh' : ''}`,
    async run(ctx, h) {
      const m = await h.send({ method: 'POST', path: '/v1/metric', body: { archive_policy_name: ctx.fx.allPolicy } });
      const id = parse(m)?.id;
      if (!id) return h.fail('cannot create the metric');
      const lat = [];
      const bad = [];
      let stop = false;
      const reader = (async () => {
        for (let i = 0; !stop; i++) {
          const path = i % 2 ? '/v1/archive_policy/low' : `/v1/metric/${ctx.readerId}/measures`;
          const a = await ctx.ep.req('GET', path, { user: B, timeoutMs: 5000 });
          lat.push(a.ms);
          if (a.status !== 200) bad.push(a.status || a.error);
          await sleep(20);
        }
      })();
      const t0 = Date.now();
      const start = Date.UTC(2024, 2, 1) / 1000;
      for (let off = 0; off < count; off += 50_000) {
        const n = Math.min(50_000, count - off);
        const raw = JSON.stringify(Array.from({ length: n }, (_v, i) => ({ timestamp: start + off + i, value: (off + i) % 97 })));
        await h.send({ method: 'POST', path: `/v1/metric/${id}/measures`, raw, limitMs: 10_000 });
      }
      if (refresh) {
        await h.send({ method: 'GET', path: `/v1/metric/${id}/measures?refresh=true&aggregation=count&granularity=1&resample=86400`, limitMs: 12_000 });
      }
      // Until the workers are done with everything (or two minutes).
      let backlog = -1;
      while (Date.now() - t0 < 120_000) {
        const s = parse(await ctx.ep.req('GET', '/v1/status', { user: ADMIN, timeoutMs: 5000 }));
        backlog = s?.storage?.summary?.measures ?? -1;
        if (backlog === 0) break;
        await sleep(500);
      }
      stop = true;
      await reader;
      const sorted = [...lat].sort((x, y) => x - y);
      const p99 = percentile(sorted, 99);
      h.res.ms.push(Date.now() - t0);
      h.res.statuses.push(`B p99 ${p99} max ${sorted.at(-1)}`);
      if (backlog !== 0) h.fail(`measures still waiting after ${Math.round((Date.now() - t0) / 1000)} s: ${backlog}`);
      if (p99 > 1000) h.fail(`B's reads while processing: p99 ${p99} ms > 1000 ms (p50 ${percentile(sorted, 50)}, max ${sorted.at(-1)}, ${sorted.length} reads)`);
      if (bad.length) h.fail(`B's reads while processing: ${bad.length} failed (${[...new Set(bad)].join(', ')})`);
    },
  };
}

const measures = {
  name: 'measures at the edges',
  key: 'measures',
  user: A,
  async setup(ctx, fixture) {
    ctx.fx = { allPolicy: `pz-all-${ctx.tok}` };
    await fixture({ method: 'POST', path: '/v1/archive_policy', user: ADMIN, body: { name: ctx.fx.allPolicy, aggregation_methods: ['*'], definition: [{ granularity: '1s', timespan: '3 days' }] } }, 201);
    ctx.acceptedPolicies.add(ctx.fx.allPolicy);
  },
  candidates: () => [
    ...TS_EDGES.map((t) => measureCandidate(`timestamp ${t}`, measuresOf([[t, '1']]))),
    measureCandidate('1677 and 2262 in one post', measuresOf([['"1677-09-21T00:12:44"', '1'], ['"2262-04-11T23:47:16"', '2']])),
    ...VALUE_EDGES.map((v) => measureCandidate(`value ${v}`, measuresOf([['"2024-01-01T00:00:00"', v], ['"2024-01-01T00:00:01"', '2']]))),
    measureCandidate('bare NaN timestamp', '[{"timestamp":NaN,"value":1}]'),
    {
      label: "batch: A's metric and B's older metric",
      steps: [
        (ctx) => ({ method: 'POST', path: '/v1/metric', body: { archive_policy_name: ctx.fx.allPolicy } }),
        (ctx, ans) => (ok2xx(ans[0]) ? {
          method: 'POST', path: '/v1/batch/metrics/measures',
          raw: rawObject([[parse(ans[0]).id, JSON.parse(measuresOf([['"2024-01-01T00:00:00"', '1']]))], [ctx.readerId, [{ timestamp: '2024-02-01T00:00:00', value: 1e6 }]]]),
        } : null),
      ],
    },
    ...(opts.heavy > 0 ? [heavyCandidate(opts.heavy, false), heavyCandidate(opts.heavy, true)] : []),
  ],
  generate: () => {
    const ts = fc.oneof(
      fc.constantFrom(...TS_EDGES), fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }).map(String),
      fc.double().map((x) => (Number.isFinite(x) ? JSON.stringify(x) : String(x))),
      fc.date({ noInvalidDate: true }).map((d) => JSON.stringify(d.toISOString())),
      fc.string({ maxLength: 20 }).map((x) => JSON.stringify(x)),
    );
    const value = fc.oneof(fc.constantFrom(...VALUE_EDGES), fc.double().map((x) => (Number.isFinite(x) ? JSON.stringify(x) : String(x))), fc.bigInt({ min: -(2n ** 1100n), max: 2n ** 1100n }).map(String));
    return fc.array(fc.tuple(ts, value), { minLength: 1, maxLength: 4 }).map((pairs) => measureCandidate(short(measuresOf(pairs), 60), measuresOf(pairs)));
  },
};

// -- search and aggregates

const LONG = 'a'.repeat(200);
const WILD = 'a'.repeat(40);
const search = (filterRaw) => ({ method: 'POST', path: '/v1/search/resource/generic', raw: filterRaw });
const aggregates = (bodyRaw, query = '') => ({ method: 'POST', path: `/v1/aggregates${query}`, raw: bodyRaw });
const byResources = (ops) => aggregates(JSON.stringify({ operations: ops, resource_type: 'generic', search: { '=': { user_id: LONG } } }));
const nested = (open, inner, close, depth) => open.repeat(depth) + inner + close.repeat(depth);
const searchFamily = {
  name: 'search and aggregates',
  key: 'search',
  user: A,
  async setup(ctx, fixture) {
    ctx.fx = { metrics: [] };
    for (let i = 0; i < 2; i++) {
      const r = await fixture({ method: 'POST', path: '/v1/resource/generic', body: { id: randomUUID(), user_id: LONG, project_id: 'p', metrics: { cpu: { archive_policy_name: 'low' }, [WILD]: { archive_policy_name: 'low' } } } }, 201);
      ctx.fx.metrics.push(r.metrics.cpu);
      await fixture({ method: 'POST', path: `/v1/metric/${r.metrics.cpu}/measures`, body: B_MEASURES }, 202);
    }
  },
  candidates: (ctx) => {
    const two = () => `(aggregate mean (metric (${ctx.fx.metrics[0]} mean) (${ctx.fx.metrics[1]} mean)))`;
    const one = () => `(metric ${ctx.fx.metrics[0]} mean)`;
    return [
      ...[['50 % then b', `${'%'.repeat(50)}b`], ['%a x 50 then b', `${'%a'.repeat(50)}b`], ['50 % then 5000 a then b', `${'%'.repeat(50)}${'a'.repeat(5000)}b`],
        ['_% x 50 then b', `${'_%'.repeat(50)}b`]].map(([label, p]) => ({ label: `like ${label}`, steps: [search(JSON.stringify({ like: { user_id: p } }))] })),
      // Quotes are part of a name in Gnocchi's operations syntax: the quoted form names a
      // metric literally, the bare form is the wildcard.
      { label: 'aggregates wildcard "30 * then Z" (quoted)', steps: [byResources(`(metric ("${'*'.repeat(30)}Z" mean))`)] },
      { label: 'aggregates wildcard 30 * then Z', steps: [byResources(`(metric (${'*'.repeat(30)}Z mean))`)] },
      { label: 'aggregates wildcard *a x 40 then Z', steps: [byResources(`(metric (${'*a'.repeat(40)}Z mean))`)] },
      { label: 'aggregates wildcard ? x 1000', steps: [byResources(`(metric (${'?'.repeat(1000)} mean))`)] },
      { label: 'aggregates wildcard [z-a] and [!]]', steps: [byResources('(metric ([z-a] mean) ([!]] mean))')] },
      { label: 'operations nested 10 000 levels (string)', steps: [(c) => aggregates(JSON.stringify({ operations: nested('(negative ', `(metric ${c.fx.metrics[0]} mean)`, ')', 10_000) }))] },
      { label: 'operations nested 10 000 levels (lists)', steps: [(c) => aggregates(`{"operations":${nested('["negative",', `["metric","${c.fx.metrics[0]}","mean"]`, ']', 10_000)}}`)] },
      { label: 'operations 10 000 ( unbalanced', steps: [aggregates(JSON.stringify({ operations: '('.repeat(10_000) }))] },
      ...['1e308', '1e400', '-1e308', 'nan', '101', '9'.repeat(400)].map((v) => ({ label: `needed_overlap=${short(v, 20)}`, steps: [() => aggregates(JSON.stringify({ operations: two() }), `?needed_overlap=${v}`)] })),
      { label: 'aggregate over 10 000 references', steps: [() => aggregates(JSON.stringify({ operations: `(aggregate mean (metric ${Array.from({ length: 10_000 }, () => `(${ctx.fx.metrics[0]} mean)`).join(' ')}))` }))] },
      { label: 'search nested 100 000 deep (not)', steps: [search(nested('{"not":', '{"=":{"id":"x"}}', '}', 100_000))] },
      { label: 'search nested 100 000 deep (and)', steps: [search(nested('{"and":[', '{"=":{"id":"x"}}', ']}', 100_000))] },
      { label: 'search 100 000 siblings in or', steps: [search(`{"or":[${Array(100_000).fill('{"=":{"id":"x"}}').join(',')}]}`)] },
      { label: 'search {"=":{"__proto__":"x"}}', steps: [search('{"=":{"__proto__":"x"}}')] },
      { label: 'search {"__proto__":{"=":{"id":"x"}}}', steps: [search('{"__proto__":{"=":{"id":"x"}}}')] },
      { label: 'search {"and":{"__proto__":[]}}', steps: [search('{"and":{"__proto__":[]}}')] },
      { label: 'search in with 100 000 values', steps: [search(JSON.stringify({ in: { id: Array.from({ length: 100_000 }, (_v, i) => `r${i}`) } }))] },
      { label: 'aggregates search nested 100 000 deep', steps: [() => aggregates(`{"operations":"${one().replaceAll('"', '\\"')}","resource_type":"generic","search":${nested('{"not":', '{"=":{"id":"x"}}', '}', 100_000)}}`)] },
    ];
  },
  generate: (ctx) => {
    const attr = fc.constantFrom('id', 'user_id', 'project_id', 'started_at', 'revision_start', 'metrics', 'type', 'nope', ...PROTO_KEYS);
    const op = fc.constantFrom('=', '==', 'eq', '<', 'lt', '>', 'ge', '!=', 'ne', 'in', 'like', ...PROTO_KEYS);
    const val = fc.oneof(fc.constantFrom('%a%a%a%a%a%a%b', '%%%%%%%%%%b', null, true, 1e300, '', '2262-04-12', '\u0000', [], {}), fc.string({ maxLength: 10 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }));
    const leaf = fc.tuple(op, attr, val).map(([o, a, v]) => JSON.parse(rawObject([[o, JSON.parse(rawObject([[a, v]]))]])));
    const { filter } = fc.letrec((tie) => ({
      filter: fc.oneof({ depthSize: 'small', maxDepth: 6 }, leaf, fc.record({ and: fc.array(tie('filter'), { maxLength: 3 }) }),
        fc.record({ or: fc.array(tie('filter'), { maxLength: 3 }) }), fc.record({ not: tie('filter') })),
    }));
    const token = fc.constantFrom('(', ')', 'metric', 'aggregate', 'mean', 'negative', 'resample', 'rolling', 'clip', '+', '-', '**', 'abs',
      '"*Z"', '*Z', `${'*a'.repeat(20)}Z`, '[z-a]', '1e308', 'nan', 'cpu', '[', ']', '"', 'M');
    const opsString = fc.array(token, { maxLength: 25 }).map((t) => t.join(' '));
    return fc.oneof(
      filter.map((f) => ({ label: `search ${short(JSON.stringify(f), 50)}`, steps: [search(JSON.stringify(f))] })),
      fc.tuple(opsString, fc.option(filter)).map(([o, f]) => ({
        label: `aggregates ${short(o, 30)} ${f ? short(JSON.stringify(f), 20) : ''}`,
        steps: [() => aggregates(f ? JSON.stringify({ operations: o.replaceAll('M', ctx.fx.metrics[0]), resource_type: 'generic', search: f }) : JSON.stringify({ operations: o.replaceAll('M', ctx.fx.metrics[0]) }))],
      })),
    );
  },
};

const FAMILIES = [rules, policies, types, resources, measures, searchFamily];

// ------------------------------------------------------------ main

const wanted = opts.only ? opts.only.split(',').map((s) => s.trim()).filter(Boolean) : [];
const selected = (fam) => wanted.length === 0 || wanted.some((w) => fam.key.startsWith(w) || fam.name.startsWith(w));

async function runSuite(ep, live) {
  const ctx = { ep, tok: randomBytes(4).toString('hex'), k: 0, seq: 0, acceptedPolicies: new Set(), undo: [], live, lastBase: ep.base };
  const t0 = Date.now();
  await setupServer(ctx);
  const families = [];
  for (const [fi, fam] of FAMILIES.entries()) {
    if (!selected(fam)) continue;
    if (live) console.log(`\n== ${fam.name} (${ep.name}; candidates sent by ${fam.user}; verdict, candidate, statuses, slowest request)`);
    const f0 = Date.now();
    let results;
    try {
      results = await runFamily(ctx, fam, fi);
    } catch (e) {
      results = [{ label: 'family setup', statuses: [], ms: [], reasons: [e.message] }];
      if (live) console.log(`  FAIL family setup: ${e.message}`);
    }
    families.push({ fam, results, seconds: (Date.now() - f0) / 1000 });
  }
  return { families, restarts: ep.restarts, seconds: (Date.now() - t0) / 1000 };
}

function summary(name, suite) {
  let failed = 0;
  console.log(`\n${name}: ${suite.seconds.toFixed(0)} s, ${suite.restarts} restart(s) after a hang or crash`);
  for (const { fam, results, seconds } of suite.families) {
    const bad = results.filter((r) => r.reasons.length);
    failed += bad.length;
    console.log(`  ${fam.name.padEnd(32)} ${String(results.length).padStart(3)} candidates, ${String(bad.length).padStart(3)} failed (${seconds.toFixed(0)} s)`);
    for (const r of bad) console.log(`    FAIL ${r.label}  [${statusText(r)}, ${msText(r)} ms]: ${r.reasons[0]}${r.reasons.length > 1 ? ` (+${r.reasons.length - 1} more)` : ''}`);
  }
  return failed;
}

function sideBySide(t, g) {
  const cell = (r) => (r ? `${r.reasons.length ? 'FAIL' : 'ok'} ${statusText(r)} ${msText(r)}ms` : '-');
  for (const [i, tf] of t.families.entries()) {
    const gf = g.families[i];
    console.log(`\n== ${tf.fam.name}: Tally | Gnocchi 4.4.2`);
    console.log(`  ${'candidate'.padEnd(60)} ${'Tally'.padEnd(30)} Gnocchi`);
    const byLabel = new Map((gf?.results ?? []).map((r) => [r.label, r]));
    for (const r of tf.results) {
      const other = byLabel.get(r.label);
      console.log(`  ${r.label.padEnd(60)} ${cell(r).padEnd(30)} ${cell(other)}`);
      if (other?.reasons.length) console.log(`      gnocchi: ${other.reasons.slice(0, 2).join(' | ')}`);
    }
  }
}

const work = mkdtempSync(join(tmpdir(), 'tally-poison-'));
let code = 0;
try {
  const tally = opts.target ? { ep: new Endpoint('target', opts.target, null), stop: async () => {} } : await ownTally(work);
  const t = await runSuite(tally.ep, true);
  await tally.stop();
  if (opts.vsReference) {
    console.log('\n== starting the reference Gnocchi 4.4.2');
    const gn = await ownGnocchi(work);
    const g = await runSuite(gn.ep, true);
    await gn.stop();
    sideBySide(t, g);
    summary('Gnocchi 4.4.2 (reported, not counted)', g);
  }
  const failed = summary(opts.target ? opts.target : 'Tally', t);
  code = failed ? 1 : 0;
  console.log(failed ? `\n${failed} candidate(s) poison, break or hang the server (logs in ${work})` : '\nno candidate poisons, breaks or hangs the server');
} catch (e) {
  console.error(e.stack ?? e);
  code = 2;
}
if (opts.keep || code !== 0) console.log(`data and logs kept in ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exit(code);
