import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiskBuffer } from './buffer.js';
import type { LogLevel } from './pollster.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-buffer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function logs(): { lines: { level: LogLevel; message: string; fields?: Record<string, unknown> }[]; log: (level: LogLevel, message: string, fields?: Record<string, unknown>) => void } {
  const lines: { level: LogLevel; message: string; fields?: Record<string, unknown> }[] = [];
  return { lines, log: (level, message, fields) => lines.push({ level, message, fields }) };
}

const rec = (i: number, size = 100): Buffer => Buffer.from(JSON.stringify({ i, pad: 'y'.repeat(size) }));
const idOf = (b: Buffer): number => (JSON.parse(b.toString()) as { i: number }).i;

async function drain(b: DiskBuffer, maxBytes = 1 << 20): Promise<number[]> {
  const out: number[] = [];
  for (;;) {
    const rs = await b.peek(maxBytes);
    if (rs.length === 0) return out;
    out.push(...rs.map((r) => idOf(r.payload)));
    await b.ack(rs[rs.length - 1]);
  }
}

test('records come back oldest first across segments and reopenings; acknowledged ones never again', async (t) => {
  const dir = tempDir(t);
  const { log } = logs();
  let b = await DiskBuffer.open(dir, { maxBytes: 1 << 20, segmentBytes: 1000, log });
  for (let i = 0; i < 30; i++) await b.append(rec(i), 2);
  assert.deepEqual(b.stats().samples, 60);
  const first = await b.peek(600);
  assert.deepEqual(first.map((r) => idOf(r.payload)), [0, 1, 2, 3]);
  await b.ack(first[1]);
  assert.equal(b.stats().records, 28);
  await b.close();
  b = await DiskBuffer.open(dir, { maxBytes: 1 << 20, segmentBytes: 1000, log });
  assert.deepEqual(await drain(b, 700), Array.from({ length: 28 }, (_v, i) => i + 2));
  assert.deepEqual(b.stats(), { records: 0, samples: 0, bytes: 0, droppedSamples: 0, tornRecords: 0, tornBytes: 0 });
  // Acknowledged segments are deleted; the one written to stays.
  assert.equal(readdirSync(dir).filter((n) => n.endsWith('.log')).length, 1);
  for (let i = 30; i < 33; i++) await b.append(rec(i), 1);
  await b.close();
  b = await DiskBuffer.open(dir, { maxBytes: 1 << 20, segmentBytes: 1000, log });
  assert.deepEqual(await drain(b), [30, 31, 32]);
  await b.close();
});

test('a full buffer drops its oldest samples, counted and logged', async (t) => {
  const dir = tempDir(t);
  const { lines, log } = logs();
  const b = await DiskBuffer.open(dir, { maxBytes: 64 * 1024, segmentBytes: 8 * 1024, log });
  for (let i = 0; i < 200; i++) await b.append(rec(i, 1000), 3);
  const s = b.stats();
  assert.ok(s.bytes <= 64 * 1024 + 8 * 1024 + 2048, `bounded: ${s.bytes}`);
  assert.equal(s.samples + s.droppedSamples, 600, 'every sample is either buffered or counted as dropped');
  assert.ok(s.droppedSamples > 0);
  const kept = await drain(b);
  // What is left is the newest records, in order, without a gap.
  assert.equal(kept.at(-1), 199);
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_v, i) => 200 - kept.length + i));
  const warned = lines.filter((l) => l.message === 'buffer full: oldest samples dropped unsent');
  assert.equal(warned.reduce((n, l) => n + (l.fields?.droppedSamples as number), 0), s.droppedSamples);
  await b.close();
});

test('a torn tail (a write cut short) is cut off, counted and logged; the records before it are intact', async (t) => {
  const dir = tempDir(t);
  const { lines, log } = logs();
  let b = await DiskBuffer.open(dir, { maxBytes: 1 << 20, log });
  for (let i = 0; i < 5; i++) await b.append(rec(i), 1);
  await b.close();
  const seg = join(dir, readdirSync(dir).find((n) => n.endsWith('.log')) as string);
  const full = statSync(seg).size;
  truncateSync(seg, full - 7); // the last record's payload cut short
  b = await DiskBuffer.open(dir, { maxBytes: 1 << 20, log });
  assert.deepEqual(b.stats().tornRecords, 1);
  assert.ok(lines.some((l) => l.level === 'warn' && /torn record/.test(l.message)));
  await b.append(rec(5), 1); // appended after the cut, readable
  await b.close();
  appendFileSync(seg, Buffer.from([1, 2, 3])); // a header cut short
  b = await DiskBuffer.open(dir, { maxBytes: 1 << 20, log });
  assert.equal(b.stats().tornBytes, 3);
  assert.deepEqual(await drain(b), [0, 1, 2, 3, 5]);
  await b.close();
});

test('kill -9 while appending: every record whose append resolved is there once, in order, and a torn one is dropped', async (t) => {
  const dir = tempDir(t);
  const fixture = fileURLToPath(new URL('./buffer-writer.fixture.js', import.meta.url));
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, [fixture, dir, String(64 << 20)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.split('\n').length > 150 + round * 37) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once('exit', resolve));
    const said = out.trim().split('\n').map(Number);
    const b = await DiskBuffer.open(dir, { maxBytes: 64 << 20, log: () => undefined });
    const got = await drain(b);
    await b.close();
    // Each round restarts numbering at 0 after the previous round's records were drained.
    assert.deepEqual(got.slice(0, said.length), said, `round ${round}: every durable record, in order`);
    assert.ok(got.length <= said.length + 1, 'at most the one record being appended at the kill besides');
  }
});
