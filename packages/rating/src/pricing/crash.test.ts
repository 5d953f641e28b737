import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installPricing, loadPriceBook, type PriceEntry } from './index.js';

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));
const entry = (price: string): PriceEntry => ({
  provider: 'p', service: 'compute', size: 's', region: 'r', unit: 'hour', price, currency: 'EUR', effective: '2024-01-01',
});
const text = (price: string): string => JSON.stringify({ format: 1, entries: [entry(price)] });

test('an update killed (SIGKILL) between any two steps leaves the old prices in force; the next update clears what it left', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pricing-crash-'));
  const target = join(dir, 'pricing.json');
  const source = join(dir, 'new.json');
  await installPricing(text('1'), target);
  // A big new file, so that a kill during its write would cut it.
  await writeFile(source, JSON.stringify({ format: 1, entries: Array.from({ length: 20_000 }, (_, i) => ({ ...entry('2'), size: `s${i}` })).concat([entry('2')]) }));
  for (const step of ['write', 'fsync', 'rename'] as const) {
    const child = spawn(process.execPath, [CHILD, target, source, step], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { out += d; if (out.includes('\n')) child.kill('SIGKILL'); });
    const [, signal] = await once(child, 'exit') as [number | null, string | null];
    assert.equal(signal, 'SIGKILL');
    assert.equal(out, `at ${step}\n`);
    assert.equal(await readFile(target, 'utf8'), text('1'), `killed at ${step}: the old file is whole`);
    const { book } = await loadPriceBook({ installed: target, override: join(dir, 'none.json') });
    assert.equal(book.lookup(entry('1'), Date.parse('2024-06-01'))?.price, '1');
  }
  const leftovers = (await readdir(dir)).filter((n) => n.endsWith('.tmp'));
  assert.equal(leftovers.length, 1, 'killed after writing, a temporary file is left; each attempt clears the one before');
  const r = await installPricing(await readFile(source, 'utf8'), target);
  assert.deepEqual(r.removedLeftovers.sort(), leftovers.sort());
  assert.deepEqual((await readdir(dir)).sort(), ['new.json', 'pricing.json']);
  const { book } = await loadPriceBook({ installed: target, override: join(dir, 'none.json') });
  assert.equal(book.lookup(entry('2'), Date.parse('2024-06-01'))?.price, '2');
});
