export { buildApi, indexerErrorToHttp } from './app.js';
export type { ConsoleOptions } from './console.js';
export { DEFAULT_HTTP_CONFIG, type HttpConfig } from './http.js';
export type { ApiServices, MetricdStatus } from './context.js';
export type { AuthMode, Identity, TokenVerifier } from './auth.js';
export { AUTH_MODES } from './auth.js';
export * from './users.js';
export { SqliteUserStore } from './users-sqlite.js';
export { StoreTokenVerifier, issueToken, parseToken, type TokenVerifierOptions } from './tokens.js';
export { DEFAULT_REQUEST_DEADLINE_MS, DEFAULT_MAX_ANSWER_POINTS } from './domain/deadline.js';
// What another API mounted on Tally's server (the alarm API) shares with this one.
export { createHttpServer, installCors, isDatabaseUnavailable, type TlsFiles } from './http.js';
export { authenticate, installTokenAuth } from './auth.js';
export { installSiblingApiBasics } from './sibling-api.js';
export { jsonDepth } from './nesting.js';
export { HttpError } from './errors.js';
// The aggregates API's resource search and evaluation, for readers in this process that
// need its answers without going through HTTP (the rating collector).
export { indexerResourceSearch, type AggregateResource, type ResourceSearch } from './domain/resource-search.js';
export { measureResourceGroups, measureResourceGroupsOfQueries, type GroupMeasured, type GroupQuery, type GroupQueryAnswer, type CommonArgs } from './domain/aggregates.js';
export { MetricsNotFound } from './domain/errors.js';
export { resourceJson } from './resources/json.js';
