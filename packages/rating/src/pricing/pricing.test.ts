import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HashmapMapping, HashmapRules } from '../model.js';
import {
  BUNDLED_PRICING_PATH, PriceBook, PricingError, PricingInstallError, downloadPricing, installPricing, loadPriceBook,
  parsePricing, resolveRules, validatePricing, type PriceEntry, type PricingFile,
} from './index.js';

const entry = (over: Partial<PriceEntry> = {}): PriceEntry => ({
  provider: 'p', service: 'compute', size: 's1', region: 'r1', unit: 'hour', price: '0.5', currency: 'EUR', effective: '2024-01-01', ...over,
});
const file = (entries: unknown[]): PricingFile => ({ format: 1, entries: entries as PriceEntry[] });
const ms = (iso: string): number => Date.parse(iso);

const problems = (data: unknown): string[] => {
  try {
    validatePricing(data);
  } catch (err) {
    assert.ok(err instanceof PricingError);
    return [...err.problems];
  }
  return [];
};

describe('pricing file validation', () => {
  it('takes the bundled file', async () => {
    const f = parsePricing(await readFile(BUNDLED_PRICING_PATH, 'utf8'));
    assert.ok(f.entries.length >= 10);
    assert.ok(f.entries.every((e) => /example/i.test(e.comment ?? '')), 'every shipped price is labelled an example');
  });

  it('names the entry and the field of every problem', () => {
    const p = problems(file([
      entry(),
      entry({ size: 's1b', price: '1e3' }),
      entry({ size: 's2', price: '-1' }),
      entry({ size: 's3', currency: 'euro', effective: '2024-02-30' }),
      { ...entry({ size: 's4' }), surprise: 1 },
      { ...entry({ size: 's5' }), unit: undefined },
      entry({ effective: '2024-01-01T00:00:00Z' }),
      entry({ size: 's6', price: 0.5 as unknown as string }),
    ]));
    assert.deepEqual(p, [
      'entry 1 (p/compute/s1b/r1): price: expected a non-negative decimal string such as "0.096", got "1e3"',
      'entry 2 (p/compute/s2/r1): price: expected a non-negative decimal string such as "0.096", got "-1"',
      'entry 3 (p/compute/s3/r1): currency: expected an ISO 4217 code such as "USD", got "euro"',
      'entry 3 (p/compute/s3/r1): effective: expected an ISO 8601 date or instant, got "2024-02-30"',
      'entry 4 (p/compute/s4/r1): surprise: unknown field',
      'entry 5 (p/compute/s5/r1): unit: missing',
      'entry 6 (p/compute/s1/r1): effective: entry 0 has the same key and effective date',
      'entry 7 (p/compute/s6/r1): price: expected a string, got 0.5',
    ]);
    assert.deepEqual(problems({ format: 2, entries: {} }), ['pricing file: format: expected 1, got 2', 'pricing file: entries: expected a list']);
    assert.throws(() => parsePricing('{"format": 1, "entries": ['), /not JSON/);
  });

  it('reads instants with and without offsets', () => {
    const b = new PriceBook([{ source: 'bundled', file: file([entry({ effective: '2024-01-01T01:00:00+02:00' })]) }]);
    assert.equal(b.lookup(entry(), ms('2023-12-31T22:59:59Z')), null);
    assert.equal(b.lookup(entry(), ms('2023-12-31T23:00:00Z'))?.price, '0.5');
  });
});

