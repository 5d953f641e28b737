// The delivery worker against real webhook receivers (node:http servers on real ports).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Notifier, type NotifierOptions } from './notifier.js';
import type { NotifierLogger } from './deliver.js';
import { verifySignature } from './sign.js';
import { listAttempts, listDeliveries } from './history.js';
import { createSilence, deleteSilence } from './silences.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dialects, enqueueNow, notification, Receiver, selfSigned, until, type TestDatabase } from './test-support.js';

const sqlite = dialects()[0];

function fast(t: TestDatabase, over: Partial<NotifierOptions> = {}): Notifier {
  return new Notifier({
    database: t.database,
    pollIntervalMs: 20,
    timeoutMs: 2_000,
    leaseMs: 5_000,
    backoff: { baseMs: 30, maxMs: 150 },
    ...over,
  });
}

function python(script: string, input: string): string {
  const r = spawnSync('python3', ['-c', script], { input, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

async function withSetup(fn: (t: TestDatabase) => Promise<void>): Promise<void> {
  const t = await sqlite.open();
  try {
    await fn(t);
  } finally {
    await t.done();
  }
}

test('posts Aodh\'s body and headers, basic auth from the URL, a signature, and logs log:// actions', () => withSetup(async (t) => {
  const rx = await new Receiver().listen();
  const lines: { obj: object; msg?: string }[] = [];
  const logger: NotifierLogger = { info: (obj, msg) => lines.push({ obj, msg }), warn() {}, error() {} };
  const secret = 's3cr3t-k\u00e9y';
  const n = notification({
    alarm_name: 'cpu haute \u2713 \ud83d\udd25',
    reason: 'Transition to alarm due to 3 samples outside threshold, most recent: 1e-05',
    reason_data: { type: 'threshold', count: 3, most_recent: 1e-5, points: [0.1, 97.5, 1e300], note: 'tab\there "q"' },
    actions: [
      `http://us%40er:p%40ss:w@127.0.0.1:${rx.port}/hook?a=1&tally-hmac-key=main&b=x%20y&c=%C3%A9`,
      'log://',
    ],
  });
  const notifier = fast(t, { logger, hmacSecrets: { main: secret } });
  notifier.start();
  try {
    await enqueueNow(t.database, n);
    notifier.wake();
    await rx.waitFor(1);
    await until(() => lines.length > 0, 5_000, 'the log line');
  } finally {
    await notifier.stop();
    await rx.close();
  }
  const [r] = rx.received;
  assert.equal(r.method, 'POST');
  assert.equal(r.url, '/hook?a=1&b=x%20y&c=%C3%A9', 'the query as written, without the key parameter');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['x-openstack-request-id'], n.request_id);
  assert.equal(r.headers.authorization, `Basic ${Buffer.from('us@er:p@ss:w').toString('base64')}`,
    'credentials percent-decoded, as requests does');
  // The exact bytes Python's json.dumps writes for Aodh's body.
  const expected = python(
    'import json,sys; d=json.load(sys.stdin); sys.stdout.write(json.dumps({k: d[k] for k in ["alarm_name","alarm_id","severity","previous","current","reason","reason_data"]}))',
    JSON.stringify(n),
  );
  assert.equal(r.body, expected);
  const headers = { timestamp: r.headers['x-tally-timestamp'] as string, signature: r.headers['x-tally-signature'] as string };
  assert.ok(verifySignature(secret, r.body, headers));
  assert.ok(!verifySignature(secret, r.body.replace('cpu', 'CPU'), headers), 'a changed body does not verify');
  assert.ok(!verifySignature(secret, r.body, headers, { nowS: Number(headers.timestamp) + 301 }), 'an old request does not verify');
  const pyMac = python(
    'import hmac,hashlib,sys; ts,key,body=sys.stdin.read().split("\\n",2); print("sha256="+hmac.new(key.encode(),(ts+"."+body).encode(),hashlib.sha256).hexdigest(),end="")',
    `${headers.timestamp}\n${secret}\n${r.body}`,
  );
  assert.equal(headers.signature, pyMac, 'HMAC-SHA256 over "<timestamp>.<body>"');
  assert.equal(lines[0].msg, 'alarm notification');
  assert.deepEqual(
    { ...(lines[0].obj as Record<string, unknown>), reason: undefined },
    { alarm_id: n.alarm_id, alarm_name: n.alarm_name, severity: 'moderate', previous: 'ok', current: 'alarm', reason: undefined, action: 'log://', request_id: n.request_id },
  );
  const rows = await listDeliveries(t.database.db, { alarm_id: n.alarm_id });
  assert.deepEqual(rows.map((e) => e.status), ['delivered', 'delivered']);
  assert.ok(rows.every((e) => !e.action.includes('p%40ss')), 'history masks the password');
}));

test('a receiver down for a while gets every notification once it is up, in order per alarm; others are not held back', () => withSetup(async (t) => {
  const probe = await new Receiver().listen();
  const port = probe.port;
  await probe.close();
  const other = await new Receiver().listen();
  const notifier = fast(t);
  notifier.start();
  const sent = new Map<string, string[]>();
  let rx: Receiver | null = null;
  try {
    const alarms = ['a1', 'a2', 'a3'];
    for (let k = 0; k < 4; k++) {
      for (const alarm_id of alarms) {
        const n = notification({ alarm_id, actions: [`http://127.0.0.1:${port}/down`] });
        sent.set(alarm_id, [...(sent.get(alarm_id) ?? []), n.request_id]);
        await enqueueNow(t.database, n);
      }
    }
    const start = performance.now();
    await enqueueNow(t.database, notification({ actions: [other.url()] }));
    notifier.wake();
    await other.waitFor(1, 2_000);
    assert.ok(other.received[0].at - start < 1_000, 'the receiver that is up is served while the other is down');
    await until(async () => (await listAttempts(t.database.db, { outcome: 'retry' })).length >= 3, 5_000, 'failed attempts');
    rx = new Receiver();
    // Once up, it still refuses each alarm's first request once: the alarm's later
    // notifications must wait for that one's retry.
    const refusedOnce = new Set<string>();
    rx.reply = (r) => {
      const { alarm_id } = JSON.parse(r.body) as { alarm_id: string };
      if (refusedOnce.has(alarm_id)) return 200;
      refusedOnce.add(alarm_id);
      return 503;
    };
    await rx.listen(port);
    await until(async () => (await listDeliveries(t.database.db, { status: 'delivered' })).length === 13, 10_000, 'all delivered');
  } finally {
    await notifier.stop();
    await rx?.close();
    await other.close();
  }
  assert.ok(rx !== null);
  const got = new Map<string, string[]>();
  for (const r of rx.received) {
    const body = JSON.parse(r.body) as { alarm_id: string };
    assert.equal(r.headers['x-openstack-request-id'] !== undefined, true);
    got.set(body.alarm_id, [...(got.get(body.alarm_id) ?? []), r.headers['x-openstack-request-id'] as string]);
  }
  for (const [alarm, ids] of sent) {
    const arrived = got.get(alarm) ?? [];
    // At least once: a repeat is only ever the same request id again, right after itself.
    const distinct = arrived.filter((id, i) => i === 0 || arrived[i - 1] !== id);
    assert.deepEqual(distinct, ids, `alarm ${alarm}: every notification, in order`);
  }
  const retried = await listAttempts(t.database.db, { outcome: 'retry' });
  assert.ok(retried.some((a) => a.status_code === null && (a.error ?? '').startsWith('ECONNREFUSED')), 'refused connections recorded');
  assert.equal(retried.filter((a) => a.status_code === 503).length, 3, 'each alarm\'s 503 recorded');
}));

test('500 then 200: retried with the same request id; history has every attempt', () => withSetup(async (t) => {
  const rx = await new Receiver().listen();
  let calls = 0;
  rx.reply = () => (++calls <= 2 ? 500 : 200);
  const notifier = fast(t);
  notifier.start();
  const n = notification({ actions: [rx.url()] });
  try {
    await enqueueNow(t.database, n);
    notifier.wake();
    await rx.waitFor(3);
    await until(async () => (await listDeliveries(t.database.db, { status: 'delivered' })).length === 1, 5_000, 'delivered');
  } finally {
    await notifier.stop();
    await rx.close();
  }
  assert.deepEqual(rx.received.map((r) => r.headers['x-openstack-request-id']), [n.request_id, n.request_id, n.request_id]);
  assert.equal(new Set(rx.received.map((r) => r.body)).size, 1, 'the same body every time');
  const attempts = (await listAttempts(t.database.db, { alarm_id: n.alarm_id })).reverse();
  assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome, a.status_code]), [[1, 'retry', 500], [2, 'retry', 500], [3, 'delivered', 200]]);
  assert.match(attempts[0].error ?? '', /^HTTP 500 .*receiver says no/);
}));

