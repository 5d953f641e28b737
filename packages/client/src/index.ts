export { GnocchiClient, nextPageQuery, type GnocchiClientOptions } from './client.js';
export { HttpTransport, InjectTransport, retryAfterMs, type Transport, type InjectRequest, type InjectAnswer, type GnocchiAuth, type RetryPolicy, type TransportOptions, type RequestSpec, type RawResponse, type Query, type QueryValue } from './transport.js';
export { GnocchiApiError, GnocchiTransportError, type ErrorDescription } from './errors.js';
export { parsePythonJson, type JsonValue, type JsonScalar } from './json.js';
export type * from './types.js';
export { AodhClient, type AodhClientOptions, type AodhAlarm, type AodhAlarmInput, type AodhAlarmChange, type AodhSimpleQuery, type AodhListOptions, type AlarmState } from './aodh.js';
