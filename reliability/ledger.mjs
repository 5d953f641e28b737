// Which measures a test sent, and what the server said of each: every measure gets its own
// 1 s timestamp and the odd value 2*i+1, so the stored count and sum at 1 s tell exactly
// which measures were folded in, and how many times. Shared by the crash test and the
// deployment test.
//
// Each measure ends up in one of three states:
//   ACKED    - its POST answered 202: it must be counted exactly once;
//   UNKNOWN  - no answer (connection reset, timeout) or a 5xx: counted at most once;
//   REFUSED  - connection refused (never received) or a 4xx: must not be counted at all.
import { BASE_EPOCH, iso, json } from './lib.mjs';

export const ACKED = 1;
export const UNKNOWN = 2;
export const REFUSED = 3;
const NAMES = ['never sent', 'acked', 'unknown', 'refused'];

/** The archive policy both tests store their measures under. */
export const LEDGER_POLICY = (name) => ({
  name, back_window: 3600, aggregation_methods: ['count', 'sum'],
  definition: [{ granularity: '1s', points: 1_000_000 }],
});

/** Per-metric ledger: state of measure i (0 = never sent) and the next index to hand out. */
export class Ledger {
  constructor(id) {
    this.id = id;
    this.next = 0;
    this.state = new Uint8Array(1024);
  }
  reserve(k) {
    const first = this.next;
    this.next += k;
    if (this.next > this.state.length) {
      const bigger = new Uint8Array(Math.max(this.next, this.state.length * 2));
      bigger.set(this.state);
      this.state = bigger;
    }
    return first;
  }
  mark(first, k, s) {
    this.state.fill(s, first, first + k);
  }
  /** Indexes acknowledged so far (a snapshot). */
  acked() {
    const out = [];
    for (let i = 0; i < this.next; i++) if (this.state[i] === ACKED) out.push(i);
    return out;
  }
}

export function measuresBody(first, k) {
  const out = new Array(k);
  for (let j = 0; j < k; j++) {
    const i = first + j;
    out[j] = { timestamp: iso(BASE_EPOCH + i), value: 2 * i + 1 };
  }
  return out;
}

/** The state a POST's answer gives its measures. */
export function stateOf(res) {
  if (res.status === 202) return ACKED;
  if (res.status >= 400 && res.status < 500) return REFUSED;
  if (res.error === 'ECONNREFUSED') return REFUSED;
  return UNKNOWN;
}

/** Measure index -> stored value of a `GET .../measures?aggregation=X&granularity=1` answer. */
export function byIndex(res) {
  const out = new Map();
  for (const [ts, , v] of json(res)) out.set(Date.parse(ts) / 1000 - BASE_EPOCH, v);
  return out;
}

/**
 * Checks what is stored of one ledger's metric (`counts` and `sums` by measure index):
 * violations go to `violation`; returns { stored, unknownStored, lost }.
 */
export function checkStored(l, counts, sums, violation) {
  let stored = 0;
  let unknownStored = 0;
  for (const [i, c] of counts) {
    const s = i >= 0 && i < l.next ? l.state[i] : 0;
    if (c !== 1) violation(`metric ${l.id} measure ${i}: counted ${c} times (ledger: ${NAMES[s]})`);
    if (sums.get(i) !== c * (2 * i + 1)) violation(`metric ${l.id} measure ${i}: sum ${sums.get(i)}, expected ${c * (2 * i + 1)}`);
    if (s === 0) violation(`metric ${l.id} measure ${i}: stored but never sent`);
    if (s === REFUSED) violation(`metric ${l.id} measure ${i}: stored although its POST was refused`);
    if (s === UNKNOWN) unknownStored++;
    stored += c;
  }
  let lost = 0;
  let firstLost = -1;
  for (let i = 0; i < l.next; i++) {
    if (l.state[i] === ACKED && !counts.has(i)) {
      if (lost++ === 0) firstLost = i;
    }
  }
  if (lost) violation(`metric ${l.id}: ${lost} acknowledged measures lost (first: #${firstLost}, ${iso(BASE_EPOCH + firstLost)})`);
  return { stored, unknownStored, lost };
}
