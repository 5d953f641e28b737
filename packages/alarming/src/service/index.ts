// The alarming service's roles wired together: evaluations stored and announced in one
// transaction, the notifier woken, the metric store read in process or over HTTP.
export { actionsFor, notificationOf, evaluationRecorder, eventRecorder, type EvaluationRecorder } from './notifications.js';
export { inProcessMetricSource } from './in-process-source.js';
export { startAlarmRoles, type AlarmRoles, type AlarmRolesOptions, type EvaluatorSettings, type RoleLogger } from './roles.js';
export { ALARMING_MIGRATIONS } from './migrations.js';
