#!/usr/bin/env node
// Runs every compiled benchmark (packages/*/dist/**/*.bench.js), one process each, and
// prints their reports. Each benchmark measures its own reference in the same run and
// prints the ratio. Usage: npm run bench [-- NAME-SUBSTRING]
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filter = process.argv[2];
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.bench.js')) files.push(p);
  }
};
for (const pkg of readdirSync(join(root, 'packages'))) {
  const dist = join(root, 'packages', pkg, 'dist');
  if (existsSync(dist)) walk(dist);
}
let failed = 0;
for (const f of files.filter((f) => !filter || f.includes(filter))) {
  console.log(`\n## ${relative(root, f)}   (node ${relative(root, f)})`);
  const r = spawnSync(process.execPath, [f], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
