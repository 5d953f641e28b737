// Where the bytes of the matrix's "bytes per aggregate point" go, without servers: the
// policy figures' ingest (walk3 into two long series and many 1 000-point metrics, bodies
// of at most 10 000 measures, one commit per body and metric as metricd folds them) run
// in process through the engine and the file storage driver, then every metric's folder
// taken apart: split payloads (positions vs values, per method and granularity), chunk
// headers, split record headers, the manifest's bookkeeping, the engine state (raw buffer
// and split index), the `manifest` symbolic links, and what packs hold that no manifest
// names (dead space). The total is the matrix's figure: apparent size over stored points.
//
//   node packages/bench/dist/bytes-breakdown.js [--policy mean,medium] [--json]
import { randomUUID } from 'node:crypto';
import { lstat, mkdtemp, open, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStorage } from '@tally/storage';
import { blobAnatomy, decodeState, processMeasures, type ArchivePolicy, type Measures } from '@tally/timeseries';
import { MATRIX_POLICIES, POLICY_HELP, type MatrixPolicy } from './cells.js';
import { generate, Rng } from './datasets.js';
import { MATRIX_POLICY_BODIES } from './matrix.js';
import { enginePolicy, storedPoints, type MetricPoints } from './processing.js';

/** The matrix's defaults (index.ts): two long series, 100 metrics of 1 000 points, seed 1. */
export interface BreakdownConfig {
  seriesPoints: readonly number[];
  aggregateMetrics: number;
  aggregatePoints: number;
  seed: number;
  /** Measures per body, as the matrix sends them. */
  bodyPoints: number;
}

export const DEFAULT_BREAKDOWN: BreakdownConfig = { seriesPoints: [10_000, 100_000], aggregateMetrics: 100, aggregatePoints: 1000, seed: 1, bodyPoints: 10_000 };

const EPOCH_START = Date.UTC(2024, 0, 1) / 1000;

/** The same points as the matrix's extrasPoints. */
export function breakdownPoints(cfg: BreakdownConfig): MetricPoints[] {
  const at = (n: number, seed: number): MetricPoints => ({
    seconds: Float64Array.from({ length: n }, (_, i) => EPOCH_START + i),
    values: generate('walk3', n, new Rng(seed)),
  });
  return [
    ...cfg.seriesPoints.map((n, k) => at(n, cfg.seed * 104_729 + k + 1)),
    ...Array.from({ length: cfg.aggregateMetrics }, (_, k) => at(cfg.aggregatePoints, cfg.seed * 7_919 + 1_000 + k)),
  ];
}

/** Bytes of one part of a series' splits. */
export interface SeriesBytes {
  series: string;
  points: number;
  keys: number;
  values: number;
  /** Chunk headers and segment tables inside the split blobs. */
  chunkHeaders: number;
  splits: number;
  codecs: Map<string, number>;
}

export interface Breakdown {
  policy: MatrixPolicy;
  metrics: number;
  storedPoints: number;
  /** lstat sizes of every file and link under the storage folder: the matrix's figure. */
  apparent: number;
  series: SeriesBytes[];
  /** Split record headers (magic + CRC-32), 8 bytes per live split. */
  recordHeaders: number;
  /** Manifests less the state they carry: version, ids, pack table, split table. */
  manifests: number;
  /** Pack trailers (manifest length and magic). */
  trailers: number;
  stateBufferKeys: number;
  stateBufferValues: number;
  stateBufferHeaders: number;
  /** Raw points the states' buffers hold. */
  stateBufferPoints: number;
  /** State version, chunk table and split index. */
  stateIndex: number;
  /** The `manifest` symbolic links (their target's length). */
  links: number;
  /** Pack bytes no live manifest names. */
  dead: number;
}

function toMeasures(p: MetricPoints, from: number, to: number): Measures {
  const ts = new BigInt64Array(to - from);
  for (let i = from; i < to; i++) ts[i - from] = BigInt(p.seconds[i]) * 1_000_000_000n;
  return { ts, values: p.values.slice(from, to) };
}

