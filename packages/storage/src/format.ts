// On-disk encodings of a metric's commit pack, its manifest and its split records
// (integers little-endian).
//
// Pack (one file per commit, "<gen>-<8 hex nonce>.pack", immutable):
//   split records | manifest | u32 manifest length | magic "TLYP"
// The metric folder's `manifest` is a symbolic link to the live pack, replaced by rename:
// one file and one fsync per commit, however many splits it writes.
// Split record: magic "TLYS" | u32 CRC-32 of the payload | payload. A manifest names each
//   split by (pack, offset, length of the record). Split files of older commits
//   ("<gen>-<8 hex>-<index>.split", one record each) are still read.
// Manifest: magic "TLYM" | u32 version | u32 CRC-32 (from version 4: of the version and
//   bytes [12, end); before: of bytes [12, end)) | body (below).
//   Version 1 (read only): u32 JSON length | JSON { gen, hasState, applied[], splits[[key, file]] }
//   | state bytes. Versions 2, 3 and 4 (read only) and 5 (written): see the body layout below.
import { crc32 } from 'node:zlib';
import { readVarint, unzigzag, writeVarint, zigzag, MAX_VARINT_BYTES, VARINT_TRUNCATED } from '@tally/timeseries';
import { CorruptStorageError } from './errors.js';
import type { CommitChange, MetricRecord } from './types.js';

const MANIFEST_MAGIC = 0x4d594c54; // "TLYM"
const SPLIT_MAGIC = 0x53594c54; // "TLYS"
const PACK_MAGIC = 0x50594c54; // "TLYP"
/** Bytes after a pack's manifest: its length and the magic. */
export const PACK_TRAILER_BYTES = 8;
/** Version 1: JSON bookkeeping. Version 2: binary bookkeeping. Both still read. */
const VERSION_JSON = 1;
const VERSION_PACKED = 2;
const VERSION_DELTA_IDS = 3;
/** Pack table, split records in packs; the CRC covers the version. */
const VERSION_PACKS = 4;
/** Split keys as tokens, record offsets against the previous record's end. */
const VERSION = 5;

/** Where a split's record is: `length` < 0 means the whole file (a split file). */
export interface SplitRef {
  file: string;
  offset: number;
  length: number;
}

export interface Manifest {
  /** Commit generation; 0 means "no commit yet". Packs and split files carry the generation that wrote them. */
  gen: number;
  state: Uint8Array | null;
  applied: Set<string>;
  /** Split key -> its record. */
  splits: Map<string, SplitRef>;
  /**
   * Pack name -> bytes of its split records, for every pack a split ref names and the
   * manifest's own pack (whose manifest and trailer follow its records).
   */
  packs: Map<string, number>;
}

export const EMPTY_MANIFEST: Manifest = Object.freeze({
  gen: 0,
  state: null,
  applied: new Set<string>(),
  splits: new Map<string, SplitRef>(),
  packs: new Map<string, number>(),
});

/** A caller's view of a manifest (read-only, see MetricRecord). */
export function recordOf(m: Manifest): MetricRecord {
  return { state: m.state, applied: m.applied };
}

/** The applied ids after `change`: its own added, those it forgets removed. */
export function nextApplied(current: ReadonlySet<string>, change: CommitChange): Set<string> {
  const applied = new Set(current);
  for (const id of change.forget) applied.delete(id);
  for (const id of change.applied) applied.add(id);
  return applied;
}

interface ManifestJson {
  gen: number;
  hasState: boolean;
  applied: string[];
  splits: Array<[string, string]>;
}

// Version 5 body: version 4's, but each split's key and its u8 2 reference are coded as
//   key: varint token count, then per token of the key cut at '_': varint tag, where
//     tag = 2 i: text token i of the manifest's token table; i = the table's size adds a
//       token to it, front-coded against the token added before it (varint shared prefix
//       length + varint suffix length + suffix, UTF-8);
//     tag = 2 e + 1: the decimal digits of m x 10^e (no leading zeros; m not a multiple of
//       10, or 0 with e = 0; m < 2^53, else the token is text), followed by varint m;
//   a reference to a record in a pack that starts where the previous record this table
//     placed in that pack ends (at 0 for its first) is u8 3 + varint pack index + varint
//     record length, the offset left out; others are written as in version 4.
// Engine split keys (`${method}_${granularityNs}_${startNs}`) thus cost about 8 bytes and
// their reference 4, instead of about 30 and 6: a manifest of a metric with 12 small splits
// shrinks from ~560 bytes to ~200.
//
// Version 4 body, after magic | u32 version | u32 CRC-32:
//   varint gen | u8 flags (1: has state) | varint applied count | applied ids (see putApplied)
//   | varint pack count | per pack: name + varint size
//   | varint split count | per split: key (front-coded against the previous key)
//     + u8 0 + split file name (gen, nonce, index) | u8 1 + varint length + UTF-8 file name
//     | u8 2 + varint pack index + varint offset + varint record length
//   | state bytes (to the end)
// A pack name is u8 0 + varint generation + 4 nonce bytes for "<gen>-<8 hex>.pack", else
// u8 1 + varint length + UTF-8. Versions 2 and 3 have no pack table and only split files;
// version 2 packs applied ids one by one (putPacked), version 3 sorts them and writes each
// against the previous one (an incoming batch id then costs about 4 bytes instead of 21).
// A packed string is u8 0 + varint length + UTF-8, or u8 1 + varint group count + per
// group varint byte length + bytes for lowercase hex with dashes between even-length
// groups (incoming batch ids), which halves them. Fixed overhead matters: a metric whose
// splits compress to a few bytes (a constant series) is mostly bookkeeping.

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
const PACK_NAME = /^(\d{1,15})-([0-9a-f]{8})\.pack$/;

