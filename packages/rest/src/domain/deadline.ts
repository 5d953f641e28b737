// How long one request may compute, and its share of the event loop. The API serves every
// client from one thread: a read or an aggregation that ran to its end in one go would
// make every other request wait for it. Long loops call pause() as they go: it gives the
// loop back to other requests every SLICE_MS and stops the request once it is past its
// deadline.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AnswerTooLarge, DeadlineExceeded } from './errors.js';

/** Longest stretch a request computes before letting other requests in. */
export const SLICE_MS = 10;
/** Default of `--request-deadline-ms` (docs/LIMITS.md). */
export const DEFAULT_REQUEST_DEADLINE_MS = 10_000;
/** The setting's name, for the answer that says which limit applied. */
export const REQUEST_DEADLINE_SETTING = 'request-deadline-ms';
/**
 * Default of `--max-answer-points`: the most points one request may read, and one answer
 * carry. Writing a million points of JSON takes 0.3-0.5 s of work here (about 48 MB), and
 * an aggregation's work follows the points it reads (docs/LIMITS.md has the figures), so
 * the worst bounded request is a few hundred ms of sliced work, well within the deadline.
 */
export const DEFAULT_MAX_ANSWER_POINTS = 1_000_000;
/** The setting's name, for the answer that says which limit applied. */
export const MAX_ANSWER_POINTS_SETTING = 'max-answer-points';

export class Deadline {
  readonly #end: number;
  #slice: number;
  #read = 0;

  /**
   * `limitMs` 0: no deadline (the loop is still shared). `maxPoints` bounds the points the
   * request reads and answers (0: no bound).
   */
  constructor(readonly limitMs: number, readonly maxPoints: number = DEFAULT_MAX_ANSWER_POINTS) {
    const now = performance.now();
    this.#end = limitMs > 0 ? now + limitMs : Infinity;
    this.#slice = now;
  }

  /** Throws DeadlineExceeded once the deadline has passed. */
  check(): void {
    if (performance.now() > this.#end) throw new DeadlineExceeded(this.limitMs, REQUEST_DEADLINE_SETTING);
  }

  /**
   * Counts `points` more read from storage; throws AnswerTooLarge once the request has read
   * more than maxPoints (the computation's cost and the answer's size follow what is read).
   */
  read(points: number): void {
    this.#read += points;
    this.answer(this.#read);
  }

  /** Throws AnswerTooLarge when an answer of `points` points is over maxPoints (before it is written). */
  answer(points: number): void {
    if (this.maxPoints > 0 && points > this.maxPoints) throw new AnswerTooLarge(points, this.maxPoints, MAX_ANSWER_POINTS_SETTING);
  }

  /** Yields to other requests when this one has computed for SLICE_MS, then check(). */
  async pause(): Promise<void> {
    if (performance.now() - this.#slice >= SLICE_MS) {
      await nextTurn();
      this.#slice = performance.now();
    }
    this.check();
  }
}

/** A request's deadline and answer bound from the services' settings (undefined: the default). */
export function requestDeadline(s: { requestDeadlineMs?: number; maxAnswerPoints?: number }): Deadline {
  return new Deadline(s.requestDeadlineMs ?? DEFAULT_REQUEST_DEADLINE_MS, s.maxAnswerPoints ?? DEFAULT_MAX_ANSWER_POINTS);
}
