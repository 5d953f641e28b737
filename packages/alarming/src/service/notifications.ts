// From the evaluator's decisions to stored states and queued notifications: a state change
// and its notification are committed in one transaction (the alarm store's, with the
// outbox row added in it), then the notifier is woken. The notification is Aodh's: the
// alarm's name, id and severity, the previous and current states, the reason and
// reason_data, posted to the actions of the new state.
import { randomUUID } from 'node:crypto';
import type { Alarm, AlarmNotification, AlarmState } from '../model.js';
import type { AlarmStore } from '../store/index.js';
import { enqueue } from '../notifier/index.js';
import type { Transition } from '../evaluator/index.js';

/** The actions of an alarm for a state (Aodh's ok_actions, alarm_actions, insufficient_data_actions). */
export function actionsFor(alarm: Alarm, state: AlarmState): string[] {
  switch (state) {
    case 'ok':
      return alarm.ok_actions;
    case 'alarm':
      return alarm.alarm_actions;
    case 'insufficient data':
      return alarm.insufficient_data_actions;
  }
}

/** The notification of `t` for `alarm`; `requestId` is kept across every delivery attempt. */
export function notificationOf(alarm: Alarm, t: Transition, requestId: string = `req-${randomUUID()}`): AlarmNotification {
  return {
    alarm_id: alarm.alarm_id,
    alarm_name: alarm.name,
    severity: alarm.severity,
    previous: t.previous,
    current: t.state,
    reason: t.reason,
    reason_data: t.reasonData,
    actions: actionsFor(alarm, t.state),
    request_id: requestId,
    project_id: alarm.project_id,
  };
}

/** The evaluator's callbacks over a store: what `Evaluator` needs to record and announce. */
export interface EvaluationRecorder {
  onTransition(alarm: Alarm, t: Transition): Promise<void>;
  onRepeat(alarm: Alarm, t: Transition): Promise<void>;
  onEvaluated(alarm: Alarm): Promise<void>;
}

/**
 * `wake` is called after a commit that queued notifications (the notifier of this process
 * then delivers at once rather than at its next poll). A decision is applied only while the
 * alarm is still in the state it was evaluated in: a change made meanwhile (through the API,
 * by a member that took the alarm over) wins, and the next round evaluates the new state.
 */
export function evaluationRecorder(store: AlarmStore, opts: { wake?: () => void } = {}): EvaluationRecorder {
  const apply = async (alarm: Alarm, t: Transition): Promise<void> => {
    // Made once, outside the transaction: a retried transaction queues the same request id,
    // which the outbox keeps once.
    const requestId = `req-${randomUUID()}`;
    let queued = 0;
    await store.transitionState(alarm.alarm_id, {
      state: t.state, reason: t.reason, reasonData: t.reasonData, expectedState: alarm.state,
    }, async (tx, stored) => {
      // The stored alarm: its actions and name as they are now, not as the round read them.
      queued = await enqueue(tx, notificationOf(stored.alarm, { ...t, previous: stored.previous }, requestId));
    });
    if (queued > 0) opts.wake?.();
  };
  return {
    // A change of state: stored with its history entry; a repeat (repeat_actions, same
    // state): nothing stored, only announced. Both through the same transaction.
    onTransition: apply,
    onRepeat: apply,
    onEvaluated: (alarm) => store.touchEvaluated(alarm.alarm_id),
  };
}

/**
 * The event evaluator's callbacks: an event alarm fires through the same transaction as an
 * evaluation (state, history, notification), as a compare and swap from the state the
 * evaluator saw; a repeat (repeat_actions, already in alarm) is recorded too, as Aodh
 * records it. Each resolves to whether the store took it.
 */
export function eventRecorder(store: AlarmStore, opts: { wake?: () => void } = {}): {
  onTransition(alarm: Alarm, t: Transition): Promise<boolean>;
  onRepeat(alarm: Alarm, t: Transition): Promise<boolean>;
} {
  const apply = async (alarm: Alarm, t: Transition, alwaysRecord: boolean): Promise<boolean> => {
    const requestId = `req-${randomUUID()}`;
    let queued = 0;
    const done = await store.transitionState(alarm.alarm_id, {
      state: t.state, reason: t.reason, reasonData: t.reasonData, expectedState: t.previous, alwaysRecord,
    }, async (tx, stored) => {
      queued = await enqueue(tx, notificationOf(stored.alarm, { ...t, previous: stored.previous }, requestId));
    });
    if (queued > 0) opts.wake?.();
    return done !== null;
  };
  return {
    onTransition: (alarm, t) => apply(alarm, t, false),
    onRepeat: (alarm, t) => apply(alarm, t, true),
  };
}