test('a hanging receiver hits the timeout and does not hold back another receiver', () => withSetup(async (t) => {
  const hang = await new Receiver().listen();
  let calls = 0;
  hang.reply = () => (++calls === 1 ? 'hang' : 200);
  const ok = await new Receiver().listen();
  const notifier = fast(t, { timeoutMs: 1_000, leaseMs: 3_000 });
  notifier.start();
  const n = notification({ actions: [hang.url()] });
  try {
    await enqueueNow(t.database, n);
    notifier.wake();
    await hang.waitFor(1);
    await enqueueNow(t.database, notification({ actions: [ok.url()] }));
    notifier.wake();
    await ok.waitFor(1);
    const waited = ok.received[0].at - hang.received[0].at;
    assert.ok(waited < 1_000, `the other receiver was served during the hang, ${Math.round(waited)} ms into it`);
    await hang.waitFor(2, 5_000);
    await until(async () => (await listDeliveries(t.database.db, { alarm_id: n.alarm_id, status: 'delivered' })).length === 1, 5_000, 'delivered');
  } finally {
    await notifier.stop();
    await hang.close();
    await ok.close();
  }
  const [first] = (await listAttempts(t.database.db, { alarm_id: n.alarm_id })).reverse();
  assert.equal(first.outcome, 'retry');
  assert.equal(first.error, 'timed out after 1000 ms');
  assert.ok(first.latency_ms >= 990 && first.latency_ms < 3_000, `latency ${first.latency_ms}`);
}));

