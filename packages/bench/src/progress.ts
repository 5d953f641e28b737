// Progress on stderr: a bar redrawn in place on a terminal, and a line every few seconds
// otherwise (so logs of CI runs stay short but still show the run is alive).

const TTY_REDRAW_MS = 100;
const LOG_EVERY_MS = 5_000;

export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(a >= 1e10 ? 1 : 2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  return a >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toFixed(1);
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class Progress {
  private readonly tty: boolean;
  private label = '';
  private unit = '';
  private total = 0;
  private done = 0;
  private started = 0;
  private lastDraw = 0;
  private active = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly prefix = '') {
    this.tty = Boolean(stream.isTTY);
  }

  withPrefix(prefix: string): Progress {
    return new Progress(this.stream, prefix);
  }

  start(label: string, total: number, unit: string): void {
    this.finishLine();
    this.label = label;
    this.total = Math.max(0, total);
    this.unit = unit;
    this.done = 0;
    this.started = performance.now();
    this.lastDraw = this.started;
    this.active = true;
    if (!this.tty) this.stream.write(`${this.prefix}${label}: ${formatCount(this.total)} ${unit}\n`);
    this.draw(true);
  }

  tick(n = 1): void {
    if (!this.active) return;
    this.done += n;
    this.draw(false);
  }

  /** Ends the current bar, printing a final line with an optional summary. */
  end(summary = ''): void {
    if (!this.active) return;
    const elapsed = performance.now() - this.started;
    const line = `${this.prefix}${this.label}: ${formatCount(this.done)}/${formatCount(this.total)} ${this.unit} in ${(elapsed / 1000).toFixed(1)} s${summary ? `  ${summary}` : ''}`;
    this.stream.write(this.tty ? `\r${line}\x1b[K\n` : `${line}\n`);
    this.active = false;
  }

  /** A message on its own line, without breaking the bar. */
  log(message: string): void {
    if (this.tty && this.active) this.stream.write('\r\x1b[K');
    this.stream.write(`${this.prefix}${message}\n`);
    if (this.active) this.draw(true);
  }

  private finishLine(): void {
    if (this.active) this.end();
  }

  private draw(force: boolean): void {
    const now = performance.now();
    const every = this.tty ? TTY_REDRAW_MS : LOG_EVERY_MS;
    if (!force && now - this.lastDraw < every && this.done < this.total) return;
    if (!this.tty && (force || this.done >= this.total)) return; // start/end lines are enough
    this.lastDraw = now;
    const elapsed = now - this.started;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const rate = elapsed > 0 ? (this.done * 1000) / elapsed : 0;
    let head = `${this.prefix}${this.label} `;
    const tail = ` ${(frac * 100).toFixed(0).padStart(3)}% ${formatCount(this.done)}/${formatCount(this.total)} ${this.unit} ${formatCount(rate)}/s ${clock(elapsed)}`;
    if (!this.tty) {
      this.stream.write(`${head.trimEnd()}:${tail}\n`);
      return;
    }
    const cols = this.stream.columns || 100; // 0 when the terminal size is unknown
    const width = Math.max(10, Math.min(40, cols - head.length - tail.length - 3));
    // On a narrow terminal the label gives way, never the figures.
    const room = cols - 1 - tail.length - (width + 2);
    if (head.length > room) head = `${head.slice(0, Math.max(0, room - 2))}~ `;
    const filled = Math.round(frac * width);
    const bar = `[${'='.repeat(filled)}${filled < width ? '>' : ''}${' '.repeat(Math.max(0, width - filled - 1))}]`;
    this.stream.write(`\r${(head + bar + tail).slice(0, cols - 1)}\x1b[K`);
  }
}
