// Progress of long work (client commands sending measures from a large file or paging
// through every resource, `tally migrate`) on stderr: a bar redrawn in place on a terminal,
// a plain line now and then otherwise (logs, CI), so that stdout keeps only the answer.
//
// Written here rather than taken from cli-progress, which is not among the workspace's
// dependencies: one bar, one counter and a rate are all these commands need.

export interface ProgressSink {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export interface ProgressOptions {
  stream?: ProgressSink;
  /** Between plain lines when the stream is not a terminal (ms, default 5 000). */
  lineEveryMs?: number;
  /** Between redraws of the bar (ms, default 100). */
  redrawEveryMs?: number;
  now?: () => number;
  /** More to say after the count (e.g. "1 234 aggregate points"), read at each display. */
  detail?: () => string;
}

export class Progress {
  readonly #label: string;
  readonly #unit: string;
  readonly #total: number | undefined;
  readonly #out: ProgressSink;
  readonly #tty: boolean;
  readonly #every: number;
  readonly #now: () => number;
  readonly #start: number;
  readonly #detail: (() => string) | undefined;
  #done = 0;
  #last: number;
  /** Whether anything was written (a short job on a pipe writes nothing at all). */
  #wrote = false;
  #finished = false;

  /** `total` undefined: a count without a bar (pages of unknown number). */
  constructor(label: string, total: number | undefined, unit: string, opts: ProgressOptions = {}) {
    this.#label = label;
    this.#unit = unit;
    this.#total = total;
    this.#out = opts.stream ?? process.stderr;
    this.#tty = this.#out.isTTY === true;
    this.#every = this.#tty ? (opts.redrawEveryMs ?? 100) : (opts.lineEveryMs ?? 5_000);
    this.#now = opts.now ?? Date.now;
    this.#start = this.#now();
    this.#detail = opts.detail;
    this.#last = this.#start;
  }

  get count(): number {
    return this.#done;
  }

  add(n: number): void {
    this.#done += n;
    const t = this.#now();
    if (t - this.#last >= this.#every) {
      this.#last = t;
      this.#emit(false);
    }
  }

  /** The last state, then a newline on a terminal; on a pipe a closing line only if lines were written. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#tty || this.#wrote) this.#emit(true);
  }

  #emit(final: boolean): void {
    this.#wrote = true;
    const secs = (this.#now() - this.#start) / 1000;
    const rate = secs > 0 ? Math.round(this.#done / secs) : 0;
    const detail = this.#detail === undefined ? '' : `, ${this.#detail()}`;
    const count = this.#total === undefined ? `${this.#done} ${this.#unit}` : `${this.#done}/${this.#total} ${this.#unit}`;
    const pct = this.#total ? Math.min(100, Math.floor((this.#done / this.#total) * 100)) : null;
    if (!this.#tty) {
      this.#out.write(final
        ? `${this.#label}: done, ${count} in ${secs.toFixed(1)} s${detail}\n`
        : `${this.#label}: ${count}${pct === null ? '' : ` (${pct}%)`}, ${rate}/s${detail}\n`);
      return;
    }
    let bar = '';
    if (pct !== null) {
      const width = Math.max(10, Math.min(30, (this.#out.columns ?? 80) - 60));
      const full = Math.round((pct / 100) * width);
      bar = ` [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(pct).padStart(3)}%`;
    }
    this.#out.write(`\r\u001b[2K${this.#label}${bar} ${count} ${rate}/s${detail}${final ? ` ${secs.toFixed(1)} s\n` : ''}`);
  }
}
