// Tally's settings. Each has a flag, an environment variable and a config-file key; the
// first one set wins, in that order, then the default. docs/CONFIGURATION.md lists them.
import { readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isIP } from 'node:net';
import { AUTH_MODES, DEFAULT_HTTP_CONFIG, type AuthMode } from '@tally/rest';
import { DEFAULT_MAX_RESOURCE_TYPE_ATTRIBUTES, MAX_RESOURCE_TYPE_COLUMNS } from '@tally/indexer';
import { DEFAULT_MAX_DEFINITION_ITEMS } from '@tally/timeseries';
import { DEFAULT_MAX_ANSWER_POINTS, DEFAULT_REQUEST_DEADLINE_MS } from '@tally/rest';
import { ALARM_POLICIES, type AlarmPolicy } from '@tally/alarming/api';
import { DEFAULT_GROUP } from '@tally/alarming/evaluator';

/** A setting that cannot work (e.g. a certificate without its key): printed without a stack. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface Settings {
  dataDir: string;
  host: string;
  port: number;
  authMode: AuthMode;
  indexerUrl: string;
  /** Where measures wait for processing; the scheme names the driver. */
  incomingUrl: string;
  /** Where aggregates are kept; the scheme names the driver. */
  storageUrl: string;
  /** Where processing workers take their locks; the scheme names the driver. */
  coordinationUrl: string;
  /** Given: the data folder must hold this many sacks (a new one is created so); absent: whatever it holds. */
  sacks: number | undefined;
  maxLimit: number;
  corsAllowedOrigins: string[];
  proxyHeaders: boolean;
  proxyPrefix: string;
  processingIntervalMs: number;
  metricdWorkers: number;
  /** Workers owning each sack on the hash ring of live workers (0: every worker visits every sack). */
  sackReplicas: number;
  /** Seconds a processing worker that stopped heartbeating keeps its sacks. */
  membershipTimeout: number;
  bodyLimitBytes: number;
  logLevel: string;
  /** Allow the trusting auth modes (basic, noauth, remoteuser) beyond loopback. */
  insecure: boolean;
  /** PEM files; both set: the API speaks HTTPS. */
  tlsCert: string;
  tlsKey: string;
  /** How long the API trusts a verified token before asking the user store again, in seconds. */
  tokenCacheTtl: number;
  // Input bounds an operator may change (docs/LIMITS.md lists every bound).
  /** Items (granularities) one archive policy definition may have. */
  maxArchivePolicyItems: number;
  /** Attributes one resource type may have. */
  maxResourceTypeAttributes: number;
  /** Longest computation of one API request, in ms (0: none). */
  requestDeadlineMs: number;
  /** Most points one API request may read and answer (0: none). */
  maxAnswerPoints: number;
  /** Port of the alarm API (Aodh's v2). */
  alarmPort: number;
  ratingPort: number;
  /** The alarm API's authorisation rules: Aodh's default policy, or every rule granted (test harnesses). */
  alarmPolicy: AlarmPolicy;
  /** A fixed token both APIs accept as an administrator in auth mode token (service accounts); '' for none. */
  adminToken: string;
  // The alarm evaluator and notifier.
  /** Seconds between the starts of two evaluation rounds (Aodh's evaluation_interval). */
  evaluationInterval: number;
  /** The group of evaluators that share the alarms between them. */
  evaluatorGroup: string;
  /** Seconds one webhook delivery may take. */
  notifierTimeout: number;
  /** Seconds a notifier's claim holds a notification before another notifier may take it over. */
  notifierLease: number;
  /** Seconds between two looks at the outbox when nothing wakes the notifier. */
  notifierPollInterval: number;
  /** Longest wait, in seconds, before another try at a receiver that failed (backoff ceiling). */
  notifierMaxBackoff: number;
  /** JSON file of HMAC secrets by name (actions ask for one with tally-hmac-key=NAME); '' for none. */
  alarmHmacSecrets: string;
  /** The metric API evaluators read over HTTP (a remote Tally, Gnocchi); '' to read this data folder in process. */
  gnocchiUrl: string;
  /** Credentials for gnocchiUrl: a user name (Gnocchi's basic mode) and its password, or a token. */
  gnocchiUser: string;
  gnocchiPassword: string;
  gnocchiToken: string;
  agentConfig: string;
  // The rating processor (tally serve, tally rating).
  /** Whether serve runs a rating processor. */
  ratingProcessor: boolean;
  /** metrics.yml of what to rate; '' for the default (docs/RATING.md). */
  ratingMetrics: string;
  /** Rating period, s. */
  ratingPeriod: number;
  /** Seconds between two passes of the processor over its scopes. */
  ratingInterval: number;
  /** ISO 4217 code rated points are in (prices are never converted). */
  ratingCurrency: string;
  /** The group of processors that share the scopes. */
  ratingGroup: string;
  /** Alarm API budgets fire through; '' inside serve: its own alarm API; alone: budgets not checked. */
  ratingAlarmUrl: string;
}

