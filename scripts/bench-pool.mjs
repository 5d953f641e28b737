#!/usr/bin/env node
// Medians over every run of several `npm run bench -- --vs-reference --json FILE` results
// (issue 5 asks for medians of several runs; one invocation's --runs 3 leaves the ratio at
// the mercy of this machine's drift). Usage: node scripts/bench-pool.mjs A.json B.json ...
import { readFileSync } from 'node:fs';

const KEYS = [
  ['create_rate', 'metric creation, metrics/s', 'higher'],
  ['ingest_ack_rate', 'batch ingest acknowledged, measures/s', 'higher'],
  ['e2e_rate', 'ingest end to end, measures/s', 'higher'],
  ['read_p50', 'read full series p50, ms', 'lower'],
];

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node scripts/bench-pool.mjs RESULT.json ...');
  process.exit(2);
}
const runs = { tally: [], gnocchi: [] };
for (const f of files) {
  const doc = JSON.parse(readFileSync(f, 'utf8'));
  for (const who of Object.keys(runs)) runs[who].push(...(doc.targets?.[who]?.runs ?? []).map((r) => r.figures));
}
console.log(`${runs.tally.length} Tally runs, ${runs.gnocchi.length} Gnocchi runs from ${files.length} file(s)`);
for (const [key, label, better] of KEYS) {
  const t = runs.tally.map((r) => r[key]).filter((v) => typeof v === 'number');
  const g = runs.gnocchi.map((r) => r[key]).filter((v) => typeof v === 'number');
  if (t.length === 0 || g.length === 0) continue;
  const ratio = better === 'higher' ? median(t) / median(g) : median(g) / median(t);
  console.log(`${label.padEnd(40)} tally ${median(t).toFixed(1).padStart(10)}  gnocchi ${median(g).toFixed(1).padStart(8)}  ${ratio.toFixed(2)}x`);
}
