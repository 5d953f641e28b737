// The event alarm evaluation: each batch of events, in order, against the enabled event
// alarms of each event's project. Aodh runs it on events from its message bus; Tally on
// events posted to its alarm API (api/events.ts).
//
// Aodh keeps each project's alarms for event_alarm_cache_ttl (60 s) and updates the cached
// state when it fires one. Such a cache misses, for up to its lifetime, alarms created,
// disabled or deleted meanwhile and states a client set: an alarm reset to ok stays
// "already fired" and ignores the events that should fire it again. Tally reads a
// project's alarms once per batch by default (one indexed query), and keeps Aodh's cache
// as an option for high event rates, with that staleness.
import type { Alarm } from '../model.js';
import type { Transition } from './evaluator.js';
import { evaluateEventAlarm, parseEvent, parseEventAlarm, type ParsedEventAlarm } from './event.js';

export interface EventEvaluatorOptions {
  /**
   * The event alarms of a project ('' for events that name none), as Aodh's
   * get_alarms(enabled=True, type='event', project_id=project); others are ignored.
   */
  listAlarms(projectId: string): Promise<Alarm[]>;
  /**
   * The alarm fires (from `t.previous` to `alarm`): store it (the compare and swap
   * `expectedState: t.previous` keeps two evaluators from firing it twice) and notify.
   * Resolving false says the store refused it (the alarm is gone or no longer in
   * `t.previous`): a cached copy of the project's alarms is then dropped.
   */
  onTransition(alarm: Alarm, t: Transition): Promise<boolean | void>;
  /**
   * An alarm with repeat_actions, already in alarm, fires again. Aodh records this as a
   * state transition too (always_record): store it with `alwaysRecord` and notify.
   */
  onRepeat?(alarm: Alarm, t: Transition): Promise<boolean | void>;
  /** An event that cannot be evaluated (alarm null), or an alarm a callback failed on. */
  onError?(err: unknown, alarm: Alarm | null): void;
  /** Aodh's event_alarm_cache_ttl in milliseconds; 0 (the default): no cache across batches. */
  cacheTtlMs?: number;
  now?: () => number;
}

export interface EventBatchStats {
  events: number;
  /** Events skipped: missing event_type or message_id, a trait value its type refuses. */
  invalid: number;
  transitions: number;
  repeats: number;
  /** Alarms whose callback threw. */
  failed: number;
}

export class EventEvaluator {
  readonly #o: EventEvaluatorOptions;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; alarms: ParsedEventAlarm[] }>();
  /** Batches run one after the other, so that an event sees what the ones before it did. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: EventEvaluatorOptions) {
    if (options.cacheTtlMs !== undefined && !(options.cacheTtlMs >= 0)) throw new RangeError('cacheTtlMs must not be negative');
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Forgets the cached alarms of a project, or of every project. */
  invalidate(projectId?: string): void {
    if (projectId === undefined) this.#cache.clear();
    else this.#cache.delete(projectId);
  }

  /**
   * Evaluates a batch of events (one event alone is a batch of one), in order. Rejects
   * only when a project's alarms cannot be listed; the events before it were evaluated.
   */
  evaluateEvents(events: unknown): Promise<EventBatchStats> {
    const run = this.#queue.then(() => this.#batch(Array.isArray(events) ? events as unknown[] : [events]));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #batch(events: unknown[]): Promise<EventBatchStats> {
    const stats: EventBatchStats = { events: events.length, invalid: 0, transitions: 0, repeats: 0, failed: 0 };
    const ttl = this.#o.cacheTtlMs ?? 0;
    const batch = new Map<string, ParsedEventAlarm[]>();
    const alarmsOf = async (project: string): Promise<ParsedEventAlarm[]> => {
      const mine = batch.get(project);
      if (mine) return mine;
      const cached = this.#cache.get(project);
      if (ttl > 0 && cached && this.#now() - cached.at < ttl) {
        batch.set(project, cached.alarms);
        return cached.alarms;
      }
      const at = this.#now();
      const alarms = (await this.#o.listAlarms(project))
        .filter((a) => a.enabled && a.type === 'event' && (a.project_id ?? null) === project)
        .map(parseEventAlarm);
      batch.set(project, alarms);
      if (ttl > 0) this.#cache.set(project, { at, alarms });
      return alarms;
    };

    for (const e of events) {
      let event;
      try {
        event = parseEvent(e);
      } catch (err) {
        stats.invalid++;
        this.#o.onError?.(err, null);
        continue;
      }
      for (const a of await alarmsOf(event.project)) {
        const d = evaluateEventAlarm(a, event);
        if (d === null || (!d.changed && !this.#o.onRepeat)) continue;
        const t: Transition = { previous: a.state, state: d.state, reason: d.reason, reasonData: d.reasonData as unknown as Record<string, unknown> };
        try {
          const applied = d.changed ? await this.#o.onTransition(a.alarm, t) : await this.#o.onRepeat?.(a.alarm, t);
          if (applied === false) {
            this.#cache.delete(event.project);
            batch.delete(event.project);
            continue;
          }
          if (d.changed) stats.transitions++;
          else stats.repeats++;
          a.state = d.state;
        } catch (err) {
          stats.failed++;
          this.#o.onError?.(err, a.alarm);
        }
      }
    }
    return stats;
  }
}
