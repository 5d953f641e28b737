// The string form of the operations language: "(aggregate mean (metric ID mean))".
// Gnocchi reads it with pyparsing's nestedExpr; clients see pyparsing's error text, so the
// reader below reproduces its tokens (quoted strings kept verbatim) and its messages and
// error positions.

/** A parsed S-expression: atoms are strings, groups are lists. */
export type SExpr = string | SExpr[];

export class OperationsParseError extends Error {
  override name = 'OperationsParseError';
  /** pyparsing's message, e.g. "Expected ')', found end of text  (at char 15), (line:1, col:16)". */
  constructor(readonly detail: string) {
    super(detail);
  }
}

const WHITE = new Set([' ', '\t', '\n', '\r']);
// pyparsing's quoted_string: double or single quoted, with doubled quotes and escapes.
const DOUBLE_QUOTED = /"(?:[^"\n\r\\]|""|\\(?:[^x]|x[0-9a-fA-F]+))*"/y;
const SINGLE_QUOTED = /'(?:[^'\n\r\\]|''|\\(?:[^x]|x[0-9a-fA-F]+))*'/y;
// The "found 'word'" part of pyparsing messages: up to 16 word characters, else one character.
const FOUND_WORD = /[0-9A-Za-z\u00aa\u00b2\u00b3\u00b5\u00b9\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u052f]{1,16}|[\s\S]/y;

/** Python str.expandtabs(8): pyparsing works on the expanded text. */
export function expandTabs(s: string): string {
  if (!s.includes('\t')) return s;
  let out = '';
  let col = 0;
  for (const ch of s) {
    if (ch === '\t') {
      const n = 8 - (col % 8);
      out += ' '.repeat(n);
      col += n;
    } else {
      out += ch;
      col = ch === '\n' || ch === '\r' ? 0 : col + 1;
    }
  }
  return out;
}

/** Python repr() of a short string, as pyparsing prints the text it found. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let body = '';
  for (const ch of s) {
    if (ch === '\\') body += '\\\\';
    else if (ch === quote) body += '\\' + ch;
    else if (ch === '\n') body += '\\n';
    else if (ch === '\r') body += '\\r';
    else if (ch === '\t') body += '\\t';
    else if (ch < ' ' || ch === '\x7f') body += '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0');
    else body += ch;
  }
  return quote + body + quote;
}

function failure(s: string, expected: string, loc: number): OperationsParseError {
  let found = '';
  if (s.length > 0) {
    if (loc >= s.length) found = ', found end of text';
    else {
      FOUND_WORD.lastIndex = loc;
      const word = FOUND_WORD.exec(s)?.[0] ?? s[loc];
      found = `, found ${pyStrRepr(word)}`.replaceAll('\\\\', '\\');
    }
  }
  const line = s.slice(0, loc).split('\n').length;
  const col = loc > 0 && loc < s.length && s[loc - 1] === '\n' ? 1 : loc - s.lastIndexOf('\n', loc - 1);
  return new OperationsParseError(`Expected '${expected}'${found}  (at char ${loc}), (line:${line}, col:${col})`);
}

function skipWhite(s: string, at: number): number {
  while (at < s.length && WHITE.has(s[at])) at++;
  return at;
}

function quotedAt(s: string, at: number): string | null {
  for (const re of [DOUBLE_QUOTED, SINGLE_QUOTED]) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (m !== null) return m[0];
  }
  return null;
}

/** One bare word: characters up to whitespace, a parenthesis or the start of a quoted string. */
function wordAt(s: string, at: number): string {
  let end = at;
  while (end < s.length && !WHITE.has(s[end]) && s[end] !== '(' && s[end] !== ')') {
    if (end > at && (s[end] === '"' || s[end] === "'") && quotedAt(s, end) !== null) break;
    end++;
  }
  return s.slice(at, end);
}

type GroupResult = { ok: true; value: SExpr[]; end: number } | { ok: false; at: number };

/**
 * A group starting at `start` (on its '('). A failed inner group makes this group fail
 * at the inner group's start, which is where pyparsing reports it.
 */
function group(s: string, start: number): GroupResult {
  const items: SExpr[] = [];
  let at = start + 1;
  for (;;) {
    at = skipWhite(s, at);
    if (at >= s.length) return { ok: false, at };
    const ch = s[at];
    if (ch === ')') return { ok: true, value: items, end: at + 1 };
    if (ch === '(') {
      const inner = group(s, at);
      if (!inner.ok) return { ok: false, at };
      items.push(inner.value);
      at = inner.end;
      continue;
    }
    const token = quotedAt(s, at) ?? wordAt(s, at);
    items.push(token);
    at += token.length;
  }
}

/** The first parenthesised group of `text`; whatever follows it is ignored, as in Gnocchi. */
export function parseOperationsString(text: string): SExpr[] {
  const s = expandTabs(text);
  const start = skipWhite(s, 0);
  if (s[start] !== '(') throw failure(s, '(', start);
  const result = group(s, start);
  if (!result.ok) throw failure(s, ')', result.at);
  return result.value;
}
