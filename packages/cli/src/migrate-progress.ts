// Progress of `tally migrate`: one display (progress.ts) per phase of the copy, each line
// also counting the aggregate points copied so far.
import { Progress as Display, type ProgressSink as Stream } from './progress.js';

export interface ProgressSink {
  /** Starts a phase of `total` items (null while unknown). */
  phase(name: string, total: number | null): void;
  /** `n` more items of the phase done; `points` aggregate points among them. */
  advance(n: number, points?: number): void;
  /** Ends the display (a final line). */
  end(): void;
}

export interface ProgressOptions {
  out: Stream;
  /** Between two lines when not on a terminal (ms). */
  intervalMs?: number;
  now?: () => number;
}

export class Progress implements ProgressSink {
  #display: Display | null = null;
  #points = 0;

  constructor(private readonly o: ProgressOptions) {}

  phase(name: string, total: number | null): void {
    this.#display?.finish();
    this.#display = new Display(`tally migrate: ${name}`, total ?? undefined, 'items', {
      stream: this.o.out, lineEveryMs: this.o.intervalMs, now: this.o.now, detail: () => `${this.#points} aggregate points`,
    });
  }

  advance(n: number, points = 0): void {
    this.#points += points;
    this.#display?.add(n);
  }

  end(): void {
    this.#display?.finish();
    this.#display = null;
  }
}
