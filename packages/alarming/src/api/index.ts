export { alarmApi, buildAlarmServer, alarmView, ALARM_REASON_DEFAULT, ALARM_REASON_MANUAL, DEFAULT_ACTION_SCHEMES,
  type AlarmApiOptions, type AlarmServerOptions } from './alarm-api.js';
export { ALARM_POLICIES, type AlarmPolicy } from './policy.js';
export { AodhError } from './errors.js';