/** The canonical decimal spelling, so that a name decodes back to the same text. */
const canonical = (digits: string): boolean => String(Number(digits)) === digits;

export function packName(gen: number, nonce: string): string {
  return `${gen}-${nonce}.pack`;
}

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

/** Bytes `a` and `b` share at their start (front coding). */
function sharedPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** A front-coded string's bytes: varint bytes shared with `previous`, varint length and the rest. */
function getFrontCoded(src: ByteSource, previous: Buffer, file: string, what: string): Buffer {
  const shared = src.varint();
  if (shared > previous.length) throw new CorruptStorageError(file, `bad ${what} prefix`);
  return Buffer.concat([previous.subarray(0, shared), src.bytes(src.varint())]);
}

export function encodeManifest(m: Manifest): Buffer {
  const out = new ByteSink();
  for (let i = 0; i < 12; i++) out.byte(0); // magic, version, CRC: filled below
  out.varint(m.gen);
  out.byte(m.state !== null ? 1 : 0);
  out.varint(m.applied.size);
  putApplied(out, [...m.applied].sort());
  const packIndex = new Map<string, number>();
  out.varint(m.packs.size);
  for (const [name, size] of m.packs) {
    packIndex.set(name, packIndex.size);
    const p = PACK_NAME.exec(name);
    if (p !== null && canonical(p[1])) {
      out.byte(0);
      out.varint(Number(p[1]));
      out.bytes(Buffer.from(p[2], 'hex'));
    } else {
      out.byte(1);
      out.text(name);
    }
    out.varint(size);
  }
  out.varint(m.splits.size);
  const tokens = new Map<string, number>();
  const lastToken: { bytes: Buffer } = { bytes: Buffer.alloc(0) };
  const packEnds = new Map<number, number>();
  for (const [key, ref] of m.splits) {
    putKey(out, key, tokens, lastToken);
    if (ref.length >= 0) {
      const index = packIndex.get(ref.file);
      if (index === undefined) throw new RangeError(`split ${key} names pack ${ref.file}, absent from the pack table`);
      if (ref.offset === (packEnds.get(index) ?? 0)) {
        out.byte(3);
        out.varint(index);
      } else {
        out.byte(2);
        out.varint(index);
        out.varint(ref.offset);
      }
      out.varint(ref.length);
      packEnds.set(index, ref.offset + ref.length);
      continue;
    }
    const name = SPLIT_NAME.exec(ref.file);
    if (name !== null && canonical(name[1]) && canonical(name[3])) {
      out.byte(0);
      out.varint(Number(name[1]));
      out.bytes(Buffer.from(name[2], 'hex'));
      out.varint(Number(name[3]));
    } else {
      out.byte(1);
      out.text(ref.file);
    }
  }
  if (m.state !== null) out.bytes(m.state);
  const buf = out.result();
  buf.writeUInt32LE(MANIFEST_MAGIC, 0);
  buf.writeUInt32LE(VERSION, 4);
  buf.writeUInt32LE(manifestCrc(buf, VERSION), 8);
  // A copy of exactly the encoded bytes (the sink's buffer may be larger).
  return Buffer.from(buf);
}

const NUMERIC = /^(?:0|[1-9][0-9]{0,29})$/;

function putKey(out: ByteSink, key: string, tokens: Map<string, number>, lastToken: { bytes: Buffer }): void {
  const parts = key.split('_');
  out.varint(parts.length);
  for (const t of parts) {
    if (NUMERIC.test(t)) {
      let m = BigInt(t);
      let e = 0;
      while (m !== 0n && m % 10n === 0n) {
        m /= 10n;
        e++;
      }
      if (m <= BigInt(Number.MAX_SAFE_INTEGER)) {
        out.varint(2 * e + 1);
        out.varint(Number(m));
        continue;
      }
    }
    const i = tokens.get(t);
    if (i !== undefined) {
      out.varint(2 * i);
      continue;
    }
    out.varint(2 * tokens.size);
    const b = Buffer.from(t, 'utf8');
    const shared = sharedPrefix(lastToken.bytes, b);
    out.varint(shared);
    out.varint(b.length - shared);
    out.bytes(b.subarray(shared));
    tokens.set(t, tokens.size);
    lastToken.bytes = b;
  }
}