interface Spec {
  key: keyof Settings;
  flag: string;
  env: string;
  help: string;
  /** A flag without a value (`--insecure`); its environment variable and key take a boolean. */
  flagOnly?: true;
  dflt: (s: Partial<Settings>) => Settings[keyof Settings];
  parse: (raw: string | number | boolean | string[]) => Settings[keyof Settings];
}

const int = (name: string) => (raw: string | number | boolean | string[]): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got ${String(raw)}`);
  return n;
};
const intIn = (name: string, min: number, max: number) => (raw: string | number | boolean | string[]): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${String(raw)}`);
  return n;
};
const text = (raw: string | number | boolean | string[]): string => String(raw);
const boolean = (raw: string | number | boolean | string[]): boolean =>
  typeof raw === 'boolean' ? raw : ['1', 'true', 'yes', 'on'].includes(String(raw).toLowerCase());
const csv = (raw: string | number | boolean | string[]): string[] =>
  (Array.isArray(raw) ? raw : String(raw).split(',')).map((s) => s.trim()).filter(Boolean);
const authMode = (raw: string | number | boolean | string[]): AuthMode => {
  const m = AUTH_MODES.find((x) => x === String(raw));
  if (m === undefined) throw new ConfigError(`auth-mode must be ${AUTH_MODES.slice(0, -1).join(', ')} or ${AUTH_MODES.at(-1)}, got ${String(raw)}`);
  return m;
};

const seconds = (name: string) => (raw: string | number | boolean | string[]): number => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || typeof raw === 'boolean' || Array.isArray(raw) || String(raw).trim() === '') {
    throw new ConfigError(`${name} must be a positive number of seconds, got ${String(raw)}`);
  }
  return n;
};
const httpUrlOf = (name: string) => (raw: string | number | boolean | string[]): string => {
  const t = String(raw);
  if (t === '') return t;
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    throw new ConfigError(`${name} must be an http:// or https:// URL, got ${t}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${name} must be an http:// or https:// URL, got ${t}`);
  return t;
};
const httpUrl = httpUrlOf('gnocchi-url');
const currencyCode = (raw: string | number | boolean | string[]): string => {
  const t = String(raw);
  if (!/^[A-Z]{3}$/.test(t)) throw new ConfigError(`rating-currency must be an ISO 4217 code such as EUR, got ${t}`);
  return t;
};

const alarmPolicy = (raw: string | number | boolean | string[]): AlarmPolicy => {
  const p = ALARM_POLICIES.find((x) => x === String(raw));
  if (p === undefined) throw new ConfigError(`alarm-policy must be ${ALARM_POLICIES.join(' or ')}, got ${String(raw)}`);
  return p;
};
/** Guessable service tokens are refused: this one is an administrator's credential. */
const MIN_ADMIN_TOKEN_LENGTH = 16;
const adminToken = (raw: string | number | boolean | string[]): string => {
  const t = String(raw);
  if (t !== '' && t.length < MIN_ADMIN_TOKEN_LENGTH) throw new ConfigError(`admin-token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters long`);
  return t;
};

/** `file://` URL of a folder in the data folder. */
const inDataDir = (s: Partial<Settings>, name: string): string => pathToFileURL(join(s.dataDir ?? resolve('data'), name)).href;

