// Shell-style patterns with the meaning CPython 3.11 gives them in fnmatch.fnmatchcase,
// which is how Gnocchi applies archive policy rules and aggregates metric wildcards.
//
// The language. A pattern and a name are sequences of Unicode code points (a character
// outside the BMP is one character, as in Python; a lone surrogate is one character too).
// Matching is case-sensitive and anchored at both ends; no character is special in a name.
//
//   *       any run of characters, empty included, `/` and newlines included.
//           Adjacent stars are one star.
//   ?       exactly one character, whatever it is.
//   [seq]   one character of the set; [!seq] one character not in it.
//   other   itself. `\` is an ordinary character: there is no way to quote.
//
// Sets. After `[` (or `[!`), a `]` is part of the set; the set ends at the next `]`.
// A `[` without that closing `]` is an ordinary character and parsing resumes right after
// it. Inside a set every character is itself except range hyphens, found left to right:
// a `-` joins its two neighbours into an inclusive range of code points (`[a-z]`), except
// a `-` in first place (after any `!`) or last place, and except the character right
// after a range, which cannot start another one (`[a-c-e]` is {a..c, -, e}). A reversed
// range (`[z-a]`) is dropped together with both its ends. Python builds the set's regular
// expression from what is left, so two further rules follow: when what is left starts
// with `!` (given, or uncovered by a dropped range: `[c-b!x]`), the set is negated and
// that `!` removed, after which a `-` in first place is itself; an empty set matches
// nothing (`[z-a]`), and an empty negated set matches any character (`[!b-a]`).
//
// Every string is a pattern: fnmatch refuses none. validateGlob is the admission check for
// patterns coming from users: it refuses a pattern longer than MAX_PATTERN_LENGTH, the
// only pattern Tally treats as never valid.
//
// Cost. No regular expression is built: a pattern compiles in O(P) into fixed-length
// segments of one-character tests separated by stars. test(name) anchors the first segment
// at the start of the name and the last at its end, and places each middle segment at the
// leftmost position after the previous one where it fits (with single-character tests
// the leftmost placement is never worse, so there is no backtracking). Each segment is
// tried at no more than N start positions, at a cost of at most its length in pattern
// characters each (a set costs at most its number of ranges), so a test costs at most
// N x P character comparisons for a name of N characters and a pattern of P, whatever the
// pattern. For MAX_PATTERN_LENGTH and a 255-character name that is about 260 000
// comparisons, well under a millisecond.
//
// Hand-written rather than taken from a glob library: the libraries build regular
// expressions (the backtracking this module exists to avoid) and follow bash or POSIX
// rather than Python's set syntax.

/**
 * The longest pattern (in code points) validateGlob admits. Patterns are matched against
 * metric names, at most 255 characters in Gnocchi's schema; a useful pattern can still be
 * several times longer than the names it matches, for instance with a set per character
 * to match regardless of case (`[Dd][Ii][Ss][Kk]...` is four pattern characters per name
 * character), so the limit leaves room for that over a full-length name while keeping a
 * test to at most 1024 x N comparisons.
 */
export const MAX_PATTERN_LENGTH = 1024;

/** A pattern refused by validateGlob; `reason` is the sentence without the pattern. */
export class InvalidPatternError extends Error {
  override name = 'InvalidPatternError';
  constructor(readonly pattern: string, readonly reason: string) {
    super(`Invalid pattern: ${reason}`);
  }
}

export interface Glob {
  readonly pattern: string;
  /** Whether the whole of `name` matches the pattern. */
  test(name: string): boolean;
}

// A token tests one character: a code point (>= 0) is that character, ANY is `?`, and
// SET_BASE - k is the k-th set of the pattern.
const ANY = -1;
const SET_BASE = -2;

/** A set: sorted-by-position inclusive code point ranges [lo0, hi0, lo1, hi1, ...]. */
interface CharSet {
  negated: boolean;
  ranges: number[];
}

const HYPHEN = 0x2d;
const BANG = 0x21;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const STAR = 0x2a;
const QUESTION = 0x3f;

function codePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.codePointAt(i) as number;
    out.push(c);
    if (c > 0xffff) i++;
  }
  return out;
}

/** Length in code points, without building the array. */
function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/**
 * The set between p[start] (first character after `[`) and p[end] (its closing `]`),
 * following the steps of Python's fnmatch.translate and then of its regular expression
 * parser on the result.
 */
