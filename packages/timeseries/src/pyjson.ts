// JSON as Python's json.dumps writes it: ", " and ": " separators, floats as Python writes
// them ("1.0", "5e-05", "1e+16", NaN), optionally every character outside printable ASCII
// escaped (json.dumps's default ensure_ascii). Gnocchi's clients and test suites match
// response bodies as strings, and receivers written for Aodh may compare or sign the bytes
// of its notifications, so the layout is part of the contract. One writer serves Gnocchi's
// answers (non-ASCII kept, as Gnocchi's renderer does), Aodh's answers and history details
// and the notifier's bodies (ASCII, as Aodh's json.dumps defaults).
//
// Hand-written: JSON.stringify's layout cannot be configured this way, and no library
// writes Python's float forms.
import { pyFloatJson } from './pyfloat.js';

export interface PyJsonOptions {
  /** Escape every character outside printable ASCII as \uXXXX (json.dumps(ensure_ascii=True)). */
  ensureAscii?: boolean;
  /**
   * Keys whose numbers Python holds as floats whatever their value, at any depth (an alarm
   * rule's threshold): written as floats ("300.0") where a plain number would be an int.
   */
  floatKeys?: ReadonlySet<string>;
}

/** Marks a number that Python holds as a float (granularities, measure values). */
export class PyFloat {
  constructor(readonly v: number) {}
  /** For JSON.stringify (error messages in logs), which cannot write it as Python would. */
  toJSON(): number {
    return this.v;
  }
}

/** Pre-serialised JSON spliced in as is (large measure arrays built in one pass). */
export class Raw {
  constructor(readonly text: string) {}
}

/**
 * Pre-serialised JSON as ASCII bytes, spliced in as is. For answers of many megabytes: a
 * string of them (the lists decoded, joined, spliced into the body, then encoded again for
 * the socket) held the event loop for over half a second on a 23 MB answer, while
 * pyJsonBody keeps these chunks as they are and only the small text around them is encoded.
 */
export class RawBytes {
  constructor(readonly chunks: readonly Uint8Array[]) {}
}

const asciiText = new TextDecoder();

function asciiString(s: string): string {
  // JSON.stringify already writes \" \\ \b \f \n \r \t and \u00xx for other controls as
  // Python does; what is left is what ensure_ascii adds: DEL and every non-ASCII unit.
  return JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A plain number may have been an int in Python (written as digits); a non-integral one can
 * only be a float (5e-05), and so is, in practice, an integral one from 1e16 on: past 2^53 a
 * double no longer holds the int's digits, and Python writes such floats as 1e+16, which
 * Python clients must not read back as ints. Values known to be floats whatever their value
 * are given as PyFloat (or named by `floatKeys`).
 */
function plainNumber(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 1e16 ? String(n) : pyFloatJson(n);
}

/**
 * json.dumps(value) as pieces in order: text, and the chunks of RawBytes as they are.
 * `undefined` members of objects are left out, as JSON.stringify does.
 */
function pyJsonPieces(value: unknown, options: PyJsonOptions): { pieces: Array<string | Uint8Array>; bytes: boolean } {
  const str = options.ensureAscii ? asciiString : JSON.stringify;
  const floatKeys = options.floatKeys;
  const pieces: Array<string | Uint8Array> = [];
  let bytes = false;
  const write = (v: unknown, asFloat: boolean): void => {
    if (v === null || v === undefined) {
      pieces.push('null');
      return;
    }
    switch (typeof v) {
      case 'string':
        pieces.push(str(v));
        return;
      case 'number':
        pieces.push(asFloat ? pyFloatJson(v) : plainNumber(v));
        return;
      case 'boolean':
        pieces.push(v ? 'true' : 'false');
        return;
      case 'bigint':
        pieces.push(v.toString());
        return;
      case 'object':
        break;
      default:
        pieces.push('null');
        return;
    }
    if (v instanceof PyFloat) {
      pieces.push(pyFloatJson(v.v));
    } else if (Array.isArray(v)) {
      pieces.push('[');
      for (let i = 0; i < v.length; i++) {
        if (i > 0) pieces.push(', ');
        write(v[i], false);
      }
      pieces.push(']');
    } else if (v instanceof Raw) {
      pieces.push(v.text);
    } else if (v instanceof RawBytes) {
      bytes = true;
      for (const c of v.chunks) pieces.push(c);
    } else {
      pieces.push('{');
      let first = true;
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === undefined) continue;
        if (!first) pieces.push(', ');
        first = false;
        pieces.push(str(k), ': ');
        write(x, floatKeys !== undefined && floatKeys.has(k));
      }
      pieces.push('}');
    }
  };
  write(value, false);
  return { pieces, bytes };
}

/** json.dumps(value) as text (RawBytes decoded); `undefined` members of objects are left out, as JSON.stringify does. */
export function pyJson(value: unknown, options: PyJsonOptions = {}): string {
  const { pieces } = pyJsonPieces(value, options);
  let out = '';
  for (const p of pieces) out += typeof p === 'string' ? p : asciiText.decode(p);
  return out;
}

const utf8 = new TextEncoder();

/**
 * json.dumps(value) for an answer's body: the text when it holds no RawBytes, else its
 * UTF-8 bytes as chunks (RawBytes' own, and the text between them encoded), for the
 * caller to send without making one string of them.
 */
export function pyJsonBody(value: unknown, options: PyJsonOptions = {}): string | Uint8Array[] {
  const { pieces, bytes } = pyJsonPieces(value, options);
  if (!bytes) return pieces.join('');
  const chunks: Uint8Array[] = [];
  let text = '';
  for (const p of pieces) {
    if (typeof p === 'string') {
      text += p;
      continue;
    }
    if (text !== '') chunks.push(utf8.encode(text));
    text = '';
    chunks.push(p);
  }
  if (text !== '') chunks.push(utf8.encode(text));
  return chunks;
}