export const SPECS: Spec[] = [
  { key: 'dataDir', flag: 'data-dir', env: 'TALLY_DATA_DIR', help: 'folder holding the embedded index, incoming measures and aggregates', dflt: () => resolve('data'), parse: (r) => resolve(String(r)) },
  { key: 'host', flag: 'host', env: 'TALLY_HOST', help: 'address the API listens on', dflt: () => '127.0.0.1', parse: text },
  { key: 'port', flag: 'port', env: 'TALLY_PORT', help: 'port the API listens on', dflt: () => 8041, parse: int('port') },
  { key: 'authMode', flag: 'auth-mode', env: 'TALLY_AUTH_MODE', help: 'basic | noauth | remoteuser (as Gnocchi; they trust the client, so loopback only unless --insecure) | token (API tokens of `tally user`)', dflt: () => DEFAULT_HTTP_CONFIG.authMode, parse: authMode },
  { key: 'indexerUrl', flag: 'indexer-url', env: 'TALLY_INDEXER_URL', help: 'sqlite:///path/index.db (default: in the data folder) or postgresql://...', dflt: (s) => `sqlite://${join(s.dataDir ?? resolve('data'), 'index.sqlite')}`, parse: text },
  { key: 'incomingUrl', flag: 'incoming-url', env: 'TALLY_INCOMING_URL', help: 'file:///path or redis://host:port/db of the measures waiting to be processed (default: in the data folder)', dflt: (s) => inDataDir(s, 'incoming'), parse: text },
  { key: 'storageUrl', flag: 'storage-url', env: 'TALLY_STORAGE_URL', help: 'file:///path or s3://KEY:SECRET@host:port/bucket?region=&tls=&prefix= of the aggregates (default: in the data folder)', dflt: (s) => inDataDir(s, 'storage'), parse: text },
  { key: 'coordinationUrl', flag: 'coordination-url', env: 'TALLY_COORDINATION_URL', help: 'where locks and group membership live, shared by every Tally process: file:///path (default: in the data folder), etcd://host:port[,host:port...]/prefix, redis://host:port/db or postgresql://... (docs/CONFIGURATION.md)', dflt: (s) => inDataDir(s, 'locks'), parse: text },
  { key: 'sacks', flag: 'sacks', env: 'TALLY_SACKS', help: 'number of incoming sacks of a new data folder (default 8); an existing folder keeps its own (see `tally change-sack-size`)', dflt: () => undefined, parse: int('sacks') },
  { key: 'maxLimit', flag: 'max-limit', env: 'TALLY_MAX_LIMIT', help: 'largest page a list returns', dflt: () => DEFAULT_HTTP_CONFIG.maxLimit, parse: int('max-limit') },
  { key: 'corsAllowedOrigins', flag: 'cors-allowed-origin', env: 'TALLY_CORS_ALLOWED_ORIGINS', help: 'comma-separated origins allowed by CORS', dflt: () => [...DEFAULT_HTTP_CONFIG.corsAllowedOrigins], parse: csv },
  { key: 'proxyHeaders', flag: 'proxy-headers', env: 'TALLY_PROXY_HEADERS', help: 'honour Forwarded / X-Forwarded-* when building URLs', flagOnly: true, dflt: () => DEFAULT_HTTP_CONFIG.proxyHeaders, parse: boolean },
  { key: 'proxyPrefix', flag: 'proxy-prefix', env: 'TALLY_PROXY_PREFIX', help: 'path a reverse proxy publishes Tally under when it sends no X-Forwarded-Prefix', dflt: () => DEFAULT_HTTP_CONFIG.proxyPrefix, parse: text },
  { key: 'processingIntervalMs', flag: 'processing-interval', env: 'TALLY_PROCESSING_INTERVAL', help: 'longest idle pause of processing workers, in ms', dflt: () => 500, parse: int('processing-interval') },
  { key: 'metricdWorkers', flag: 'metricd-workers', env: 'TALLY_METRICD_WORKERS', help: 'processing workers (threads) started by serve/metricd', dflt: () => 1, parse: int('metricd-workers') },
  { key: 'sackReplicas', flag: 'sack-replicas', env: 'TALLY_SACK_REPLICAS', help: 'processing workers owning each sack, on a hash ring of the live workers (0: every worker visits every sack; default 0 with file:// coordination, 3 otherwise, as Gnocchi)', dflt: (s) => (String(s.coordinationUrl ?? '').startsWith('file:') ? 0 : 3), parse: intIn('sack-replicas', 0, 1000) },
  { key: 'membershipTimeout', flag: 'membership-timeout', env: 'TALLY_MEMBERSHIP_TIMEOUT', help: 'seconds a processing worker that stopped heartbeating keeps its sacks (it heartbeats five times as often)', dflt: () => 10, parse: intIn('membership-timeout', 1, 3600) },
  { key: 'bodyLimitBytes', flag: 'body-limit', env: 'TALLY_BODY_LIMIT', help: 'largest request body accepted, in bytes', dflt: () => DEFAULT_HTTP_CONFIG.bodyLimit, parse: int('body-limit') },
  { key: 'logLevel', flag: 'log-level', env: 'TALLY_LOG_LEVEL', help: 'fatal | error | warn | info | debug', dflt: () => 'info', parse: text },
  { key: 'insecure', flag: 'insecure', env: 'TALLY_INSECURE', help: 'allow auth modes basic, noauth and remoteuser to listen beyond loopback (they trust what clients say)', flagOnly: true, dflt: () => false, parse: boolean },
  { key: 'tlsCert', flag: 'tls-cert', env: 'TALLY_TLS_CERT', help: 'PEM certificate (chain) file: the API speaks HTTPS (needs --tls-key)', dflt: () => '', parse: (r) => resolve(String(r)) },
  { key: 'tlsKey', flag: 'tls-key', env: 'TALLY_TLS_KEY', help: 'PEM private key file of --tls-cert', dflt: () => '', parse: (r) => resolve(String(r)) },
  { key: 'tokenCacheTtl', flag: 'token-cache-ttl', env: 'TALLY_TOKEN_CACHE_TTL', help: 'seconds a verified API token is trusted before it is checked again (revocation delay)', dflt: () => 30, parse: int('token-cache-ttl') },
  // Input bounds (docs/LIMITS.md). Each request of a metric's life walks its policy's items,
  // so their number is bounded; a resource type is a table with a column per attribute,
  // bounded below what PostgreSQL allows per table.
  { key: 'maxArchivePolicyItems', flag: 'max-archive-policy-items', env: 'TALLY_MAX_ARCHIVE_POLICY_ITEMS', help: 'most granularities one archive policy may define', dflt: () => DEFAULT_MAX_DEFINITION_ITEMS, parse: intIn('max-archive-policy-items', 1, 10_000) },
  { key: 'maxResourceTypeAttributes', flag: 'max-resource-type-attributes', env: 'TALLY_MAX_RESOURCE_TYPE_ATTRIBUTES', help: `most attributes one resource type may have (at most ${MAX_RESOURCE_TYPE_COLUMNS})`, dflt: () => DEFAULT_MAX_RESOURCE_TYPE_ATTRIBUTES, parse: intIn('max-resource-type-attributes', 1, MAX_RESOURCE_TYPE_COLUMNS) },
  // Time bound (docs/LIMITS.md). The API serves every client from one thread: reads and
  // aggregations share it as they go and stop past this deadline with a 503, so that no
  // single request, however large, holds the server's resources without end.
  { key: 'requestDeadlineMs', flag: 'request-deadline-ms', env: 'TALLY_REQUEST_DEADLINE_MS', help: 'longest computation of one API request (reads, aggregates), in ms; past it the request answers 503 (0: no deadline)', dflt: () => DEFAULT_REQUEST_DEADLINE_MS, parse: int('request-deadline-ms') },
  // Size bound (docs/LIMITS.md): an answer's JSON is written on the API's one thread and an
  // aggregation's work follows the points it reads, so both are bounded; past it the
  // request answers 413 before anything is computed from the excess or written.
  { key: 'alarmPort', flag: 'alarm-port', env: 'TALLY_ALARM_PORT', help: 'port of the alarm API (Aodh v2), opened by serve and alarm-api (0: any free port)', dflt: () => 8042, parse: int('alarm-port') },
  { key: 'ratingPort', flag: 'rating-port', env: 'TALLY_RATING_PORT', help: 'port of the rating API (CloudKitty v1 and v2), opened by serve and rating-api (0: any free port)', dflt: () => 8889, parse: int('rating-port') },
  { key: 'alarmPolicy', flag: 'alarm-policy', env: 'TALLY_ALARM_POLICY', help: "default (Aodh's default rules) | open (every rule granted, requests without identity allowed: Aodh's functional-test profile, for test harnesses on loopback only)", dflt: () => 'default', parse: alarmPolicy },
  { key: 'adminToken', flag: 'admin-token', env: 'TALLY_ADMIN_TOKEN', help: 'in auth mode token, a fixed token (16 characters or more) both APIs accept as an administrator, for service accounts; prefer user tokens otherwise', dflt: () => '', parse: adminToken },
  // The alarm evaluator and notifier (tally serve, alarm-evaluator, alarm-notifier).
  { key: 'evaluationInterval', flag: 'evaluation-interval', env: 'TALLY_EVALUATION_INTERVAL', help: "seconds between two evaluations of each alarm (Aodh's evaluation_interval)", dflt: () => 60, parse: seconds('evaluation-interval') },
  { key: 'evaluatorGroup', flag: 'evaluator-group', env: 'TALLY_EVALUATOR_GROUP', help: 'group of the evaluators that share the alarms (members of one group split them on a hash ring)', dflt: () => DEFAULT_GROUP, parse: text },
  { key: 'notifierTimeout', flag: 'notifier-timeout', env: 'TALLY_NOTIFIER_TIMEOUT', help: 'seconds one webhook delivery may take, connection to the end of the answer', dflt: () => 10, parse: seconds('notifier-timeout') },
  { key: 'notifierLease', flag: 'notifier-lease', env: 'TALLY_NOTIFIER_LEASE', help: "seconds a notifier's claim holds a notification before another notifier may take it over (above --notifier-timeout)", dflt: () => 60, parse: seconds('notifier-lease') },
  { key: 'notifierPollInterval', flag: 'notifier-poll-interval', env: 'TALLY_NOTIFIER_POLL_INTERVAL', help: 'seconds between two looks at the outbox when no state change in this process wakes the notifier', dflt: () => 1, parse: seconds('notifier-poll-interval') },
  { key: 'notifierMaxBackoff', flag: 'notifier-max-backoff', env: 'TALLY_NOTIFIER_MAX_BACKOFF', help: 'longest wait, in seconds, before another try at a receiver that failed (retries back off exponentially from 1 s, with jitter)', dflt: () => 300, parse: seconds('notifier-max-backoff') },
  { key: 'alarmHmacSecrets', flag: 'alarm-hmac-secrets', env: 'TALLY_ALARM_HMAC_SECRETS', help: 'JSON file {"name": "secret", ...}: actions with tally-hmac-key=name are signed with that secret', dflt: () => '', parse: (r) => (String(r) === '' ? '' : resolve(String(r))) },
  { key: 'gnocchiUrl', flag: 'gnocchi-url', env: 'TALLY_GNOCCHI_URL', help: "metric API the evaluator reads over HTTP (a remote Tally or Gnocchi); default: this data folder's metric store, in process", dflt: () => '', parse: httpUrl },
  { key: 'gnocchiUser', flag: 'gnocchi-user', env: 'TALLY_GNOCCHI_USER', help: "user name sent to --gnocchi-url (HTTP basic; Gnocchi's basic mode takes it as the identity)", dflt: () => 'admin', parse: text },
  { key: 'gnocchiPassword', flag: 'gnocchi-password', env: 'TALLY_GNOCCHI_PASSWORD', help: 'password sent with --gnocchi-user (a Tally token in auth mode token)', dflt: () => '', parse: text },
  { key: 'gnocchiToken', flag: 'gnocchi-token', env: 'TALLY_GNOCCHI_TOKEN', help: 'token sent to --gnocchi-url as X-Auth-Token (Keystone, or a Tally token) instead of --gnocchi-user', dflt: () => '', parse: text },
  { key: 'agentConfig', flag: 'agent-config', env: 'TALLY_AGENT_CONFIG', help: 'serve: also run the metering agent with this configuration (docs/AGENT.md), publishing into this metric store; its buffer is in the data folder', dflt: () => '', parse: (r) => (String(r) === '' ? '' : resolve(String(r))) },
  // The rating processor (docs/RATING.md).
  { key: 'ratingProcessor', flag: 'rating-processor', env: 'TALLY_RATING_PROCESSOR', help: 'on | off: whether serve runs a rating processor (it only reads the metric store and writes rated data to the index database)', dflt: () => true, parse: boolean },
  { key: 'ratingMetrics', flag: 'rating-metrics', env: 'TALLY_RATING_METRICS', help: "what to rate: a metrics file in CloudKitty's metrics.yml shape (default: Ceilometer's usual meters, see docs/RATING.md)", dflt: () => '', parse: (r) => (String(r) === '' ? '' : resolve(String(r))) },
  { key: 'ratingPeriod', flag: 'rating-period', env: 'TALLY_RATING_PERIOD', help: 'rating period, in seconds (every processor sharing an index database must use the same)', dflt: () => 3600, parse: intIn('rating-period', 1, 31 * 86_400) },
  { key: 'ratingInterval', flag: 'rating-interval', env: 'TALLY_RATING_INTERVAL', help: 'seconds between two passes of the rating processor over its scopes', dflt: () => 60, parse: seconds('rating-interval') },
  { key: 'ratingCurrency', flag: 'rating-currency', env: 'TALLY_RATING_CURRENCY', help: 'ISO 4217 code of rated prices (priced mappings must be priced in it: prices are never converted)', dflt: () => 'USD', parse: currencyCode },
  { key: 'ratingGroup', flag: 'rating-group', env: 'TALLY_RATING_GROUP', help: 'group of the rating processors that share the scopes (members of one group split them on a hash ring)', dflt: () => 'rating', parse: text },
  { key: 'ratingAlarmUrl', flag: 'rating-alarm-url', env: 'TALLY_RATING_ALARM_URL', help: "alarm API (Tally's, Aodh v2) budgets fire through; default: serve's own alarm API, none for tally rating alone (budgets not checked)", dflt: () => '', parse: httpUrlOf('rating-alarm-url') },
  { key: 'maxAnswerPoints', flag: 'max-answer-points', env: 'TALLY_MAX_ANSWER_POINTS', help: 'most points one API request may read and answer (reads of measures, aggregates, searches by value); past it the request answers 413 (0: no bound)', dflt: () => DEFAULT_MAX_ANSWER_POINTS, parse: int('max-answer-points') },
];

