#!/usr/bin/env node
// Medians over every run of several `npm run bench -- --vs-reference --json FILE` results
// (one invocation's --runs 3 leaves a ratio at the mercy of this machine's drift; several
// sets pooled do not), printed as the bench prints its own table.
// Usage: node scripts/bench-pool.mjs A.json B.json ...
import { readFileSync } from 'node:fs';
import { figureDefs, medians, renderTable } from '../packages/bench/dist/index.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node scripts/bench-pool.mjs RESULT.json ...');
  process.exit(2);
}
const docs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
const runs = new Map();
for (const doc of docs) {
  for (const [name, target] of Object.entries(doc.targets ?? {})) {
    runs.set(name, [...(runs.get(name) ?? []), ...target.runs.map((r) => r.figures)]);
  }
}
const defs = figureDefs(docs[0].workload.datasets, docs[0].workload.scale);
const keys = defs.map((d) => d.key);
const cols = [...runs].map(([name, figures]) => ({ name, values: medians(figures, keys) }));
const counts = [...runs].map(([name, figures]) => `${figures.length} ${name}`).join(', ');
process.stdout.write(`${counts} runs from ${files.length} file(s)\n${renderTable(defs, cols, Math.min(...[...runs.values()].map((f) => f.length)))}`);
