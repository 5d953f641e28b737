import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CellResult } from './cells.js';
import { matrixSummary, renderPolicies, renderSummary, runPeak, withRatios, readFigureDefs, type PolicyResult } from './policy-figures.js';

const sizes = { seriesPoints: [10_000, 100_000], aggregateMetrics: [10, 100] };

const cells: CellResult[] = [
  { cell: 'mean/single/cold', tally: { ack_rate: 4000, e2e_rate: 3000, read_p50: 1, create_rate: 600, rss_peak: 200, parse_rate: 8000 },
    gnocchi: { ack_rate: 400, e2e_rate: 300, read_p50: 6, create_rate: 100, rss_peak: 900 } },
  { cell: 'mean/single/warm', tally: { ack_rate: 5000, e2e_rate: 4000, read_p50: 1, create_rate: 3000, rss_peak: 200, parse_rate: 10_000 },
    gnocchi: { ack_rate: 400, e2e_rate: 350, read_p50: 8, create_rate: 100, rss_peak: 900 } },
  { cell: 'high/batch10k/cold', tally: { ack_rate: 600_000, e2e_rate: 10_000, read_p50: 4, create_rate: 800, rss_peak: 310, parse_rate: 1_000_000 },
    gnocchi: { ack_rate: 70_000, e2e_rate: 6_500, read_p50: 19, create_rate: 100, rss_peak: 1200 } },
  { cell: 'high/batch10k/warm', tally: { ack_rate: 1_200_000, e2e_rate: 10_000, read_p50: 2, create_rate: 2500, rss_peak: 310, parse_rate: 3_000_000 },
    gnocchi: { ack_rate: 60_000, e2e_rate: 8_000, read_p50: 13, create_rate: 125, rss_peak: 1200 } },
];

const policies: PolicyResult[] = [
  {
    policy: 'mean',
    processing: { engineRate: 2_000_000, baselineRate: 50_000_000, ratio: 0.04, points: 150_000, chunk: 400 },
    figures: { cell: 'mean', tally: { aggregates_p50_10: 5, aggregates_p50_100: 40, bytes_walk3: 1.5 }, gnocchi: { aggregates_p50_10: 300, aggregates_p50_100: 2000, bytes_walk3: 4.5 } },
    reads: [{ cell: 'mean mean 1 second', tally: { read_p50_10000: 2, read_p50_100000: 20 }, gnocchi: { read_p50_10000: 30, read_p50_100000: 150 } }],
  },
  {
    policy: 'rate95',
    processing: { engineRate: 1_000_000, baselineRate: 2_500_000, ratio: 0.4, points: 150_000, chunk: 400 },
    // The reference failed here: no ratio, so the policy is neither worst nor best.
    figures: { cell: 'rate95', tally: { aggregates_p50_10: 1, aggregates_p50_100: 1, bytes_walk3: 1 }, gnocchi: null },
    reads: [
      { cell: 'rate95 95pct 1 second', tally: { read_p50_10000: 2, read_p50_100000: 10 }, gnocchi: null },
      { cell: 'rate95 95pct 1 minute', tally: { read_p50_10000: 1, read_p50_100000: 2 }, gnocchi: { read_p50_10000: 40, read_p50_100000: 60 } },
    ],
  },
];

