// On-disk encodings of a metric manifest and of a split file (integers little-endian).
//
// Manifest: magic "TLYM" | u32 version | u32 CRC-32 of bytes [12, end) | u32 JSON length |
//           JSON { gen, hasState, applied[], splits[[key, file]] } | state bytes
// Split:    magic "TLYS" | u32 CRC-32 of the payload | payload
//
// JSON keeps the small bookkeeping readable in a hex dump; the state stays raw bytes.
// Pairs rather than an object for splits so any key (even "__proto__") is just data.
import { crc32 } from './crc32.js';
import { CorruptStorageError } from './errors.js';

const MANIFEST_MAGIC = 0x4d594c54; // "TLYM"
const SPLIT_MAGIC = 0x53594c54; // "TLYS"
const VERSION = 1;

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

export function encodeManifest(m: Manifest): Buffer {
  const json: ManifestJson = {
    gen: m.gen,
    hasState: m.state !== null,
    applied: [...m.applied],
    splits: [...m.splits],
  };
  const text = Buffer.from(JSON.stringify(json), 'utf8');
  const state = m.state ?? new Uint8Array(0);
  const out = Buffer.allocUnsafe(16 + text.length + state.length);
  out.writeUInt32LE(MANIFEST_MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(text.length, 12);
  text.copy(out, 16);
  out.set(state, 16 + text.length);
  out.writeUInt32LE(crc32(out.subarray(12)), 8);
  return out;
}

export function decodeManifest(bytes: Buffer, file: string): Manifest {
  if (bytes.length < 16 || bytes.readUInt32LE(0) !== MANIFEST_MAGIC) {
    throw new CorruptStorageError(file, 'bad magic or truncated');
  }
  if (bytes.readUInt32LE(4) !== VERSION) throw new CorruptStorageError(file, 'unknown version');
  if (crc32(bytes.subarray(12)) !== bytes.readUInt32LE(8)) {
    throw new CorruptStorageError(file, 'checksum mismatch');
  }
  const textEnd = 16 + bytes.readUInt32LE(12);
  if (textEnd > bytes.length) throw new CorruptStorageError(file, 'bad JSON length');
  const json = JSON.parse(bytes.toString('utf8', 16, textEnd)) as ManifestJson;
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
