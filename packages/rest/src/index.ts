export { buildApi, indexerErrorToHttp } from './app.js';
export { DEFAULT_HTTP_CONFIG, type HttpConfig } from './http.js';
export type { ApiServices, MetricdStatus } from './context.js';
export type { AuthMode, Identity, TokenVerifier } from './auth.js';
export { AUTH_MODES } from './auth.js';
export * from './users.js';
export { SqliteUserStore } from './users-sqlite.js';
export { StoreTokenVerifier, issueToken, parseToken, type TokenVerifierOptions } from './tokens.js';
export { pyJson, pyFloat } from './pyjson.js';