/** Sum of lstat sizes of every file and link under `root`, as bench's diskUsage counts them. */
async function apparentSize(root: string): Promise<number> {
  let total = 0;
  for (const ent of await readdir(root, { withFileTypes: true })) {
    const p = join(root, ent.name);
    total += ent.isDirectory() ? await apparentSize(p) : (await lstat(p)).size;
  }
  return total;
}

async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const f = await open(path, 'r');
  try {
    const b = Buffer.alloc(length);
    await f.read(b, 0, length, offset);
    return b;
  } finally {
    await f.close();
  }
}

async function ingest(dir: string, policy: ArchivePolicy, points: readonly MetricPoints[], bodyPoints: number): Promise<string[]> {
  const storage = await openStorage(`file://${dir}`);
  const ids: string[] = [];
  try {
    for (const p of points) {
      const id = randomUUID();
      ids.push(id);
      for (let from = 0; from < p.seconds.length; from += bodyPoints) {
        const u = await storage.update(id);
        const change = await processMeasures(policy, u.state, toMeasures(p, from, Math.min(p.seconds.length, from + bodyPoints)), (key) => u.readSplit(key));
        // The batch applied before was deleted from incoming meanwhile: metricd forgets it.
        await u.commit({ ...change, applied: [`${from.toString(16).padStart(12, '0')}-00000001-0000abcd1234`], forget: [...u.applied] });
      }
    }
  } finally {
    await storage.close();
  }
  return ids;
}

