// How client commands print what they got, in cliff's formats (what the `gnocchi` and `aodh`
// CLIs offer): a box table for people, and json, yaml, csv or value for scripts.
//
// The table is written here rather than taken from cli-table3: that package is not among
// the workspace's dependencies, and cliff's look (prettytable's +---+ box, multi-line cells,
// numbers right-aligned) is a few dozen lines. Display widths likewise: the string-width in
// node_modules is an old CommonJS release pulled in by other tools, so the small function
// below measures East Asian wide characters and emoji as two columns itself.
import { stringify as toYaml } from 'yaml';
import type { JsonValue } from '@tally/client';

export const FORMATS = ['table', 'json', 'csv', 'value', 'yaml'] as const;
export type Format = (typeof FORMATS)[number];

/** A list of items (cliff's Lister): column names and one row of cells per item. */
export interface ListResult {
  kind: 'list';
  columns: string[];
  rows: JsonValue[][];
}

/** One item (cliff's ShowOne): field names to values, in display order. */
export interface ShowResult {
  kind: 'show';
  fields: [string, JsonValue][];
}

export type Result = ListResult | ShowResult;

export interface OutputOptions {
  format: Format;
  /** Only these columns (fields); empty for all. */
  columns: string[];
  /** ANSI colour in tables (a terminal without NO_COLOR). */
  color: boolean;
}

/** A mistake in the command line (an unknown column or format): exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const list = (columns: string[], rows: JsonValue[][]): ListResult => ({ kind: 'list', columns, rows });

/** A list from objects, one row each, taking `columns` from every object (missing: null). */
export function listOf(columns: string[], items: readonly Record<string, JsonValue | undefined>[]): ListResult {
  return list(columns, items.map((o) => columns.map((c) => o[c] ?? null)));
}

/** One item, its fields sorted by name as cliff's ShowOne sorts them. */
export function show(obj: Record<string, JsonValue | undefined>): ShowResult {
  const keys = Object.keys(obj).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { kind: 'show', fields: keys.map((k) => [k, obj[k] ?? null]) };
}

/** Whether tables may be coloured: stdout is a terminal and NO_COLOR is unset or empty. */
export function colorWanted(isTty: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return isTty && !env.NO_COLOR;
}

/**
 * Keeps the columns asked for, in the command's order as cliff keeps them; an unknown one is
 * a usage error naming the known ones (cliff ignores it unless none is known).
 */
export function selectColumns(r: Result, wanted: string[]): Result {
  if (wanted.length === 0) return r;
  const known = r.kind === 'list' ? r.columns : r.fields.map(([k]) => k);
  const unknown = wanted.filter((c) => !known.includes(c));
  if (unknown.length > 0) {
    throw new UsageError(`unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `'${c}'`).join(', ')}; the columns are: ${known.join(', ')}`);
  }
  if (r.kind === 'show') return { kind: 'show', fields: r.fields.filter(([k]) => wanted.includes(k)) };
  const idx = r.columns.flatMap((c, i) => (wanted.includes(c) ? [i] : []));
  return list(idx.map((i) => r.columns[i]), r.rows.map((row) => idx.map((i) => row[i])));
}

/** The text to print (ends with a newline unless empty). */
export function render(result: Result, opts: OutputOptions): string {
  const r = selectColumns(result, opts.columns);
  switch (opts.format) {
    case 'json':
      return `${JSON.stringify(asObjects(r), jsonSafe, 2)}\n`;
    case 'yaml':
      // As cliff writes YAML (PyYAML's safe_dump): keys sorted, lists not indented under their
      // key, YAML 1.1 so that text reading as a timestamp or a boolean there is quoted.
      return r.kind === 'list' && r.rows.length === 0 ? '[]\n' : toYaml(asObjects(r), { version: '1.1', sortMapEntries: true, indentSeq: false, singleQuote: true });
    case 'csv':
      return csv(r);
    case 'value':
      return value(r);
    case 'table':
      return table(r, opts.color);
  }
}

/** NaN and infinities, which Gnocchi's aggregates can hold, as JSON cannot: as strings. */
function jsonSafe(_k: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

function asObjects(r: Result): JsonValue {
  if (r.kind === 'show') return Object.fromEntries(r.fields);
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])));
}

/**
 * A cell as cliff prints one: Python's str() of the value, so None, True and False, and lists
 * and objects as Python writes them (['a', 1]), the same text the gnocchi and aodh CLIs show.
 */
