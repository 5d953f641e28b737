// Commit and hot-read costs of FileAggregateStorage.
// Run: node packages/storage/dist/file-storage.bench.js [metrics=200] [splitsPerCommit=4]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { FileAggregateStorage } from './index.js';

const [metrics = 200, splits = 4] = process.argv.slice(2).map(Number);

async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-storage-bench-'));
  try {
    const store = new FileAggregateStorage({ dir });
    const ids = Array.from({ length: metrics }, () => randomUUID());
    const put = new Map(Array.from({ length: splits }, (_, i) => [`split-${i}`, new Uint8Array(4096).fill(i)]));
    const state = new Uint8Array(256);
    let t0 = performance.now();
    // 8 metrics in flight at a time, like a metricd worker processing a sack.
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(ids.slice(i, i + 8).map((id) =>
        store.update(id).then((u) => u.commit({ state, put, del: [], applied: [randomUUID()], forget: [] }))));
    }
    const commitMs = (performance.now() - t0) / metrics;
    t0 = performance.now();
    const reads = metrics * splits * 5;
    for (let r = 0; r < 5; r++) {
      for (const id of ids) for (const key of put.keys()) await store.readSplit(id, key);
    }
    const readUs = ((performance.now() - t0) * 1000) / reads;
    console.log(`commit (${splits} x 4 KiB splits, 8 in flight): ${commitMs.toFixed(2)} ms/metric amortised, ` +
      `${Math.round(1000 / commitMs)} commits/s; readSplit (cached manifest + stat): ${readUs.toFixed(1)} us`);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await run();
