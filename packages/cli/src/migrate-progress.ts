// Progress of `tally migrate` on stderr: a bar redrawn in place on a terminal, a line now
// and then otherwise (a log file or a CI job gets readable lines, not carriage returns).

export interface ProgressSink {
  /** Starts a phase of `total` items (null while unknown). */
  phase(name: string, total: number | null): void;
  /** `n` more items of the phase done; `points` aggregate points among them. */
  advance(n: number, points?: number): void;
  /** Ends the display (a final line). */
  end(): void;
}

export interface ProgressOptions {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Between two lines when not on a terminal (ms). */
  intervalMs?: number;
  now?: () => number;
}

export class Progress implements ProgressSink {
  private name = '';
  private total: number | null = null;
  private done = 0;
  private points = 0;
  private lastDraw = 0;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly started: number;

  constructor(private readonly o: ProgressOptions) {
    this.tty = o.out.isTTY === true;
    this.intervalMs = o.intervalMs ?? 5000;
    this.now = o.now ?? Date.now;
    this.started = this.now();
  }

  phase(name: string, total: number | null): void {
    if (this.name !== '') this.draw(true);
    this.name = name;
    this.total = total;
    this.done = 0;
    this.draw(true);
  }

  advance(n: number, points = 0): void {
    this.done += n;
    this.points += points;
    this.draw(false);
  }

  end(): void {
    this.draw(true);
    if (this.tty) this.o.out.write('\n');
  }

  /** The text of the current state, e.g. "metrics 12/40 (30%), 51 234 points, 7 s". */
  line(): string {
    const count = this.total === null ? `${this.done}` : `${this.done}/${this.total}`;
    const pct = this.total ? ` (${Math.floor((100 * this.done) / this.total)}%)` : '';
    const secs = Math.round((this.now() - this.started) / 1000);
    return `${this.name} ${count}${pct}, ${this.points} aggregate points, ${secs} s`;
  }

  private draw(force: boolean): void {
    const t = this.now();
    if (this.tty) {
      // Redrawing costs a write: ten times a second is plenty for the eye.
      if (!force && t - this.lastDraw < 100) return;
      this.lastDraw = t;
      const width = Math.max(10, Math.min(40, (this.o.out.columns ?? 80) - 60));
      const filled = this.total ? Math.round((width * this.done) / this.total) : 0;
      const bar = this.total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
      this.o.out.write(`\r\x1b[K${bar}${this.line()}`);
      return;
    }
    if (!force && t - this.lastDraw < this.intervalMs) return;
    this.lastDraw = t;
    this.o.out.write(`tally migrate: ${this.line()}\n`);
  }
}
