// Gnocchi's `filter=` query-string syntax (REST QueryStringSearchAttrFilter), e.g.
//   id = 'abc' and (started_at > '2015' or user_id in ["a", "b"])
// parsed into the same JSON tree as POSTed searches. The grammar is reproduced as a PEG
// (ordered choice, no backtracking into a matched alternative) because that is how
// pyparsing behaves: e.g. "nonexistent = 1" fails in Gnocchi (None|none|null matches
// "none" first), and so it does here. The tree is built with Gnocchi's own algorithm,
// including its operand order for chains ("a and b and c" -> {"and": [c, b, a]}).
import { InvalidFilter } from './errors.js';
import type { ResourceFilter } from './types.js';

type Scalar = string | number | boolean | null;
/** pyparsing ParseResults: a group (condition or operator chain) or an `in` list. */
type Node = Scalar | { group: Node[] } | { list: Node[] };

const BINARY_RE = /^(?:>=|<=|!=|>|<|=|==|eq|ne|lt|gt|ge|le|in|like|≠|≥|≤)/;
const BINARY = new Set(['>=', '<=', '!=', '>', '<', '=', '==', 'eq', 'ne', 'lt', 'gt', 'ge', 'le', 'in', 'like', '≠', '≥', '≤']);
const MULTIPLE = new Set(['and', 'or', '∧', '∨']);
/** infixNotation levels, loosest first; `not` is the tightest. */
const LEVELS = ['∨', 'or', '∧', 'and'];
const MAX_DEPTH = 32;

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly s: string) {}

  private ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos])) this.pos++;
  }

  private fail(expected: string): never {
    const at = this.pos;
    const found = at >= this.s.length ? 'end of text' : `'${this.s[at]}'`;
    throw new InvalidFilter(`Expected ${expected}, found ${found}  (at char ${at}), (line:1, col:${at + 1})`);
  }

  private match(re: RegExp): string | null {
    this.ws();
    const m = re.exec(this.s.slice(this.pos));
    if (m === null) return null;
    this.pos += m[0].length;
    return m[0];
  }

  private literal(lit: string): boolean {
    this.ws();
    if (!this.s.startsWith(lit, this.pos)) return false;
    this.pos += lit.length;
    return true;
  }

  parseAll(): Node {
    const n = this.expr();
    this.ws();
    if (this.pos < this.s.length) this.fail('end of text');
    return n;
  }

  private expr(level = 0): Node {
    if (level === LEVELS.length) return this.unary();
    const op = LEVELS[level];
    const first = this.expr(level + 1);
    const items: Node[] = [first];
    for (;;) {
      const save = this.pos;
      if (!this.literal(op)) break;
      try {
        items.push(this.expr(level + 1));
      } catch (e) {
        // pyparsing's OneOrMore stops at the last complete repetition.
        this.pos = save;
        if (items.length === 1) throw e;
        break;
      }
      items.splice(items.length - 1, 0, op);
    }
    return items.length === 1 ? first : { group: items };
  }

  private unary(): Node {
    const save = this.pos;
    if (this.literal('not')) {
      try {
        return { group: ['not', this.unary()] };
      } catch {
        this.pos = save;
      }
    }
    return this.atom();
  }

  private atom(): Node {
    if (this.literal('(')) {
      if (++this.depth > MAX_DEPTH) throw new InvalidFilter(`nested more than ${MAX_DEPTH} levels`);
      const inner = this.expr();
      if (!this.literal(')')) this.fail("')'");
      this.depth--;
      return inner;
    }
    const left = this.term();
    const op = this.match(BINARY_RE);
    if (op === null) this.fail('operator');
    return { group: [left, op, this.term()] };
  }

  private term(): Node {
    let m: string | null;
    if ((m = this.match(/^(?:None|none|null)/)) !== null) return null;
    if ((m = this.match(/^(?:False|True|false|true)/)) !== null) return m.toLowerCase() === 'true';
    if ((m = this.match(/^[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}/)) !== null) return m;
    if ((m = this.match(/^[A-Za-z][A-Za-z0-9_]*/)) !== null) return m;
    if ((m = this.match(/^[+-]?\d+(:?\.\d*)?(:?[eE][+-]?\d+)?/)) !== null) return Number.parseFloat(m);
    if ((m = this.match(/^"[^"]*"|^'[^']*'/)) !== null) return unescapeWhitespace(m.slice(1, -1));
    if (this.literal('[')) return this.list();
    return this.fail('term');
  }

  private list(): Node {
    const items: Node[] = [];
    if (!this.literal(']')) {
      do items.push(this.term()); while (this.literal(','));
      if (!this.literal(']')) this.fail("']'");
    }
    return { list: items };
  }
}

/** pyparsing's QuotedString converts whitespace escapes in the content. */
function unescapeWhitespace(s: string): string {
  return s.replace(/\\([tnfr])/g, (_, c: string) => ({ t: '\t', n: '\n', f: '\f', r: '\r' })[c] ?? c);
}

function listValue(n: Node): unknown {
  if (n !== null && typeof n === 'object') return 'list' in n ? n.list.map(listValue) : n.group.map(listValue);
  return n;
}

/** Port of Gnocchi's _parsed_query2dict: consumes the group from its end. */
function toDict(group: Node[]): unknown {
  const parts = [...group];
  let result: unknown = null;
  while (parts.length > 0) {
    const part = parts.pop() as Node;
    if (typeof part === 'string' && BINARY.has(part)) {
      result = { [String(parts.pop())]: result };
      result = { [part]: result };
    } else if (typeof part === 'string' && MULTIPLE.has(part)) {
      // "a and" or "in and": an operator with nothing on its right-hand side.
      if (result === null || typeof result !== 'object') throw new InvalidFilter(`missing operand after ${part}`);
      const r = result as Record<string, unknown[]>;
      if (r[part] !== undefined) r[part].push(nodeToDict(parts.pop() as Node));
      else result = { [part]: [result] };
    } else if (part === 'not') {
      result = { not: result };
    } else if (part !== null && typeof part === 'object') {
      const res = 'list' in part ? listValue(part) : toDict(part.group);
      if (result === null) result = res;
      else if (typeof result === 'object') (Object.values(result)[0] as unknown[]).push(res);
    } else {
      result = part;
    }
  }
  return result;
}

function nodeToDict(n: Node): unknown {
  return n !== null && typeof n === 'object' && 'group' in n ? toDict(n.group) : listValue(n);
}

/**
 * Parses a `filter=` string into a JSON search tree. Throws InvalidFilter ("Invalid
 * filter: ..."; the position details differ from pyparsing's wording). The result still
 * needs the REST layer's search schema validation, as in Gnocchi.
 */
export function parseFilterString(query: string): ResourceFilter {
  const tree = nodeToDict(new Parser(query).parseAll());
  if (typeof tree !== 'object' || tree === null || Array.isArray(tree)) throw new InvalidFilter('Expected condition');
  return tree as ResourceFilter;
}
