// Throughput of FileIncomingStore.add under concurrency, and the raw cost of one fsync.
// Run: node packages/incoming/dist/file-store.bench.js [callers=8] [metrics=100] [points=100] [rounds=20] [sacks=32]
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { FileIncomingStore, type Measures } from './index.js';

const [callers = 8, metrics = 100, points = 100, rounds = 20, sacks = 32] = process.argv.slice(2).map(Number);

function payload(): Map<string, Measures> {
  const out = new Map<string, Measures>();
  for (let m = 0; m < metrics; m++) {
    const ts = new BigInt64Array(points).map((_, i) => 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000_000n);
    out.set(randomUUID(), { ts, values: new Float64Array(points).fill(m) });
  }
  return out;
}

async function fsyncCost(dir: string): Promise<number> {
  const fh = await open(join(dir, 'fsync-probe'), 'w');
  const n = 50;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await fh.write(Buffer.alloc(4096, i), 0, 4096, 0);
    await fh.sync();
  }
  await fh.close();
  return (performance.now() - t0) / n;
}

async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-incoming-bench-'));
  try {
    console.log(`fsync (4 KiB rewrite + fsync): ${(await fsyncCost(dir)).toFixed(3)} ms`);
    const store = new FileIncomingStore({ dir: join(dir, 'store'), sacks });
    const work = Array.from({ length: callers }, payload);
    const latencies: number[] = [];
    const t0 = performance.now();
    await Promise.all(work.map(async (p) => {
      for (let r = 0; r < rounds; r++) {
        const s = performance.now();
        await store.add(p);
        latencies.push(performance.now() - s);
      }
    }));
    const secs = (performance.now() - t0) / 1000;
    const total = callers * metrics * points * rounds;
    latencies.sort((a, b) => a - b);
    const files = (await Promise.all(Array.from({ length: store.sacks }, (_, s) => store.listBatches(s)))).flat().length;
    console.log(`${callers} callers x ${metrics} metrics x ${points} points x ${rounds} rounds: ` +
      `${Math.round(total / secs).toLocaleString('en')} measures/s, ` +
      `${Math.round((callers * rounds) / secs)} adds/s, p50 ${latencies[latencies.length >> 1].toFixed(1)} ms, ` +
      `p99 ${latencies[Math.floor(latencies.length * 0.99)].toFixed(1)} ms, ${files} batch files`);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await run();
