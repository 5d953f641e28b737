// CSV of the values a chart shows (RFC 4180: CRLF line ends, fields quoted when they hold a
// comma, a quote or a line break, quotes doubled), so that spreadsheets and Python's csv
// module read back exactly the table the console displays.

export type Cell = string | number | null;

function field(c: Cell): string {
  if (c === null || (typeof c === 'number' && Number.isNaN(c))) return '';
  const s = typeof c === 'number' ? String(c) : c;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCsv(header: readonly string[], rows: Iterable<readonly Cell[]>): string {
  const lines = [header.map(field).join(',')];
  for (const r of rows) lines.push(r.map(field).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** Columns of one or more series on a shared time axis (seconds), as CSV rows. */
export function* seriesRows(times: ArrayLike<number>, columns: ReadonlyArray<ArrayLike<number | null>>, formatTime: (seconds: number) => string): Generator<Cell[]> {
  for (let i = 0; i < times.length; i++) {
    const row: Cell[] = [formatTime(times[i])];
    for (const c of columns) row.push(c[i] ?? null);
    yield row;
  }
}