export function cellText(v: JsonValue): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

function pyRepr(v: JsonValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v);
  if (typeof v === 'string') {
    // Python quotes with ' unless the text holds ' and no ".
    if (v.includes("'") && !v.includes('"')) return `"${pyEscape(v)}"`;
    return `'${pyEscape(v).replace(/'/g, "\\'")}'`;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
}

function pyEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
}

// ------------------------------------------------------------------ csv and value

/**
 * Fields as cliff's csv writes them (Python's csv module, QUOTE_NONNUMERIC, lines ended by
 * os.linesep): numbers and booleans bare (True, False), everything else quoted with quotes
 * doubled, None as "".
 */
function csvField(v: JsonValue): string {
  if (typeof v === 'number' || typeof v === 'boolean') return cellText(v);
  return `"${(v === null ? '' : cellText(v)).replace(/"/g, '""')}"`;
}

function csv(r: Result): string {
  const [head, rows] = r.kind === 'list' ? [r.columns, r.rows] : [r.fields.map(([k]) => k), [r.fields.map(([, v]) => v)]];
  return [head.map((h) => csvField(h)), ...rows.map((row) => row.map(csvField))].map((l) => `${l.join(',')}\n`).join('');
}

/** Values only, space separated, one row (or, for one item, one field) a line: for `$(...)` in shells. */
function value(r: Result): string {
  const lines = r.kind === 'list' ? r.rows.map((row) => row.map(cellText).join(' ')) : r.fields.map(([, v]) => cellText(v));
  return lines.map((l) => `${l}\n`).join('');
}

// ------------------------------------------------------------------ table

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** East Asian Wide and Fullwidth blocks (UAX #11) and the emoji blocks terminals draw two columns wide. */
function wideCodePoint(cp: number): boolean {
  return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) || (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd);
}

/** Columns a string takes on a terminal: graphemes, two for wide ones and emoji, none for controls. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const { segment } of segmenter.segment(s.replace(ANSI, ''))) {
    const cp = segment.codePointAt(0) ?? 0;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) continue;
    w += wideCodePoint(cp) || (/\p{Extended_Pictographic}/u.test(segment) && /\uFE0F|\p{Emoji_Presentation}/u.test(segment)) ? 2 : 1;
  }
  return w;
}

const pad = (s: string, width: number, right: boolean): string => {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(s)));
  return right ? fill + s : s + fill;
};

const bold = (s: string): string => `\u001b[1m${s}\u001b[22m`;
const STATE_COLOURS: Record<string, number> = { alarm: 31, ok: 32, 'insufficient data': 33 };

/** Alarm states in colour, so that a list of alarms reads at a glance. */
function colourCell(column: string, text: string): string {
  const c = column === 'state' ? STATE_COLOURS[text] : undefined;
  return c === undefined ? text : `\u001b[${c}m${text}\u001b[39m`;
}

function table(r: Result, color: boolean): string {
  const [head, rows] = r.kind === 'list' ? [r.columns, r.rows] : [['Field', 'Value'], r.fields.map(([k, v]) => [k, v] as JsonValue[])];
  if (r.kind === 'list' && rows.length === 0 && head.length === 0) return '';
  // In lists numbers are right-aligned, as cliff aligns a column by the type of its first
  // value; an item's Field and Value columns are left-aligned.
  const right = head.map((_h, i) => r.kind === 'list' && rows.length > 0 && typeof rows[0][i] === 'number');
  const cells = rows.map((row) => row.map((v) => cellText(v).split(/\r?\n/)));
  const widths = head.map((h, i) => Math.max(displayWidth(h), ...cells.map((row) => Math.max(...row[i].map(displayWidth)))));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+\n`;
  const line = (parts: string[]) => `| ${parts.join(' | ')} |\n`;
  let out = rule + line(head.map((h, i) => (color ? bold(pad(h, widths[i], false)) : pad(h, widths[i], false)))) + rule;
  for (const row of cells) {
    const height = Math.max(1, ...row.map((c) => c.length));
    for (let l = 0; l < height; l++) {
      out += line(row.map((c, i) => {
        const padded = pad(c[l] ?? '', widths[i], right[i]);
        return color && l === 0 ? padded.replace(c[l] ?? '', colourCell(head[i], c[l] ?? '')) : padded;
      }));
    }
  }
  return rows.length > 0 ? out + rule : out;
}