describe('price lookup and override', () => {
  const base = file([
    entry({ price: '1', effective: '2024-01-01' }),
    entry({ price: '3', effective: '2024-06-01' }),
    entry({ price: '2', effective: '2024-03-01' }),
    entry({ size: 's2', price: '10' }),
  ]);
  it('finds the price in force at an instant: the latest effective at or before it', () => {
    const b = new PriceBook([{ source: 'bundled', file: base }]);
    assert.equal(b.lookup(entry(), ms('2023-12-31T23:59:59Z')), null);
    assert.equal(b.lookup(entry(), ms('2024-01-01T00:00:00Z'))?.price, '1');
    assert.equal(b.lookup(entry(), ms('2024-02-29T23:59:59Z'))?.price, '1');
    assert.equal(b.lookup(entry(), ms('2024-03-01T00:00:00Z'))?.price, '2');
    assert.equal(b.lookup(entry(), ms('2030-01-01T00:00:00Z'))?.price, '3');
    assert.equal(b.lookup(entry({ region: 'r2' }), ms('2030-01-01T00:00:00Z')), null);
    assert.equal(b.price(entry({ size: 's2' }), ms('2024-05-01')).toString(), '10');
    assert.throws(() => b.price(entry({ size: 'nope' }), ms('2024-05-01')), /no price in force for p\/compute\/nope\/r1/);
  });
  it('an override replaces the whole history of the keys it names, and only those', () => {
    const b = new PriceBook([{ source: 'bundled', file: base }, { source: 'override', file: file([entry({ price: '0.25', effective: '2024-02-01' })]) }]);
    assert.equal(b.lookup(entry(), ms('2024-01-15'))?.price ?? null, null, 'the bundled history of the key is gone');
    assert.deepEqual(b.lookup(entry(), ms('2030-01-01')), { ...entry({ price: '0.25', effective: '2024-02-01' }), source: 'override' });
    assert.equal(b.lookup(entry({ size: 's2' }), ms('2030-01-01'))?.source, 'bundled');
    assert.deepEqual(b.entries({ provider: 'p' }).map((e) => [e.size, e.price, e.source]), [['s1', '0.25', 'override'], ['s2', '10', 'bundled']]);
  });
});

describe('pricing files on disk', () => {
  const text = (entries: PriceEntry[]): string => JSON.stringify(file(entries));
  it('loads the installed update instead of the bundled file, then the override', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pricing-'));
    const paths = { installed: join(dir, 'data', 'pricing.json'), override: join(dir, 'config', 'pricing.json') };
    const bundledOnly = await loadPriceBook(paths);
    assert.deepEqual(bundledOnly.files.map((f) => f.source), ['bundled']);
    assert.ok(bundledOnly.book.lookup({ provider: 'aws', service: 'compute', size: 'm5.large', region: 'us-east-1' }, ms('2024-06-01')));
    await installPricing(text([entry({ price: '7' })]), paths.installed);
    await mkdir(join(dir, 'config'));
    await writeFile(paths.override, text([entry({ size: 's9', price: '9' })]));
    const { book, files } = await loadPriceBook(paths);
    assert.deepEqual(files.map((f) => f.source), ['installed', 'override']);
    assert.deepEqual(book.entries().map((e) => [e.size, e.price, e.source]), [['s1', '7', 'installed'], ['s9', '9', 'override']]);
    await writeFile(paths.override, '{"format": 1, "entries": [{"provider": "x"}]}');
    await assert.rejects(loadPriceBook(paths), /config\/pricing\.json: invalid pricing file: entry 0 \(x\/\?\/\?\/\?\): service: missing/);
  });

  it('installs atomically: an invalid file or a failure at any step leaves the old file whole, and says what was done', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pricing-'));
    const target = join(dir, 'pricing.json');
    const old = text([entry({ price: '1' })]);
    const r = await installPricing(old, target);
    assert.deepEqual(r.done, ['validate', 'write', 'fsync', 'rename', 'fsync-dir']);
    // An invalid entry at the very end of an otherwise good file.
    const bad = text([...Array.from({ length: 50 }, (_, i) => entry({ size: `s${i}` })), entry({ size: 'last', price: 'NaN' })]);
    const e1 = await installPricing(bad, target).then(() => null, (err: unknown) => err);
    assert.ok(e1 instanceof PricingInstallError);
    assert.deepEqual(e1.done, []);
    assert.match(e1.message, /not installed .* \(done: nothing\): invalid pricing file: entry 50 \(p\/compute\/last\/r1\): price: .*the previous pricing file stays in force/);
    for (const stop of ['write', 'fsync', 'rename'] as const) {
      const e = await installPricing(text([entry({ price: '2' })]), target, { onStep: (s) => { if (s === stop) throw new Error(`failed at ${s}`); } })
        .then(() => null, (err: unknown) => err);
      assert.ok(e instanceof PricingInstallError);
      assert.equal(e.done.at(-1), ({ write: 'validate', fsync: 'write', rename: 'fsync' } as const)[stop]);
      assert.equal(await readFile(target, 'utf8'), old);
      assert.deepEqual(await readdir(dir), ['pricing.json'], 'no temporary file left');
    }
  });
});

