export { buildApi, indexerErrorToHttp } from './app.js';
export { DEFAULT_HTTP_CONFIG, type HttpConfig } from './http.js';
export type { ApiServices, MetricdStatus } from './context.js';
export type { AuthMode, Identity } from './auth.js';
export { pyJson, pyFloat } from './pyjson.js';
