// The evaluation service: every interval, each evaluator evaluates the alarms it owns on a
// hash ring of the live members of its group, a few at a time. Members agree on ownership
// without talking to each other (same ring from the same member list); when one joins or
// stops heartbeating, the next round's ring gives its alarms to the others.
import { randomUUID } from 'node:crypto';
import { HashRing, type GroupMember, type Membership } from '@tally/coordination';
import { eachLimited, retry, sleep } from '@tally/retry';
import type { Alarm, AlarmState } from '../model.js';
import { evaluateAlarm, PERIODIC_TYPES } from './evaluate.js';
import { SourceUnavailableError, sharedQueries, type MetricSource } from './source.js';

export interface Transition {
  previous: AlarmState;
  state: AlarmState;
  reason: string;
  reasonData: Record<string, unknown>;
}

export interface EvaluatorOptions {
  /** Time between the starts of two rounds (ms); Aodh's evaluation_interval. */
  intervalMs: number;
  membership: Membership;
  source: MetricSource;
  /** Every alarm (the evaluator keeps the enabled ones of periodic types). */
  listAlarms(): Promise<Alarm[]>;
  /** A state change: store it (state, state_reason, history) and notify. */
  onTransition(alarm: Alarm, transition: Transition): Promise<void>;
  /** The same state again for an alarm with repeat_actions: notify only. */
  onRepeat?(alarm: Alarm, transition: Transition): Promise<void>;
  /** An alarm was evaluated (whatever the decision): its evaluate_timestamp, say. */
  onEvaluated?(alarm: Alarm): Promise<void>;
  /** An alarm left as it was (its source kept failing, a callback threw) or a failed round. */
  onError?(err: unknown, alarm: Alarm | null): void;
  /** Group of the evaluators sharing alarms. */
  group?: string;
  /** This evaluator's id in the group; a new UUID by default. */
  memberId?: string;
  /** Heartbeat and membership timeout (ms): by default a quarter of the interval and one interval, so a dead member's alarms move within two rounds. */
  heartbeatMs?: number;
  timeoutMs?: number;
  /** Alarms evaluated at once. */
  concurrency?: number;
  /** Retries of an alarm whose source is unavailable, within the round. */
  retry?: { attempts?: number; baseMs?: number; maxMs?: number };
  ingestionLagSeconds?: number;
  virtualNodes?: number;
  now?: () => number;
}

export interface RoundStats {
  /** Alarms this member owned in the round. */
  owned: number;
  evaluated: number;
  transitions: number;
  repeats: number;
  failed: number;
  members: number;
}

export const DEFAULT_GROUP = 'alarm_evaluator';

export class Evaluator {
  readonly memberId: string;
  readonly group: string;
  readonly #o: EvaluatorOptions;
  readonly #now: () => number;
  #member: GroupMember | null = null;
  #loop: Promise<void> | null = null;
  #abort: AbortController | null = null;
  #ring: HashRing | null = null;

  constructor(options: EvaluatorOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError('intervalMs must be positive');
    this.#o = options;
    this.memberId = options.memberId ?? randomUUID();
    this.group = options.group ?? DEFAULT_GROUP;
    this.#now = options.now ?? Date.now;
  }

  get running(): boolean {
    return this.#loop !== null;
  }

  /** Joins the group and starts the rounds (the first at once). */
  async start(): Promise<void> {
    if (this.#loop !== null) return;
    const heartbeatMs = this.#o.heartbeatMs ?? Math.max(1, this.#o.intervalMs / 4);
    const timeoutMs = this.#o.timeoutMs ?? this.#o.intervalMs;
    this.#member = await this.#o.membership.join(this.group, this.memberId, { heartbeatMs, timeoutMs });
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal);
  }

  /** Stops after the round in progress and leaves the group. */
  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    this.#loop = null;
    this.#abort = null;
    // A membership that cannot be left (its backend is gone) expires by itself.
    await this.#member?.leave().catch((err: unknown) => this.#o.onError?.(err, null));
    this.#member = null;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = this.#now();
      try {
        await this.round(signal);
      } catch (err) {
        this.#o.onError?.(err, null);
      }
      const wait = this.#o.intervalMs - (this.#now() - started);
      try {
        await sleep(wait, signal);
      } catch {
        return;
      }
    }
  }

  /** The ring of the group's live members (this one included while it is alive). */
  async ring(): Promise<HashRing> {
    const members = await this.#o.membership.members(this.group);
    const prev = this.#ring;
    if (prev === null || prev.members.length !== members.length || prev.members.some((m, i) => m !== members[i])) {
      this.#ring = new HashRing(members, { virtualNodes: this.#o.virtualNodes });
    }
    return this.#ring as HashRing;
  }

  /** One round: evaluates the alarms this member owns now. */
  async round(signal?: AbortSignal): Promise<RoundStats> {
    const ring = await this.ring();
    const alarms = (await this.#o.listAlarms()).filter((a) => a.enabled && PERIODIC_TYPES.has(a.type));
    const mine = alarms.filter((a) => ring.ownerOf(a.alarm_id) === this.memberId);
    const stats: RoundStats = { owned: mine.length, evaluated: 0, transitions: 0, repeats: 0, failed: 0, members: ring.size };
    // One instant and one set of answers for the whole round: alarms over the same series
    // and window ask the metric store once (Aodh asks once per alarm, each at its own now).
    const now = this.#now();
    const source = sharedQueries(this.#o.source);
    await eachLimited(mine, this.#o.concurrency ?? 10, async (alarm) => {
      if (signal?.aborted) return;
      try {
        await this.#evaluateOne(alarm, stats, { now, source }, signal);
      } catch (err) {
        stats.failed++;
        this.#o.onError?.(err, alarm);
      }
    });
    return stats;
  }

  async #evaluateOne(alarm: Alarm, stats: RoundStats, round: { now: number; source: MetricSource }, signal?: AbortSignal): Promise<void> {
    const r = this.#o.retry ?? {};
    // A source that is down leaves the alarm as it is: retried a few times within the
    // round, then again next round. Only answers (points, or a definite "does not
    // exist") change states.
    const decision = await retry(() => evaluateAlarm(alarm, round.source, {
      now: round.now, ingestionLagSeconds: this.#o.ingestionLagSeconds,
    }), {
      attempts: r.attempts ?? 3,
      baseMs: r.baseMs ?? Math.min(200, this.#o.intervalMs / 10),
      maxMs: r.maxMs ?? Math.max(r.baseMs ?? 1, this.#o.intervalMs / 4),
      retryable: (err) => err instanceof SourceUnavailableError,
      signal,
    });
    stats.evaluated++;
    await this.#o.onEvaluated?.(alarm);
    if (decision === null) return;
    const t: Transition = { previous: alarm.state, state: decision.state, reason: decision.reason, reasonData: decision.reasonData };
    if (decision.changed) {
      stats.transitions++;
      await this.#o.onTransition(alarm, t);
    } else {
      stats.repeats++;
      await this.#o.onRepeat?.(alarm, t);
    }
  }
}