/** Flag name -> camelCase key as commander stores it. */
export function flagKey(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

export function loadConfigFile(path: string | undefined): Record<string, unknown> {
  if (!path) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`config file ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`${path}: expected a JSON object`);
  const known = new Set(SPECS.map((s) => s.flag));
  for (const k of Object.keys(parsed)) if (!known.has(k)) throw new ConfigError(`${path}: unknown setting "${k}"`);
  return parsed as Record<string, unknown>;
}

/** Resolves every setting from flags, environment, config file and defaults (in that order). */
export function resolveSettings(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Settings {
  const file = loadConfigFile((flags.config as string | undefined) ?? env.TALLY_CONFIG);
  const out: Partial<Settings> = {};
  for (const spec of SPECS) {
    const raw = flags[flagKey(spec.flag)] ?? env[spec.env] ?? file[spec.flag];
    (out as Record<string, unknown>)[spec.key] = raw === undefined ? spec.dflt(out) : spec.parse(raw as string);
  }
  const s = out as Settings;
  if (!!s.tlsCert !== !!s.tlsKey) throw new ConfigError('--tls-cert and --tls-key go together: give both (HTTPS) or neither (HTTP)');
  if (s.notifierLease <= s.notifierTimeout) throw new ConfigError('--notifier-lease must exceed --notifier-timeout, or deliveries still running would be taken over');
  return s;
}

// Where each auth mode may listen.

/** True for 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIP(h) === 4) return h.split('.')[0] === '127';
  if (isIP(h) === 6) {
    // The URL parser writes IPv6 addresses in one canonical form.
    const canon = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    if (canon === '::1') return true;
    const mapped = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(canon);
    return !!mapped && parseInt(mapped[1], 16) >> 8 === 127;
  }
  return false;
}

const TRUSTS: Record<Exclude<AuthMode, 'token'>, string> = {
  basic: 'it believes any user name a client sends (user "admin" is the administrator) and ignores the password',
  noauth: 'it believes the X-User-Id, X-Project-Id and X-Roles headers any client sends',
  remoteuser: 'it believes the X-Remote-User header, which any client can send unless a proxy in front strips it',
};

/**
 * Why Tally must not listen on `host` in `mode`, or null when it may. Gnocchi's own modes
 * trust the client, so they are only safe where no one else can connect: loopback, unless
 * the operator says the network is trusted (`insecure`).
 */
export function listenRefusal(host: string, mode: AuthMode, insecure: boolean, alarmPolicy: AlarmPolicy = 'default'): string | null {
  if (alarmPolicy === 'open' && !isLoopbackHost(host)) {
    return `refusing to listen on ${host || 'every interface'} with --alarm-policy open: it lets anyone who can reach the alarm API do anything, without identity. Use it on loopback only (--host 127.0.0.1).`;
  }
  if (mode === 'token' || insecure || isLoopbackHost(host)) return null;
  return `refusing to listen on ${host || 'every interface'} in auth mode "${mode}": ${TRUSTS[mode]}, ` +
    'so anyone who can reach the port could act as any user, administrator included. ' +
    'Either use --auth-mode token (API tokens; see docs/SECURITY.md), ' +
    'or listen on loopback (--host 127.0.0.1) behind a proxy that authenticates, ' +
    'or, if every client on this network is trusted, start with --insecure (TALLY_INSECURE=1).';
}