describe('pricing download', () => {
  const serve = async (handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> => {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const a = server.address();
    if (typeof a !== 'object' || a === null) throw new Error('no address');
    return { url: `http://127.0.0.1:${a.port}/pricing.json`, server };
  };
  const good = JSON.stringify(file([entry()]));

  it('retries a 503 and a body cut short, and gets the whole file', async () => {
    let n = 0;
    const { url, server } = await serve((_req, res) => {
      n++;
      if (n === 1) { res.writeHead(503).end(); return; }
      if (n === 2) {
        res.writeHead(200, { 'content-length': String(good.length) });
        res.write(good.slice(0, 10));
        setTimeout(() => res.destroy(), 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(good);
    });
    try {
      assert.equal(await downloadPricing(url, { baseMs: 1 }), good);
      assert.equal(n, 3);
    } finally {
      server.close();
    }
  });

  it('refuses a body beyond the bound and a 404 at once', async () => {
    let n = 0;
    const { url, server } = await serve((req, res) => {
      n++;
      if (req.url === '/missing') { res.writeHead(404).end(); return; }
      res.writeHead(200);
      res.end('x'.repeat(5000));
    });
    try {
      await assert.rejects(downloadPricing(url, { maxBytes: 1000, baseMs: 1 }), /more than the 1000 bytes allowed/);
      await assert.rejects(downloadPricing(url.replace('/pricing.json', '/missing'), { baseMs: 1 }), /HTTP 404/);
      assert.equal(n, 2);
    } finally {
      server.close();
    }
  });
});

describe('mappings priced from pricing data', () => {
  const mapping = (over: Partial<HashmapMapping>): HashmapMapping => ({
    mapping_id: 'm1', value: 'm1.small', cost: '0', map_type: 'flat', service_id: null, field_id: 'f1', group_id: null, tenant_id: null, ...over,
  });
  const rules = (mappings: HashmapMapping[]): HashmapRules => ({ services: [], fields: [], groups: [], mappings, thresholds: [] });
  const book = new PriceBook([{ source: 'bundled', file: file([
    entry({ size: 'm1.small', price: '0.02' }), entry({ size: 'm1.small', price: '0.025', effective: '2025-01-01' }),
  ]) }]);

  it('takes the price in force at the instant; literal costs stay', () => {
    const r = rules([mapping({ pricing_key: 'p/compute/m1.small/r1' }), mapping({ mapping_id: 'm2', cost: '1.5' })]);
    assert.deepEqual(resolveRules(r, book, ms('2024-12-31T23:59:59Z')).mappings.map((m) => m.cost), ['0.02', '1.5']);
    assert.deepEqual(resolveRules(r, book, ms('2025-01-01T00:00:00Z')).mappings.map((m) => m.cost), ['0.025', '1.5']);
    assert.equal(r.mappings[0].cost, '0', 'the rules given are not changed');
  });
  it('refuses a key without a price in force, a malformed key and a price in another currency', () => {
    assert.throws(() => resolveRules(rules([mapping({ pricing_key: 'p/compute/m1.small/r1' })]), book, ms('2023-06-01')), /mapping m1: no price in force/);
    assert.throws(() => resolveRules(rules([mapping({ pricing_key: 'p/compute/m1.small' })]), book, ms('2024-06-01')), /expected provider\/service\/size\/region/);
    assert.throws(() => resolveRules(rules([mapping({ pricing_key: 'p/compute/m1.small/r1' })]), book, ms('2024-06-01'), 'USD'), /priced in EUR, the rating currency is USD/);
  });
});