test('policy figures: the summary gives the worst and best of every figure, with its target', () => {
  const s = matrixSummary(cells, policies, sizes);
  const get = (figure: string) => {
    const e = s.find((x) => x.figure === figure);
    assert.ok(e, figure);
    return e;
  };
  // Creation: cold and warm apart (targets 5x and 20x): warm worst is high's 2500/125.
  assert.deepEqual(get('metric creation, 8 clients, cold'), { figure: 'metric creation, 8 clients, cold', unit: 'metrics/s',
    worst: { ratio: 6, cell: 'mean/single/cold' }, best: { ratio: 8, cell: 'high/batch10k/cold' }, target: 5 });
  assert.deepEqual(get('metric creation, 8 clients, warm').worst, { ratio: 20, cell: 'high/batch10k/warm' });
  assert.equal(get('metric creation, 8 clients, warm').target, 20);
  // Memory: per server, then the whole run (largest peak of each target: 1200 / 310).
  assert.deepEqual(get('peak RSS of the server').worst, { ratio: 1200 / 310, cell: 'high/batch10k/cold' });
  assert.deepEqual(get('peak RSS of the server').best, { ratio: 900 / 200, cell: 'mean/single/cold' });
  assert.deepEqual(get('peak RSS over the matrix').worst, { ratio: 1200 / 310, cell: 'whole matrix' });
  assert.deepEqual(runPeak(cells), { tally: 310, gnocchi: 1200 });
  // Series reads over every policy, method and granularity: rate95 at 1 s has no Gnocchi figure.
  assert.deepEqual(get('read p50, 100,000-point series').worst, { ratio: 7.5, cell: 'mean mean 1 second' });
  assert.deepEqual(get('read p50, 100,000-point series').best, { ratio: 30, cell: 'rate95 95pct 1 minute' });
  assert.equal(get('read p50, 100,000-point series').target, 10);
  assert.deepEqual(get('POST /v1/aggregates over 100 metrics p50').worst, { ratio: 50, cell: 'mean' });
  assert.deepEqual(get('bytes per aggregate point, walk3').worst, { ratio: 3, cell: 'mean' });
  // Processing: Tally alone, engine / baseline, lowest and highest over the policies.
  const pl = get('processing machine limit (engine / one-pass baseline)');
  assert.deepEqual([pl.worst, pl.best, pl.target], [{ ratio: 0.04, cell: 'mean' }, { ratio: 0.4, cell: 'rate95' }, 0.3]);
  assert.deepEqual(get('ingest machine limit (Tally acknowledged / JSON.parse + validation in the bench)').worst, { ratio: 0.4, cell: 'high/batch10k/warm' });

  const text = renderSummary(s);
  assert.match(text, /^metric creation, 8 clients, warm: worst 20\.0x \(high\/batch10k\/warm\), best 30\.0x \(mean\/single\/warm\), target 20x met$/m);
  assert.match(text, /^read p50, 10,000-point series: worst 15\.0x \(mean mean 1 second\), best 40\.0x \(rate95 95pct 1 minute\), target 10x met$/m);
  assert.match(text, /^read p50, 100,000-point series: worst 7\.50x \(mean mean 1 second\), .*target 10x NOT met$/m);
  assert.match(text, /^peak RSS over the matrix: worst 3\.87x \(whole matrix\), target 3x met$/m);
  assert.match(text, /^processing machine limit \(engine \/ one-pass baseline\): worst 0\.040x \(mean\), best 0\.40x \(rate95\), target 0\.3x NOT met$/m);
  // No Gnocchi at all: every ratio is missing, said so rather than a made-up number.
  const alone = matrixSummary(cells.map((c) => ({ ...c, gnocchi: null })), [], sizes);
  assert.match(renderSummary(alone), /^ingest end to end: no ratio \(a target lacks the figure\)$/m);
});

test('policy figures: tables and JSON rows carry each figure per target and its ratio', () => {
  const text = renderPolicies(policies, sizes);
  assert.match(text, /^mean +processing machine limit \(target >= 0\.3\) +0\.040 +-$/m);
  assert.match(text, /^mean +processing: engine, 400 points per metric and call +points\/s +2,000,000 +-$/m);
  assert.match(text, /^mean +POST \/v1\/aggregates over 100 metrics p50 +ms +40\.00 +2000\.00 +50\.0x$/m);
  assert.match(text, /^rate95 95pct 1 second +read p50, 100,000-point series +ms +10\.00 +- +n\/a$/m);
  const rows = withRatios(policies[1].reads, readFigureDefs(sizes));
  assert.deepEqual(rows.map((r) => r.ratios), [{ read_p50_10000: null, read_p50_100000: null }, { read_p50_10000: 40, read_p50_100000: 30 }]);
});
