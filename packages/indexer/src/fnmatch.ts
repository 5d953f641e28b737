// Shell-style pattern matching with the semantics of Python's fnmatch.fnmatch on POSIX
// (case-sensitive, `*` and `?` match any character including `/` and newlines), which is
// how Gnocchi applies archive policy rules to metric names.

function escapeCodePoint(ch: string): string {
  return `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`;
}

/** Translates a bracket expression body (between `[` or `[!` and `]`) into a JS class. */
function translateClass(body: string, negated: boolean): string {
  const chars = Array.from(body);
  const parts: string[] = [];
  for (let i = 0; i < chars.length;) {
    if (i + 2 < chars.length && chars[i + 1] === '-') {
      const lo = chars[i].codePointAt(0) ?? 0;
      const hi = chars[i + 2].codePointAt(0) ?? 0;
      // Python drops reversed ranges instead of failing.
      if (lo <= hi) parts.push(`${escapeCodePoint(chars[i])}-${escapeCodePoint(chars[i + 2])}`);
      i += 3;
    } else {
      parts.push(escapeCodePoint(chars[i]));
      i += 1;
    }
  }
  if (parts.length === 0) return negated ? '.' : '(?!)';
  return `[${negated ? '^' : ''}${parts.join('')}]`;
}

export function fnmatchToRegExp(pattern: string): RegExp {
  const p = Array.from(pattern);
  let out = '';
  for (let i = 0; i < p.length;) {
    const c = p[i++];
    if (c === '*') {
      // Consecutive stars are one star.
      while (p[i] === '*') i++;
      out += '.*';
    } else if (c === '?') {
      out += '.';
    } else if (c === '[') {
      let j = i;
      if (p[j] === '!') j++;
      if (p[j] === ']') j++;
      while (j < p.length && p[j] !== ']') j++;
      if (j >= p.length) {
        out += '\\[';
      } else {
        const negated = p[i] === '!';
        out += translateClass(p.slice(negated ? i + 1 : i, j).join(''), negated);
        i = j + 1;
      }
    } else {
      out += escapeCodePoint(c);
    }
  }
  return new RegExp(`^(?:${out})$`, 'su');
}

export function fnmatch(name: string, pattern: string): boolean {
  return fnmatchToRegExp(pattern).test(name);
}