test('a 4xx answer is a recorded failure, not retried; so is a notification older than maxAgeMs', () => withSetup(async (t) => {
  const rx = await new Receiver().listen();
  rx.reply = () => 404;
  const probe = await new Receiver().listen();
  const closedPort = probe.port;
  await probe.close();
  const notifier = fast(t, { maxAgeMs: 300 });
  notifier.start();
  const refused = notification({ actions: [rx.url()] });
  const unreachable = notification({ actions: [`http://127.0.0.1:${closedPort}/x`] });
  const unknown = notification({ actions: ['zaqar://queue', `${rx.url()}?tally-hmac-key=nope`] });
  try {
    await enqueueNow(t.database, refused);
    await enqueueNow(t.database, unreachable);
    await enqueueNow(t.database, unknown);
    notifier.wake();
    await until(async () => (await listDeliveries(t.database.db, { status: 'failed' })).length === 4, 5_000, 'failures');
  } finally {
    await notifier.stop();
    await rx.close();
  }
  assert.equal(rx.received.length, 1, 'a 404 is not retried, a request with an unknown key never sent');
  const failed = await listDeliveries(t.database.db, { status: 'failed' });
  const byAlarm = (id: string) => failed.filter((e) => e.alarm_id === id);
  assert.equal(byAlarm(refused.alarm_id)[0].last_status, 404);
  assert.match(byAlarm(unreachable.alarm_id)[0].last_error ?? '', /^gave up after \d+ attempts: ECONNREFUSED/);
  assert.deepEqual(byAlarm(unknown.alarm_id).map((e) => e.last_error).sort(), ['unknown HMAC key "nope"', 'unsupported action scheme zaqar']);
}));

