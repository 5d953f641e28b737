// Resource ids: Gnocchi stores UUIDs and maps any other id to a name-based UUID (v5).
import { createHash } from 'node:crypto';
import { InvalidResourceId } from './errors.js';

/** Gnocchi's RESOURCE_ID_NAMESPACE: ids must map to the same UUIDs as in Gnocchi. */
const RESOURCE_ID_NAMESPACE = '0a7a15ff-aa13-4ac2-897c-9bdf30ce175b';

// White space Python's int() skips: the ASCII of C's isspace() and, beyond ASCII, Unicode's
// (which it turns into spaces first). Not JavaScript's \s: U+FEFF is not white space to
// Python, U+0085 is; U+001C..U+001F are to str.isspace() but not to int().
const PY_SPACE = ' \\t\\n\\v\\f\\r\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** Python's int(s, 16) grammar: surrounding white space, sign, optional 0x, `_` between digits. */
const PY_HEX_INT = new RegExp(`^[${PY_SPACE}]*([+-]?)(?:0[xX]_?)?([0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)[${PY_SPACE}]*$`);

const DECIMAL_DIGIT = /^\p{Nd}$/u;

/**
 * Python's int() reads any Unicode decimal digit (category Nd) as its ASCII counterpart.
 * Unicode encodes them in runs of ten, 0 to 9, so a digit's value is its distance from the
 * start of its run, modulo 10 (runs can be adjacent, as the mathematical digits are).
 */
function asciiDigits(s: string): string {
  return s.replace(/\p{Nd}/gu, (d) => {
    let cp = d.codePointAt(0)!;
    let steps = 0;
    while (DECIMAL_DIGIT.test(String.fromCodePoint(cp - 1))) {
      cp--;
      steps++;
    }
    return String(steps % 10);
  });
}

/**
 * Canonical lowercase form of a UUID in any spelling Python's uuid.UUID(str) accepts, or
 * null. Gnocchi validates ids and uuid attributes with it (utils.UUID): "urn:" and "uuid:"
 * removed anywhere, braces stripped from both ends, every hyphen removed, then 32 code
 * points read by int(s, 16), so white space, a sign, "0x" and underscores count too.
 */
export function parseUuid(value: string): string | null {
  const hex = value.replace(/urn:/g, '').replace(/uuid:/g, '').replace(/^[{}]+|[{}]+$/g, '').replace(/-/g, '');
  if (hex.length < 32 || [...hex].length !== 32) return null;
  // eslint-disable-next-line no-control-regex
  const m = PY_HEX_INT.exec(/^[\x00-\x7f]*$/.test(hex) ? hex : asciiDigits(hex));
  if (m === null) return null;
  const n = BigInt(`0x${m[2].replace(/_/g, '')}`);
  if (m[1] === '-' && n !== 0n) return null; // out of range for a UUID
  return formatUuid(n.toString(16).padStart(32, '0'));
}

function formatUuid(hex32: string): string {
  return `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-${hex32.slice(20)}`;
}

/** RFC 4122 name-based UUID, SHA-1 (Python's uuid.uuid5). */
export function uuid5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  return formatUuid(hash.subarray(0, 16).toString('hex'));
}

/**
 * Gnocchi's ResourceUUID: a UUID stays itself (canonical form); any other id up to 255
 * characters becomes uuid5(namespace, id + "\0" + creator), a null creator counting as
 * "\0". Throws InvalidResourceId with Gnocchi's messages ("/" is refused first). The
 * length limit counts code points, as Python's len() does.
 */
export function resourceUuid(originalId: string, creator: string | null): string {
  if (originalId.includes('/')) throw new InvalidResourceId("'/' is not supported in resource id");
  const uuid = parseUuid(originalId);
  if (uuid !== null) return uuid;
  if ([...originalId].length > 255) {
    throw new InvalidResourceId('transformable resource id >255 max allowed characters');
  }
  return uuid5(RESOURCE_ID_NAMESPACE, `${originalId}\0${creator ?? '\0'}`);
}
