// The agent's publish queue on disk: every cycle's samples are appended here (and fsynced)
// before anything is sent, and leave only once the store has acknowledged them, so that a
// store away for hours, or the agent killed at any instant, loses nothing it had read.
//
// Layout: a folder of append-only segment files `seg-<16 digits>.log`, numbered in write
// order. A record is
//
//   u32 LE length of the payload | u32 LE CRC-32 of (count, payload) | u32 LE sample count | payload
//
// The write segment rolls over past `segmentBytes`. `cursor.json` names the first record
// not yet acknowledged ({segment, offset}); it is replaced by rename and not fsynced: after
// a crash it may point earlier than it should, and records sent twice are harmless because
// measures carry their timestamps (the store keeps one value per timestamp). Segments the
// cursor has passed are deleted. A record whose header or CRC does not check out (the tail
// of a write cut short by a crash) ends its segment: the file is truncated there, and the
// bytes dropped are counted and logged.
//
// Bounded: past `maxBytes` the oldest segments are deleted, with their unacknowledged
// samples counted as dropped and logged, never silently.
import { crc32 } from 'node:zlib';
import { mkdir, open, readFile, rename, stat, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, isMissing, listDir, readRange } from '@tally/files';
import type { Logger } from './pollster.js';

const HEADER = 12;
/** A length above this is not a record but garbage (a torn header). */
const MAX_RECORD = 1 << 30;
const SEGMENT_NAME = /^seg-(\d{16})\.log$/;
const CURSOR = 'cursor.json';

interface RecordRef {
  offset: number;
  /** Header included. */
  length: number;
  samples: number;
}

interface Segment {
  seq: number;
  path: string;
  size: number;
  records: RecordRef[];
}

/** A record read back for sending; `ack(record)` acknowledges it and every earlier one. */
export interface BufferedRecord {
  readonly segment: number;
  readonly offset: number;
  readonly samples: number;
  readonly payload: Buffer;
}

export interface BufferStats {
  /** Records, samples and bytes not yet acknowledged. */
  records: number;
  samples: number;
  bytes: number;
  /** Samples deleted unsent because the buffer was full (since start). */
  droppedSamples: number;
  /** Torn or corrupt records found at open and cut off (since start), and their bytes. */
  tornRecords: number;
  tornBytes: number;
}

export interface DiskBufferOptions {
  maxBytes: number;
  /** Size past which a new segment is started; by default an eighth of maxBytes, at most 8 MiB. */
  segmentBytes?: number;
  log: Logger;
}

const segmentName = (seq: number): string => `seg-${String(seq).padStart(16, '0')}.log`;

