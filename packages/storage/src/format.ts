// On-disk encodings of a metric manifest and of a split file (integers little-endian).
//
// Manifest: magic "TLYM" | u32 version | u32 CRC-32 of bytes [12, end) | u32 JSON length |
//           JSON { gen, hasState, applied[], splits[[key, file]] } | state bytes
// Split:    magic "TLYS" | u32 CRC-32 of the payload | payload
//
// JSON keeps the small bookkeeping readable in a hex dump; the state stays raw bytes.
// Pairs rather than an object for splits so any key (even "__proto__") is just data.
import { crc32 } from 'node:zlib';
import { readVarint, unzigzag, writeVarint, zigzag, MAX_VARINT_BYTES, VARINT_TRUNCATED } from '@tally/timeseries';
import { CorruptStorageError } from './errors.js';

const MANIFEST_MAGIC = 0x4d594c54; // "TLYM"
const SPLIT_MAGIC = 0x53594c54; // "TLYS"
/** Version 1: JSON bookkeeping (still read). Version 2: binary bookkeeping (written). */
const VERSION_JSON = 1;
const VERSION_PACKED = 2;
const VERSION = 3;

export interface Manifest {
  /** Commit generation; 0 means "no commit yet". Split files carry the generation that wrote them. */
  gen: number;
  state: Uint8Array | null;
  applied: Set<string>;
  /** Split key -> file name in the metric folder. */
  splits: Map<string, string>;
}

export const EMPTY_MANIFEST: Manifest = Object.freeze({
  gen: 0,
  state: null,
  applied: new Set<string>(),
  splits: new Map<string, string>(),
});

interface ManifestJson {
  gen: number;
  hasState: boolean;
  applied: string[];
  splits: Array<[string, string]>;
}

// Version 3: as version 2, but the applied ids are sorted and each is written against the
// previous one (see putApplied): incoming batch ids of one writer differ from the previous
// one only in a few low digits, so an id costs about 4 bytes instead of 21. A metric holds
// the ids its last commit folded until its next commit, and for a series that compresses
// to a few bytes (a constant) they would be most of its manifest.
//
// Version 2 body, after magic | u32 version | u32 CRC-32 of bytes [12, end):
//   varint gen | u8 flags (1: has state) | varint applied count | applied ids (packed)
//   | varint split count | per split: key (front-coded against the previous key) + file
//   | state bytes (to the end)
// A packed string is u8 0 + varint length + UTF-8, or u8 1 + varint group count + per
// group varint byte length + bytes for lowercase hex with dashes between even-length
// groups (incoming batch ids), which halves them. A file is u8 0 + varint generation +
// 4 nonce bytes + varint index for names "<gen>-<8 hex>-<index>.split", else u8 1 +
// varint length + UTF-8. Fixed overhead matters: a metric whose splits compress to a few
// bytes (a constant series) is mostly bookkeeping.

class ByteSink {
  private buf = Buffer.allocUnsafe(256);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  byte(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }

  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`bad varint ${v}`);
    this.room(MAX_VARINT_BYTES);
    this.length = writeVarint(this.buf, this.length, v);
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  text(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.varint(b.length);
    this.bytes(b);
  }

  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

class ByteSource {
  pos: number;
  constructor(private readonly buf: Buffer, start: number, private readonly file: string) {
    this.pos = start;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new CorruptStorageError(this.file, 'truncated');
    return this.buf[this.pos++];
  }

  peek(): number {
    if (this.pos >= this.buf.length) throw new CorruptStorageError(this.file, 'truncated');
    return this.buf[this.pos];
  }