/** Ingests the policy's points into a fresh folder and takes every metric apart. */
export async function breakdown(name: MatrixPolicy, cfg: BreakdownConfig = DEFAULT_BREAKDOWN): Promise<Breakdown> {
  const spec = MATRIX_POLICY_BODIES[name];
  const policy = enginePolicy(name, spec);
  const points = breakdownPoints(cfg);
  const dir = await mkdtemp(join(tmpdir(), 'tally-bytes-'));
  try {
    const ids = await ingest(dir, policy, points, cfg.bodyPoints);
    const out: Breakdown = {
      policy: name, metrics: ids.length, storedPoints: points.reduce((s, p) => s + storedPoints(p.seconds, p.values, spec), 0),
      apparent: await apparentSize(dir), series: [], recordHeaders: 0, manifests: 0, trailers: 0,
      stateBufferKeys: 0, stateBufferValues: 0, stateBufferHeaders: 0, stateBufferPoints: 0, stateIndex: 0, links: 0, dead: 0,
    };
    const bySeries = new Map<string, SeriesBytes>();
    const storage = await openStorage(`file://${dir}`);
    try {
      for (const id of ids) {
        const folder = join(dir, id.slice(0, 2), id);
        const link = join(folder, 'manifest');
        out.links += (await lstat(link)).size;
        const live = await readlink(link);
        const packs = (await readdir(folder)).filter((f) => f.endsWith('.pack'));
        let packBytes = 0;
        for (const p of packs) packBytes += (await lstat(join(folder, p))).size;
        const livePath = join(folder, live);
        const liveSize = (await lstat(livePath)).size;
        const manifestLength = (await readRange(livePath, liveSize - 8, 8)).readUInt32LE(0);
        out.trailers += 8;
        const rec = await storage.read(id);
        const stateBytes = rec.state?.length ?? 0;
        out.manifests += manifestLength - stateBytes;
        let live_ = manifestLength + 8;
        if (rec.state !== null) {
          const st = decodeState(rec.state);
          let chunkBytes = 0;
          for (const c of st.chunks ?? []) {
            const a = blobAnatomy(c.bytes, true);
            out.stateBufferKeys += a.keys;
            out.stateBufferValues += a.values;
            out.stateBufferHeaders += a.header;
            out.stateBufferPoints += a.points;
            chunkBytes += c.bytes.length;
          }
          out.stateIndex += stateBytes - chunkBytes;
          for (const [prefix, starts] of st.splits) {
            let s = bySeries.get(prefix);
            if (s === undefined) bySeries.set(prefix, (s = { series: prefix, points: 0, keys: 0, values: 0, chunkHeaders: 0, splits: 0, codecs: new Map() }));
            for (const start of starts) {
              const blob = await rec.readSplit(`${prefix}_${start}`);
              if (blob === null) continue;
              const a = blobAnatomy(blob);
              s.points += a.points;
              s.keys += a.keys;
              s.values += a.values;
              s.chunkHeaders += a.header;
              s.splits++;
              for (const c of a.codecs) s.codecs.set(c, (s.codecs.get(c) ?? 0) + 1);
              out.recordHeaders += 8;
              live_ += 8 + blob.length;
            }
          }
        }
        out.dead += packBytes - live_;
      }
    } finally {
      await storage.close();
    }
    // Long series' method names sort by granularity within method, as the policy lists them.
    out.series = [...bySeries.values()].sort((a, b) => (a.series < b.series ? -1 : 1));
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function methodLabel(prefix: string): string {
  const cut = prefix.lastIndexOf('_');
  const g = Number(BigInt(prefix.slice(cut + 1)) / 1_000_000_000n);
  const gl = g % 3600 === 0 ? `${g / 3600}h` : g % 60 === 0 ? `${g / 60}min` : `${g}s`;
  return `${prefix.slice(0, cut)} ${gl}`;
}

export function renderBreakdown(b: Breakdown): string {
  const per = (x: number) => (x / b.storedPoints).toFixed(3);
  const rows: [string, number, string][] = [];
  let splitsTotal = 0;
  for (const s of b.series) {
    const codecs = [...s.codecs].map(([c, n]) => `${c} x${n}`).join(', ');
    rows.push([`  ${methodLabel(s.series)}: positions (${s.points} pts)`, s.keys, ''], [`  ${methodLabel(s.series)}: values`, s.values, `${((8 * s.values) / Math.max(1, s.points)).toFixed(2)} bit/pt; ${codecs}`], [`  ${methodLabel(s.series)}: chunk headers (${s.splits} splits)`, s.chunkHeaders, '']);
    splitsTotal += s.keys + s.values + s.chunkHeaders;
  }
  const parts: [string, number, string][] = [
    ['split payloads', splitsTotal, ''],
    ...rows,
    ['split record headers', b.recordHeaders, ''],
    ['manifests (without state)', b.manifests, ''],
    ['pack trailers', b.trailers, ''],
    [`state buffer: timestamps (${b.stateBufferPoints} raw pts)`, b.stateBufferKeys, ''],
    ['state buffer: values', b.stateBufferValues, `${((8 * b.stateBufferValues) / Math.max(1, b.stateBufferPoints)).toFixed(2)} bit/pt`],
    ['state buffer: chunk headers', b.stateBufferHeaders, ''],
    ['state: version, chunk table, split index', b.stateIndex, ''],
    ['manifest symbolic links', b.links, ''],
    ['packs: dead space', b.dead, ''],
  ];
  const counted = parts.filter((p) => !p[0].startsWith('  ')).reduce((s, p) => s + p[1], 0);
  const lines = [
    `policy ${b.policy} (${POLICY_HELP[b.policy]}): ${b.metrics} metrics, ${b.storedPoints} stored aggregate points`,
    `  total ${b.apparent} B = ${per(b.apparent)} B/point (unaccounted ${b.apparent - counted} B)`,
    ...parts.map(([label, bytes, note]) => `${label.padEnd(52)} ${String(bytes).padStart(9)} B  ${per(bytes).padStart(7)} B/pt${note ? `  ${note}` : ''}`),
  ];
  return `${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { policy: { type: 'string' }, json: { type: 'boolean' } } });
  const names: MatrixPolicy[] = [];
  for (const n of values.policy === undefined ? MATRIX_POLICIES : values.policy.split(',')) {
    const known = MATRIX_POLICIES.find((p) => p === n);
    if (known === undefined) {
      process.stderr.write(`unknown policy ${n} (known: ${MATRIX_POLICIES.join(', ')})\n`);
      return 2;
    }
    names.push(known);
  }
  for (const n of names) {
    const b = await breakdown(n);
    process.stdout.write(values.json ? `${JSON.stringify({ ...b, series: b.series.map((s) => ({ ...s, codecs: Object.fromEntries(s.codecs) })) })}\n` : renderBreakdown(b));
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) process.exitCode = await main(process.argv.slice(2));