function parseSet(p: readonly number[], start: number, end: number): CharSet {
  // Which hyphens are range hyphens (translate's scan: the first character, and the one
  // after a leading `!`, cannot be one; after a range the scan skips its right end).
  const rangeHyphen = new Set<number>();
  let k = p[start] === BANG ? start + 2 : start + 1;
  for (;;) {
    while (k < end && p[k] !== HYPHEN) k++;
    if (k >= end) break;
    rangeHyphen.add(k);
    k += 3;
  }
  // A hyphen closing the set is itself.
  rangeHyphen.delete(end - 1);
  // A reversed range goes, ends included. Each range only involves its own two neighbours
  // (range hyphens are at least three apart), so the ranges are independent.
  const dropped = new Set<number>();
  for (const h of rangeHyphen) {
    if (p[h - 1] > p[h + 1]) {
      dropped.add(h - 1);
      dropped.add(h);
      dropped.add(h + 1);
    }
  }
  const items: { cp: number; range: boolean }[] = [];
  for (let i = start; i < end; i++) {
    if (!dropped.has(i)) items.push({ cp: p[i], range: rangeHyphen.has(i) });
  }
  let first = 0;
  const negated = items.length > 0 && items[0].cp === BANG;
  if (negated) first = 1;
  // The regular expression parser: an item, then a range hyphen and its right end make a
  // range; anything else (a range hyphen in first place included) is a character.
  const ranges: number[] = [];
  for (let i = first; i < items.length; i++) {
    const lo = items[i].cp;
    if (i + 2 < items.length && items[i + 1].range) {
      ranges.push(lo, items[i + 2].cp);
      i += 2;
    } else {
      ranges.push(lo, lo);
    }
  }
  return { negated, ranges };
}

function inSet(set: CharSet, c: number): boolean {
  const r = set.ranges;
  for (let i = 0; i < r.length; i += 2) {
    if (c >= r[i] && c <= r[i + 1]) return !set.negated;
  }
  return set.negated;
}

class CompiledGlob implements Glob {
  /** Star-separated segments; one segment means no star. */
  private readonly segments: Int32Array[];
  private readonly sets: CharSet[];
  /** Characters a name needs at least (the tokens outside stars). */
  private readonly minLength: number;

  constructor(readonly pattern: string) {
    const p = codePoints(pattern);
    const segments: Int32Array[] = [];
    const sets: CharSet[] = [];
    let current: number[] = [];
    let i = 0;
    while (i < p.length) {
      const c = p[i++];
      if (c === STAR) {
        segments.push(Int32Array.from(current));
        current = [];
        while (p[i] === STAR) i++;
      } else if (c === QUESTION) {
        current.push(ANY);
      } else if (c === OPEN) {
        let j = i;
        if (p[j] === BANG) j++;
        if (p[j] === CLOSE) j++;
        while (j < p.length && p[j] !== CLOSE) j++;
        if (j >= p.length) {
          current.push(OPEN);
        } else {
          const set = parseSet(p, i, j);
          if (set.ranges.length === 0 && set.negated) current.push(ANY);
          else {
            current.push(SET_BASE - sets.length);
            sets.push(set);
          }
          i = j + 1;
        }
      } else {
        current.push(c);
      }
    }
    segments.push(Int32Array.from(current));
    this.segments = segments;
    this.sets = sets;
    this.minLength = segments.reduce((n, s) => n + s.length, 0);
  }

  test(name: string): boolean {
    const s = codePoints(name);
    if (s.length < this.minLength) return false;
    const segs = this.segments;
    if (segs.length === 1) return s.length === segs[0].length && this.matchAt(segs[0], s, 0);
    const head = segs[0];
    const tail = segs[segs.length - 1];
    const tailAt = s.length - tail.length;
    if (!this.matchAt(head, s, 0) || !this.matchAt(tail, s, tailAt)) return false;
    let at = head.length;
    for (let k = 1; k < segs.length - 1; k++) {
      const seg = segs[k];
      const last = tailAt - seg.length;
      while (at <= last && !this.matchAt(seg, s, at)) at++;
      if (at > last) return false;
      at += seg.length;
    }
    return true;
  }

  private matchAt(seg: Int32Array, s: readonly number[], at: number): boolean {
    for (let t = 0; t < seg.length; t++) {
      const tok = seg[t];
      const c = s[at + t];
      if (tok >= 0) {
        if (tok !== c) return false;
      } else if (tok !== ANY && !inSet(this.sets[SET_BASE - tok], c)) {
        return false;
      }
    }
    return true;
  }
}

/**
 * Refuses a pattern from a user that Tally never admits: longer than
 * MAX_PATTERN_LENGTH code points.
 */
export function validateGlob(pattern: string): void {
  const n = codePointLength(pattern);
  if (n > MAX_PATTERN_LENGTH) {
    throw new InvalidPatternError(pattern, `pattern is ${n} characters long, more than the ${MAX_PATTERN_LENGTH} allowed`);
  }
}

/**
 * Compiles any pattern (Python refuses none; stored patterns are matched whatever their
 * length, the cost bound holds for all). Check patterns from users with validateGlob.
 */
export function compileGlob(pattern: string): Glob {
  return new CompiledGlob(pattern);
}

/** fnmatch.fnmatchcase(name, pattern). */
export function fnmatch(name: string, pattern: string): boolean {
  return new CompiledGlob(pattern).test(name);
}