export class DiskBuffer {
  readonly dir: string;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #log: Logger;
  /** Oldest first; the last one is written to. */
  readonly #segments: Segment[] = [];
  /** The first unacknowledged record: its segment and offset. */
  #cursor = { segment: 0, offset: 0 };
  #fh: FileHandle | null = null;
  #droppedSamples = 0;
  #tornRecords = 0;
  #tornBytes = 0;
  /** One append, ack or trim at a time. */
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, opts: DiskBufferOptions) {
    this.dir = dir;
    this.#maxBytes = opts.maxBytes;
    this.#segmentBytes = opts.segmentBytes ?? Math.max(64 * 1024, Math.min(8 * 1024 * 1024, Math.floor(opts.maxBytes / 8)));
    this.#log = opts.log;
  }

  /** Opens (or creates) the buffer in `dir`, checking every record and cutting torn tails off. */
  static async open(dir: string, opts: DiskBufferOptions): Promise<DiskBuffer> {
    const b = new DiskBuffer(dir, opts);
    await mkdir(dir, { recursive: true });
    await b.#load();
    return b;
  }

  async #load(): Promise<void> {
    const seqs = (await listDir(this.dir)).map((n) => SEGMENT_NAME.exec(n)).filter((m) => m !== null)
      .map((m) => Number(m[1])).sort((a, b) => a - b);
    for (const seq of seqs) this.#segments.push(await this.#scan(seq));
    try {
      const c = JSON.parse(await readFile(join(this.dir, CURSOR), 'utf8')) as { segment?: unknown; offset?: unknown };
      if (typeof c.segment === 'number' && typeof c.offset === 'number') this.#cursor = { segment: c.segment, offset: c.offset };
    } catch (e) {
      if (!isMissing(e)) this.#log('warn', 'buffer cursor unreadable: every buffered record will be sent again', { dir: this.dir, error: (e as Error).message });
    }
    // A cursor naming a segment that is gone points at the oldest one there is.
    const first = this.#segments[0];
    if (first && this.#cursor.segment < first.seq) this.#cursor = { segment: first.seq, offset: 0 };
    await this.#dropAcknowledged();
    if (this.#segments.length === 0) await this.#newSegment((seqs.at(-1) ?? 0) + 1);
    const last = this.#segments[this.#segments.length - 1];
    this.#fh = await open(last.path, 'a');
    const s = this.stats();
    if (s.records > 0) this.#log('info', 'buffer holds samples not yet published', { dir: this.dir, samples: s.samples, bytes: s.bytes });
  }

  /** Reads a segment's records; cuts it at the first one that does not check out. */
  async #scan(seq: number): Promise<Segment> {
    const path = join(this.dir, segmentName(seq));
    const data = await readFile(path);
    const records: RecordRef[] = [];
    let off = 0;
    while (off + HEADER <= data.length) {
      const len = data.readUInt32LE(off);
      if (len > MAX_RECORD || off + HEADER + len > data.length) break;
      if (crc32(data.subarray(off + 8, off + HEADER + len)) !== data.readUInt32LE(off + 4)) break;
      records.push({ offset: off, length: HEADER + len, samples: data.readUInt32LE(off + 8) });
      off += HEADER + len;
    }
    if (off < data.length) {
      // Only a crash mid-append leaves bytes past the last good record; count them as one record.
      this.#tornRecords++;
      this.#tornBytes += data.length - off;
      this.#log('warn', 'buffer: torn record after a crash, cut off', { segment: path, offset: off, bytes: data.length - off });
      await truncate(path, off);
    }
    return { seq, path, size: off, records };
  }

  async #newSegment(seq: number): Promise<void> {
    const path = join(this.dir, segmentName(seq));
    await writeFile(path, '', { flag: 'wx' });
    await fsyncDir(this.dir);
    this.#segments.push({ seq, path, size: 0, records: [] });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn, fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  /**
   * Appends one record and makes it durable (fsync) before resolving; then drops the
   * oldest segments if the buffer is over its bound.
   */
  append(payload: Buffer, samples: number): Promise<void> {
    return this.#serial(async () => {
      if (this.#fh === null) throw new Error('buffer is closed');
      let last = this.#segments[this.#segments.length - 1];
      if (last.size >= this.#segmentBytes) {
        await this.#fh.close();
        this.#fh = null;
        await this.#newSegment(last.seq + 1);
        last = this.#segments[this.#segments.length - 1];
        this.#fh = await open(last.path, 'a');
      }
      const head = Buffer.alloc(HEADER);
      head.writeUInt32LE(payload.length, 0);
      head.writeUInt32LE(samples, 8);
      head.writeUInt32LE(crc32(payload, crc32(head.subarray(8, 12))), 4);
      const { bytesWritten } = await this.#fh.writev([head, payload]);
      if (bytesWritten !== HEADER + payload.length) {
        // A short append (disk full) leaves a torn record; cut it so the next append is readable.
        await this.#fh.truncate(last.size);
        throw Object.assign(new Error(`buffer: short write (${bytesWritten} of ${HEADER + payload.length} bytes)`), { code: 'ENOSPC' });
      }
      await this.#fh.datasync();
      last.records.push({ offset: last.size, length: HEADER + payload.length, samples });
      last.size += HEADER + payload.length;
      await this.#trim();
    });
  }

  /** Deletes the oldest segments while the buffer is over its bound (never the one written to). */
  async #trim(): Promise<void> {
    while (this.#segments.length > 1 && this.#totalBytes() > this.#maxBytes) {
      const oldest = this.#segments.shift() as Segment;
      const lost = this.#pending(oldest);
      const samples = lost.reduce((s, r) => s + r.samples, 0);
      this.#droppedSamples += samples;
      if (this.#cursor.segment <= oldest.seq) this.#cursor = { segment: this.#segments[0].seq, offset: 0 };
      await unlink(oldest.path).catch((e: unknown) => { if (!isMissing(e)) throw e; });
      if (samples > 0) {
        this.#log('warn', 'buffer full: oldest samples dropped unsent', {
          dir: this.dir, droppedSamples: samples, droppedRecords: lost.length, maxBytes: this.#maxBytes, droppedTotal: this.#droppedSamples,
        });
      }
    }
  }

  #totalBytes(): number {
    return this.#segments.reduce((s, g) => s + g.size, 0);
  }

  /** Records of a segment not yet acknowledged. */
  #pending(seg: Segment): RecordRef[] {
    if (seg.seq < this.#cursor.segment) return [];
    if (seg.seq > this.#cursor.segment) return seg.records;
    return seg.records.filter((r) => r.offset >= this.#cursor.offset);
  }

  /**
   * The oldest unacknowledged records, in order: at least one (when there is one), then as
   * many more as fit in `maxBytes` of payload.
   */
  async peek(maxBytes: number): Promise<BufferedRecord[]> {
    const out: BufferedRecord[] = [];
    let bytes = 0;
    for (const seg of this.#segments) {
      for (const r of this.#pending(seg)) {
        if (out.length > 0 && bytes + r.length > maxBytes) return out;
        const raw = await readRange(seg.path, r.offset, r.length);
        out.push({ segment: seg.seq, offset: r.offset, samples: r.samples, payload: raw.subarray(HEADER) });
        bytes += r.length;
      }
    }
    return out;
  }

  /** Acknowledges `record` and every record before it; segments wholly acknowledged are deleted. */
  ack(record: BufferedRecord): Promise<void> {
    return this.#serial(async () => {
      const seg = this.#segments.find((s) => s.seq === record.segment);
      if (!seg) return; // dropped meanwhile: nothing left to acknowledge
      const r = seg.records.find((x) => x.offset === record.offset);
      if (!r) return;
      const next = { segment: seg.seq, offset: r.offset + r.length };
      if (next.segment < this.#cursor.segment || (next.segment === this.#cursor.segment && next.offset <= this.#cursor.offset)) return;
      this.#cursor = next;
      const tmp = join(this.dir, `${CURSOR}.tmp`);
      await writeFile(tmp, JSON.stringify(this.#cursor));
      await rename(tmp, join(this.dir, CURSOR));
      await this.#dropAcknowledged();
    });
  }

  /** Deletes segments before the cursor's, and the cursor's own when it is wholly acknowledged and not written to. */
  async #dropAcknowledged(): Promise<void> {
    while (this.#segments.length > 1) {
      const s = this.#segments[0];
      if (this.#pending(s).length > 0) break;
      this.#segments.shift();
      await unlink(s.path).catch((e: unknown) => { if (!isMissing(e)) throw e; });
      if (this.#cursor.segment <= s.seq) this.#cursor = { segment: this.#segments[0].seq, offset: 0 };
    }
  }

  stats(): BufferStats {
    let records = 0;
    let samples = 0;
    let bytes = 0;
    for (const seg of this.#segments) {
      for (const r of this.#pending(seg)) {
        records++;
        samples += r.samples;
        bytes += r.length;
      }
    }
    return { records, samples, bytes, droppedSamples: this.#droppedSamples, tornRecords: this.#tornRecords, tornBytes: this.#tornBytes };
  }

  /** Size of the segment files on disk (acknowledged records included until their segment goes). */
  async diskBytes(): Promise<number> {
    let n = 0;
    for (const s of this.#segments) n += (await stat(s.path).catch(() => ({ size: 0 }))).size;
    return n;
  }

  close(): Promise<void> {
    return this.#serial(async () => {
      await this.#fh?.close();
      this.#fh = null;
    });
  }
}
