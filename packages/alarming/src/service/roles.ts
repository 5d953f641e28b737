// The evaluator and notifier roles over one handle on the index database: any process may
// run either or both (`tally serve` runs both beside the APIs; `tally alarm-evaluator` and
// `tally alarm-notifier` one each). One handle, because SQLite cannot overlap two write
// transactions of one process on two connections: the store's state changes and the
// notifier's claims queue on the same one.
import type { Membership } from '@tally/coordination';
import type { AlarmDatabase } from '../db.js';
import { AlarmStore } from '../store/index.js';
import { Evaluator, type EvaluatorOptions } from '../evaluator/index.js';
import { Notifier, type NotifierOptions } from '../notifier/index.js';
import { evaluationRecorder } from './notifications.js';

export interface RoleLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type EvaluatorSettings = Omit<EvaluatorOptions, 'membership' | 'source' | 'listAlarms' | 'onTransition' | 'onRepeat' | 'onEvaluated' | 'onError'>
  & Pick<EvaluatorOptions, 'source'> & { membership: Membership };

export interface AlarmRolesOptions {
  database: Pick<AlarmDatabase, 'db' | 'dialect'>;
  /** The store over `database`; one is made when absent. */
  store?: AlarmStore;
  evaluator?: EvaluatorSettings;
  notifier?: Omit<NotifierOptions, 'database' | 'logger'>;
  logger?: RoleLogger;
}

export interface AlarmRoles {
  evaluator: Evaluator | null;
  notifier: Notifier | null;
  /** Stops the evaluator (after its round), then the notifier (after its deliveries in flight). */
  stop(): Promise<void>;
}

const SILENT: RoleLogger = { info() {}, warn() {}, error() {} };

/** Starts the roles `o` configures; the database's schema must be up to date (ALARMING_MIGRATIONS). */
export async function startAlarmRoles(o: AlarmRolesOptions): Promise<AlarmRoles> {
  const log = o.logger ?? SILENT;
  const store = o.store ?? new AlarmStore(o.database.db, o.database.dialect);
  const notifier = o.notifier ? new Notifier({ ...o.notifier, database: o.database, logger: log }) : null;
  notifier?.start();
  let evaluator: Evaluator | null = null;
  if (o.evaluator) {
    const recorder = evaluationRecorder(store, { wake: notifier ? () => notifier.wake() : undefined });
    evaluator = new Evaluator({
      ...o.evaluator,
      listAlarms: () => store.list({ enabled: true }),
      ...recorder,
      onError: (err, alarm) => log.warn({ err, alarm_id: alarm?.alarm_id }, alarm ? 'alarm left as it was; evaluated again next round' : 'evaluation round failed'),
    });
    try {
      await evaluator.start();
    } catch (err) {
      await notifier?.stop();
      throw err;
    }
  }
  return {
    evaluator,
    notifier,
    async stop() {
      await evaluator?.stop();
      await notifier?.stop();
    },
  };
}