test('a silence holds matching notifications and sends a summary per action when it ends', () => withSetup(async (t) => {
  const rx = await new Receiver().listen();
  const notifier = fast(t);
  notifier.start();
  const scope = { admin: false as const, projectId: 'p1' };
  const silence = await createSilence(t.database.db, scope, { severity: 'moderate', ends_at: Date.now() + 60_000, comment: 'maintenance' });
  const mine = notification({ project_id: 'p1', actions: [rx.url('/a')] });
  const theirs = notification({ project_id: 'p2', actions: [rx.url('/a')] });
  const mine2 = notification({ alarm_id: mine.alarm_id, project_id: 'p1', previous: 'alarm', current: 'ok', actions: [rx.url('/a')] });
  try {
    await enqueueNow(t.database, mine);
    await enqueueNow(t.database, theirs);
    await enqueueNow(t.database, mine2);
    notifier.wake();
    await rx.waitFor(1);
    await until(async () => (await listDeliveries(t.database.db, { status: 'held' })).length === 2, 5_000, 'held');
    assert.equal(rx.received.length, 1);
    assert.equal((JSON.parse(rx.received[0].body) as { alarm_id: string }).alarm_id, theirs.alarm_id, 'another project\'s alarm is not muted');
    assert.equal(await deleteSilence(t.database.db, scope, silence.id), 'ended');
    notifier.wake();
    await rx.waitFor(2);
  } finally {
    await notifier.stop();
    await rx.close();
  }
  const summary = JSON.parse(rx.received[1].body) as { summary: string; silence: { id: string; comment: string }; alarms: { alarm_id: string; previous: string; current: string; changes: number }[] };
  assert.equal(summary.summary, 'silence ended');
  assert.equal(summary.silence.id, silence.id);
  assert.equal(summary.silence.comment, 'maintenance');
  assert.deepEqual(summary.alarms.map((a) => [a.alarm_id, a.previous, a.current, a.changes]), [[mine.alarm_id, 'ok', 'ok', 2]]);
  assert.match(rx.received[1].headers['x-openstack-request-id'] as string, /^req-[0-9a-f-]{36}$/);
}));

test('429 with Retry-After waits as asked, past the backoff ceiling', () => withSetup(async (t) => {
  const rx = await new Receiver().listen();
  rx.reply = () => (rx.received.length === 1 ? { status: 429, headers: { 'retry-after': '1' } } : 200);
  const notifier = fast(t);
  notifier.start();
  try {
    await enqueueNow(t.database, notification({ actions: [rx.url()] }));
    notifier.wake();
    await rx.waitFor(2, 5_000);
  } finally {
    await notifier.stop();
    await rx.close();
  }
  const gap = rx.received[1].at - rx.received[0].at;
  assert.ok(gap >= 990 && gap < 2_000, `retried after ${Math.round(gap)} ms (backoff ceiling 150 ms, Retry-After 1 s)`);
}));

test('https receivers: certificates checked unless the action says aodh-alarm-ssl-verify=0, or a CA is given', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tally-notifier-tls-'));
  const tls = selfSigned(dir);
  const rx = await new Receiver(tls).listen();
  try {
    await withSetup(async (t) => {
      const strict = notification({ actions: [rx.url('/strict')] });
      const lax = notification({ actions: [rx.url('/lax?x=1&aodh-alarm-ssl-verify=0')] });
      const notifier = fast(t);
      notifier.start();
      try {
        await enqueueNow(t.database, strict);
        await enqueueNow(t.database, lax);
        notifier.wake();
        await until(async () => (await listDeliveries(t.database.db, { status: 'pending' })).length === 0, 5_000, 'both settled');
      } finally {
        await notifier.stop();
      }
      const [refused] = await listDeliveries(t.database.db, { alarm_id: strict.alarm_id });
      assert.equal(refused.status, 'failed', 'an untrusted certificate is not retried');
      assert.match(refused.last_error ?? '', /^DEPTH_ZERO_SELF_SIGNED_CERT/);
      assert.deepEqual(rx.received.map((r) => r.url), ['/lax?x=1&aodh-alarm-ssl-verify=0'], 'the option stays in the URL, as Aodh sends it');
    });
    await withSetup(async (t) => {
      const n = notification({ actions: [rx.url('/trusted')] });
      const notifier = fast(t, { tls: { ca: tls.cert } });
      notifier.start();
      try {
        await enqueueNow(t.database, n);
        notifier.wake();
        await until(async () => (await listDeliveries(t.database.db, { status: 'delivered' })).length === 1, 5_000, 'delivered');
      } finally {
        await notifier.stop();
      }
    });
  } finally {
    await rx.close();
    await rm(dir, { recursive: true, force: true });
  }
});
