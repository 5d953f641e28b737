import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generate, Rng } from './datasets.js';
import { interleavedP50, parseAndValidate, parseRate, planPhase } from './matrix.js';
import { benchClient } from './workload.js';

const ids = Array.from({ length: 40 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
const values = Array.from({ length: 16 }, (_, v) => generate('walk3', 300, new Rng(v + 1)));

test('matrix: every shape sends each metric its measures once, in time order per metric', () => {
  for (const shape of ['single', 'batch10k', 'batch100k'] as const) {
    const plan = planPhase(shape, 1, ids, 100, values, 1);
    const seen = new Map<string, string[]>();
    for (const loop of plan) {
      for (const r of loop) {
        const doc = JSON.parse(r.json ?? 'null') as unknown;
        const entries: [string, { timestamp: string }[]][] = Array.isArray(doc)
          ? [[/\/v1\/metric\/([^/]+)\/measures/.exec(r.spec.path)?.[1] ?? '', doc as { timestamp: string }[]]]
          : Object.entries(doc as Record<string, { timestamp: string }[]>);
        let n = 0;
        for (const [id, ms] of entries) {
          seen.set(id, [...(seen.get(id) ?? []), ...ms.map((m) => m.timestamp)]);
          n += ms.length;
          if (shape === 'single') assert.ok(ms.length >= 1 && ms.length <= 10);
        }
        assert.equal(r.measures, n);
      }
    }
    assert.equal(seen.size, ids.length, shape);
    for (const stamps of seen.values()) {
      assert.equal(stamps.length, 100);
      // Phase 1 is the second time range: 100 s after the start.
      assert.equal(stamps[0], '2024-01-01T00:01:40');
      assert.deepEqual(stamps, [...stamps].sort());
    }
    // A metric's requests are all on one loop, so none has two in flight.
    for (const id of ids) assert.equal(plan.filter((loop) => loop.some((r) => String(r.spec.body).includes(id) || r.spec.path.includes(id))).length, 1);
    // The bytes sent are the text the parse baseline reads.
    for (const r of plan.flat()) assert.equal(r.spec.body.toString('utf8'), r.json);
  }
  assert.equal(planPhase('single', 0, ids, 10, values, 1).length, 32);
  assert.equal(planPhase('batch10k', 0, ids, 10, values, 1).length, 2); // 40 metrics: 2 groups of 25
});

test('matrix: line protocol and remote write bodies carry every measure', () => {
  const influx = planPhase('influx', 0, ids, 100, values, 1).flat();
  const lines = influx.flatMap((r) => String(r.spec.body).split('\n'));
  assert.equal(lines.length, 2 * 100); // one line per second and group
  assert.equal(lines.reduce((s, l) => s + l.split(' ')[1].split(',').length, 0), ids.length * 100);
  assert.match(lines[0], /^benchm,host=g0 f0=1000,f1=/);
  const prom = planPhase('promwrite', 0, ids, 100, values, 1).flat();
  assert.equal(prom.reduce((s, r) => s + r.measures, 0), ids.length * 100);
  assert.equal(prom[0].spec.headers?.['content-encoding'], 'snappy');
  assert.ok(Buffer.isBuffer(prom[0].spec.body));
  assert.throws(() => gunzipSync(prom[0].spec.body as Buffer)); // snappy, not gzip
  assert.equal(parseRate(prom.map((r) => [r])), null);
});

test('matrix: the parse baseline counts and checks the measures of the bodies', () => {
  assert.equal(parseAndValidate('{"a":[{"timestamp":"2024-01-01T00:00:00","value":1}],"b":[]}'), 1);
  assert.equal(parseAndValidate('[{"timestamp":"2024-01-01T00:00:00","value":1},{"timestamp":"2024-01-01T00:00:01","value":2.5}]'), 2);
  assert.throws(() => parseAndValidate('[{"timestamp":"not a date","value":1}]'), /invalid measure/);
  assert.throws(() => parseAndValidate('[{"timestamp":"2024-01-01T00:00:00","value":"1"}]'), /invalid measure/);
  assert.throws(() => parseAndValidate('{"a":1}'), /not a list/);
  const rate = parseRate(planPhase('batch10k', 0, ids, 100, values, 1));
  assert.ok(rate !== null && rate > 0);
});

test('matrix: options select cells, --cell implies --matrix, --target is refused', async () => {
  const { parseOptions } = await import('./index.js');
  const o = parseOptions(['--cell', 'medium/*/warm', '--cell', 'mean/single/cold', '--matrix-points', '5000']);
  assert.ok(o !== 'help');
  assert.equal(o.matrix.enabled, true);
  assert.deepEqual(o.matrix.cells.map((c) => c.name), ['mean/single/cold', 'medium/single/warm', 'medium/batch10k/warm',
    'medium/batch100k/warm', 'medium/promwrite/warm', 'medium/influx/warm']);
  assert.equal(o.matrix.cfg.points, 5000);
  const plain = parseOptions([]);
  assert.ok(plain !== 'help' && !plain.matrix.enabled && plain.matrix.cells.length === 50);
  assert.throws(() => parseOptions(['--matrix', '--target', 'http://127.0.0.1:1']), /drop --target/);
  assert.throws(() => parseOptions(['--cell', 'nope/single/cold']), /no cell named/);
  // The figures of the issue at their defaults; a size list of 0 skips its figures.
  assert.equal(plain.matrix.cfg.createMetrics, 500);
  assert.deepEqual(plain.matrix.cfg.seriesPoints, [10_000, 100_000]);
  assert.deepEqual(plain.matrix.cfg.aggregateMetrics, [10, 100]);
  const small = parseOptions(['--matrix', '--matrix-series-points', '0', '--matrix-aggregate-metrics', '100,10,100', '--matrix-create', '0']);
  assert.ok(small !== 'help');
  assert.deepEqual(small.matrix.cfg.seriesPoints, []);
  assert.deepEqual(small.matrix.cfg.aggregateMetrics, [10, 100]);
  assert.equal(small.matrix.cfg.createMetrics, 0);
});

test('interleavedP50: one untimed round, then rounds of every request in turn; a slow spell shifts no median', async () => {
  const order: string[] = [];
  // Requests 4 to 7 (the second and third timed rounds) answer 40 ms late: a slow spell
  // of the server. Back to back, it would have held most samples of one request.
  const server = createServer((req, res) => {
    order.push(req.url ?? '');
    const late = order.length >= 4 && order.length <= 7 ? 40 : 0;
    setTimeout(() => res.end('[]'), late);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const client = benchClient(`http://127.0.0.1:${port}`, 'admin', '', 1);
  try {
    let rounds = 0;
    const p50s = await interleavedP50(client, [{ method: 'GET', path: '/a' }, { method: 'GET', path: '/b' }], 5, () => rounds++);
    assert.equal(rounds, 5);
    assert.deepEqual(order, Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? '/a' : '/b')));
    for (const p of p50s) assert.ok(p < 40, `median ${p.toFixed(1)} ms outside the slow spell`);
  } finally {
    client.close();
    server.close();
  }
});