  varint(): number {
    const v = readVarint(this.buf, this);
    if (v < 0) throw new CorruptStorageError(this.file, v === VARINT_TRUNCATED ? 'truncated' : 'bad varint');
    return v;
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new CorruptStorageError(this.file, 'truncated');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  text(): string {
    return this.bytes(this.varint()).toString('utf8');
  }
}

const HEX_GROUPS = /^(?:[0-9a-f]{2})+(?:-(?:[0-9a-f]{2})+)*$/;
const SPLIT_NAME = /^(\d{1,15})-([0-9a-f]{8})-(\d{1,15})\.split$/;

function putPacked(out: ByteSink, s: string): void {
  if (!HEX_GROUPS.test(s)) {
    out.byte(0);
    out.text(s);
    return;
  }
  const groups = s.split('-');
  out.byte(1);
  out.varint(groups.length);
  for (const g of groups) {
    out.varint(g.length / 2);
    out.bytes(Buffer.from(g, 'hex'));
  }
}

function getPacked(src: ByteSource, file: string): string {
  const kind = src.byte();
  if (kind === 0) return src.text();
  if (kind !== 1) throw new CorruptStorageError(file, 'bad string kind');
  const n = src.varint();
  const groups: string[] = [];
  for (let i = 0; i < n; i++) groups.push(src.bytes(src.varint()).toString('hex'));
  return groups.join('-');
}

function sharedPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export function encodeManifest(m: Manifest): Buffer {
  const out = new ByteSink();
  for (let i = 0; i < 12; i++) out.byte(0); // magic, version, CRC: filled below
  out.varint(m.gen);
  out.byte(m.state !== null ? 1 : 0);
  out.varint(m.applied.size);
  putApplied(out, [...m.applied].sort());
  out.varint(m.splits.size);
  let previous = Buffer.alloc(0);
  for (const [key, file] of m.splits) {
    const k = Buffer.from(key, 'utf8');
    const shared = sharedPrefix(previous, k);
    out.varint(shared);
    out.varint(k.length - shared);
    out.bytes(k.subarray(shared));
    previous = k;
    const name = SPLIT_NAME.exec(file);
    if (name !== null && String(Number(name[1])) === name[1] && String(Number(name[3])) === name[3]) {
      out.byte(0);
      out.varint(Number(name[1]));
      out.bytes(Buffer.from(name[2], 'hex'));
      out.varint(Number(name[3]));
    } else {
      out.byte(1);
      out.text(file);
    }
  }
  if (m.state !== null) out.bytes(m.state);
  const buf = out.result();
  buf.writeUInt32LE(MANIFEST_MAGIC, 0);
  buf.writeUInt32LE(VERSION, 4);
  buf.writeUInt32LE(crc32(buf.subarray(12)), 8);
  // A copy of exactly the encoded bytes (the sink's buffer may be larger).
  return Buffer.from(buf);
}

/** Batch id of the incoming store: <ms, 12 hex>-<counter, 8 hex>-<writer, 12 hex>. */
const BATCH_ID = /^([0-9a-f]{12})-([0-9a-f]{8})-([0-9a-f]{12})$/;

/**
 * Sorted ids. A batch id following a batch id is u8 2 + varint ms delta + zigzag varint
 * counter delta + (u8 0: same writer | u8 1 + 6 writer bytes); anything else is packed.
 */
function putApplied(out: ByteSink, sorted: readonly string[]): void {
  let prev: RegExpExecArray | null = null;
  for (const id of sorted) {
    const cur = BATCH_ID.exec(id);
    if (cur === null || prev === null) {
      putPacked(out, id);
    } else {
      out.byte(2);
      out.varint(parseInt(cur[1], 16) - parseInt(prev[1], 16)); // sorted: never negative
      out.varint(zigzag(parseInt(cur[2], 16) - parseInt(prev[2], 16)));
      if (cur[3] === prev[3]) {
        out.byte(0);
      } else {
        out.byte(1);
        out.bytes(Buffer.from(cur[3], 'hex'));
      }
    }
    prev = cur;
  }
}

function getApplied(src: ByteSource, count: number, file: string): Set<string> {
  const applied = new Set<string>();
  let prev: RegExpExecArray | null = null;
  for (let i = 0; i < count; i++) {
    let id: string;
    if (src.peek() === 2) {
      if (prev === null) throw new CorruptStorageError(file, 'delta-coded id without a previous one');
      src.byte();
      const ms = parseInt(prev[1], 16) + src.varint();
      const counter = parseInt(prev[2], 16) + unzigzag(src.varint());
      const writer = src.byte() === 0 ? prev[3] : src.bytes(6).toString('hex');
      if (counter < 0 || counter > 0xffffffff) throw new CorruptStorageError(file, 'bad batch id counter');
      id = `${ms.toString(16).padStart(12, '0')}-${counter.toString(16).padStart(8, '0')}-${writer}`;
    } else {
      id = getPacked(src, file);
    }
    applied.add(id);
    prev = BATCH_ID.exec(id);
  }
  return applied;
}

function decodeManifestV2(bytes: Buffer, file: string, version: number): Manifest {
  const src = new ByteSource(bytes, 12, file);
  const gen = src.varint();
  const flags = src.byte();
  const count = src.varint();
  let applied: Set<string>;
  if (version === VERSION) {
    applied = getApplied(src, count, file);
  } else {
    applied = new Set<string>();
    for (let i = count; i > 0; i--) applied.add(getPacked(src, file));
  }
  const splits = new Map<string, string>();
  let previous = Buffer.alloc(0);
  for (let i = src.varint(); i > 0; i--) {
    const shared = src.varint();
    if (shared > previous.length) throw new CorruptStorageError(file, 'bad key prefix');
    const k = Buffer.concat([previous.subarray(0, shared), src.bytes(src.varint())]);
    previous = k;
    const kind = src.byte();
    let name: string;
    if (kind === 0) {
      const g = src.varint();
      const nonce = src.bytes(4).toString('hex');
      name = `${g}-${nonce}-${src.varint()}.split`;
    } else if (kind === 1) {
      name = src.text();
    } else {
      throw new CorruptStorageError(file, 'bad split file kind');
    }
    splits.set(k.toString('utf8'), name);
  }
  return {
    gen,
    // Copy: the caller may keep the state while the file buffer is reused or mutated.
    state: (flags & 1) !== 0 ? new Uint8Array(bytes.subarray(src.pos)) : null,
    applied,
    splits,
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** The version 1 bookkeeping, checked field by field: the CRC says the bytes are as written, not that they are a manifest. */
function parseManifestJson(text: string, file: string): ManifestJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CorruptStorageError(file, 'bad JSON');
  }
  const j = json as Partial<Record<keyof ManifestJson, unknown>> | null;
  if (
    typeof j !== 'object' || j === null ||
    !Number.isSafeInteger(j.gen) || (j.gen as number) < 0 ||
    typeof j.hasState !== 'boolean' ||
    !Array.isArray(j.applied) || !j.applied.every(isString) ||
    !Array.isArray(j.splits) || !j.splits.every((p: unknown) => Array.isArray(p) && p.length === 2 && p.every(isString))
  ) {
    throw new CorruptStorageError(file, 'bad JSON bookkeeping');
  }
  return j as ManifestJson;
}

export function decodeManifest(bytes: Buffer, file: string): Manifest {
  if (bytes.length < 16 || bytes.readUInt32LE(0) !== MANIFEST_MAGIC) {
    throw new CorruptStorageError(file, 'bad magic or truncated');
  }
  const version = bytes.readUInt32LE(4);
  if (version !== VERSION && version !== VERSION_PACKED && version !== VERSION_JSON) {
    throw new CorruptStorageError(file, 'unknown version');
  }
  if (crc32(bytes.subarray(12)) !== bytes.readUInt32LE(8)) {
    throw new CorruptStorageError(file, 'checksum mismatch');
  }
  if (version !== VERSION_JSON) return decodeManifestV2(bytes, file, version);
  const textEnd = 16 + bytes.readUInt32LE(12);
  if (textEnd > bytes.length) throw new CorruptStorageError(file, 'bad JSON length');
  const json = parseManifestJson(bytes.toString('utf8', 16, textEnd), file);
  return {
    gen: json.gen,
    // Copy: the caller may keep the state while the file buffer is reused or mutated.
    state: json.hasState ? new Uint8Array(bytes.subarray(textEnd)) : null,
    applied: new Set(json.applied),
    splits: new Map(json.splits),
  };
}

/** Split file content: an 8-byte header (magic, CRC) then the payload. */
export function encodeSplitHeader(payload: Uint8Array): Buffer {
  const header = Buffer.allocUnsafe(8);
  header.writeUInt32LE(SPLIT_MAGIC, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return header;
}

export function decodeSplit(bytes: Buffer, file: string): Uint8Array {
  if (bytes.length < 8 || bytes.readUInt32LE(0) !== SPLIT_MAGIC) {
    throw new CorruptStorageError(file, 'bad magic or truncated');
  }
  const payload = bytes.subarray(8);
  if (crc32(payload) !== bytes.readUInt32LE(4)) throw new CorruptStorageError(file, 'checksum mismatch');
  return payload;
}