function getKey(src: ByteSource, tokens: string[], lastToken: { bytes: Buffer }, file: string): string {
  const n = src.varint();
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const tag = src.varint();
    if (tag % 2 === 1) {
      const e = (tag - 1) / 2;
      const m = src.varint();
      if (e > 29 || (m === 0 && e > 0) || (m !== 0 && m % 10 === 0)) throw new CorruptStorageError(file, 'bad numeric key token');
      parts.push(`${m}${'0'.repeat(e)}`);
      continue;
    }
    const index = tag / 2;
    if (index > tokens.length) throw new CorruptStorageError(file, 'bad key token');
    if (index === tokens.length) {
      lastToken.bytes = getFrontCoded(src, lastToken.bytes, file, 'key token');
      tokens.push(lastToken.bytes.toString('utf8'));
    }
    parts.push(tokens[index]);
  }
  return parts.join('_');
}

/**
 * From version 4 the CRC covers the version field too, so that a flipped version cannot
 * make a reader take one layout for another.
 */
function manifestCrc(bytes: Buffer, version: number): number {
  const body = bytes.subarray(12);
  return version >= VERSION_PACKS ? crc32(body, crc32(bytes.subarray(4, 8))) : crc32(body);
}

/** The bytes after a pack's manifest. */
export function encodePackTrailer(manifestLength: number): Buffer {
  const t = Buffer.allocUnsafe(PACK_TRAILER_BYTES);
  t.writeUInt32LE(manifestLength, 0);
  t.writeUInt32LE(PACK_MAGIC, 4);
  return t;
}

/** The manifest's length from a pack's last PACK_TRAILER_BYTES bytes. */
export function decodePackTrailer(trailer: Buffer, packSize: number, file: string): number {
  if (trailer.length !== PACK_TRAILER_BYTES || trailer.readUInt32LE(4) !== PACK_MAGIC) {
    throw new CorruptStorageError(file, 'bad pack magic or truncated');
  }
  const length = trailer.readUInt32LE(0);
  if (length + PACK_TRAILER_BYTES > packSize) throw new CorruptStorageError(file, 'bad manifest length');
  return length;
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
  if (version >= VERSION_DELTA_IDS) {
    applied = getApplied(src, count, file);
  } else {
    applied = new Set<string>();
    for (let i = count; i > 0; i--) applied.add(getPacked(src, file));
  }
  const packs = new Map<string, number>();
  const packNames: string[] = [];
  if (version >= VERSION_PACKS) {
    for (let i = src.varint(); i > 0; i--) {
      const kind = src.byte();
      let name: string;
      if (kind === 0) {
        const g = src.varint();
        name = packName(g, src.bytes(4).toString('hex'));
      } else if (kind === 1) {
        name = src.text();
      } else {
        throw new CorruptStorageError(file, 'bad pack name kind');
      }
      packs.set(name, src.varint());
      packNames.push(name);
    }
  }
  const splits = new Map<string, SplitRef>();
  let previous: Buffer = Buffer.alloc(0);
  const tokens: string[] = [];
  const lastToken: { bytes: Buffer } = { bytes: Buffer.alloc(0) };
  const packEnds = new Map<number, number>();
  for (let i = src.varint(); i > 0; i--) {
    let key: string;
    if (version >= VERSION) {
      key = getKey(src, tokens, lastToken, file);
    } else {
      previous = getFrontCoded(src, previous, file, 'key');
      key = previous.toString('utf8');
    }
    const kind = src.byte();
    let ref: SplitRef;
    if (kind === 0) {
      const g = src.varint();
      const nonce = src.bytes(4).toString('hex');
      ref = { file: `${g}-${nonce}-${src.varint()}.split`, offset: 0, length: -1 };
    } else if (kind === 1) {
      ref = { file: src.text(), offset: 0, length: -1 };
    } else if ((kind === 2 && version >= VERSION_PACKS) || (kind === 3 && version >= VERSION)) {
      const index = src.varint();
      const pack = packNames[index];
      if (pack === undefined) throw new CorruptStorageError(file, 'bad pack index');
      const offset = kind === 3 ? packEnds.get(index) ?? 0 : src.varint();
      ref = { file: pack, offset, length: src.varint() };
      packEnds.set(index, offset + ref.length);
    } else {
      throw new CorruptStorageError(file, 'bad split file kind');
    }
    splits.set(key, ref);
  }
  return {
    gen,
    // Copy: the caller may keep the state while the file buffer is reused or mutated.
    state: (flags & 1) !== 0 ? new Uint8Array(bytes.subarray(src.pos)) : null,
    applied,
    splits,
    packs,
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
  if (version !== VERSION && version !== VERSION_PACKS && version !== VERSION_DELTA_IDS && version !== VERSION_PACKED && version !== VERSION_JSON) {
    throw new CorruptStorageError(file, 'unknown version');
  }
  if (manifestCrc(bytes, version) !== bytes.readUInt32LE(8)) {
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
    splits: new Map(json.splits.map(([key, file]) => [key, { file, offset: 0, length: -1 }])),
    packs: new Map(),
  };
}

/** A split record: an 8-byte header (magic, CRC) then the payload. */
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
