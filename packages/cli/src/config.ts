// Tally's settings: their defaults, validation and resolution. Each has a flag, an
// environment variable and a config-file key (setting-options.ts names them); the first one
// set wins, in that order, then the default. docs/CONFIGURATION.md lists them.
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
import { ConfigError, SETTING_OPTIONS, type SettingOption } from './setting-options.js';

export { ConfigError };

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
  /** How long a woken processing worker waits for ingest to pause before it scans (0: not at all). */
  processingSettleMs: number;
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
  /** Time each thread of a starting server spends warming up (warm-up.ts) before it serves; 0: none. */
  warmUpMs: number;
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

interface Spec extends SettingOption {
  key: keyof Settings;
  dflt: (s: Partial<Settings>) => Settings[keyof Settings];
  parse: (raw: string | number | boolean | string[]) => Settings[keyof Settings];
}

const int = (name: string) => (raw: string | number | boolean | string[]): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got ${String(raw)}`);
  return n;
};
/** A parser of an integer option in [min, max]; ConfigError naming the option otherwise. */
export const intIn = (name: string, min: number, max: number) => (raw: string | number | boolean | string[]): number => {
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

/**
 * Warm-up of a starting server, per thread (warm-up.ts): about what it takes on 2 cores for a
 * first burst to cost what later ones do (measured: 8 rounds, about a second, took the first
 * burst of 100 metrics x 500 measures from 1 090-1 290 ms of CPU to 620-740).
 */
export const DEFAULT_WARM_UP_MS = 1000;

/** The embedded stores of a data folder: where the store settings point by default. */
export function embeddedStores(dataDir: string): Pick<Settings, 'indexerUrl' | 'incomingUrl' | 'storageUrl' | 'coordinationUrl'> {
  const inDataDir = (name: string): string => pathToFileURL(join(dataDir, name)).href;
  return {
    indexerUrl: `sqlite://${join(dataDir, 'index.sqlite')}`,
    incomingUrl: inDataDir('incoming'),
    storageUrl: inDataDir('storage'),
    coordinationUrl: inDataDir('locks'),
  };
}
const dataDirOf = (s: Partial<Settings>): string => s.dataDir ?? resolve('data');

/** Each setting's default (from the settings resolved before it) and validation. */
const RULES: Record<keyof Settings, Pick<Spec, 'dflt' | 'parse'>> = {
  dataDir: { dflt: () => resolve('data'), parse: (r) => resolve(String(r)) },
  host: { dflt: () => '127.0.0.1', parse: text },
  port: { dflt: () => 8041, parse: int('port') },
  authMode: { dflt: () => DEFAULT_HTTP_CONFIG.authMode, parse: authMode },
  indexerUrl: { dflt: (s) => embeddedStores(dataDirOf(s)).indexerUrl, parse: text },
  incomingUrl: { dflt: (s) => embeddedStores(dataDirOf(s)).incomingUrl, parse: text },
  storageUrl: { dflt: (s) => embeddedStores(dataDirOf(s)).storageUrl, parse: text },
  coordinationUrl: { dflt: (s) => embeddedStores(dataDirOf(s)).coordinationUrl, parse: text },
  sacks: { dflt: () => undefined, parse: int('sacks') },
  maxLimit: { dflt: () => DEFAULT_HTTP_CONFIG.maxLimit, parse: int('max-limit') },
  corsAllowedOrigins: { dflt: () => [...DEFAULT_HTTP_CONFIG.corsAllowedOrigins], parse: csv },
  proxyHeaders: { dflt: () => DEFAULT_HTTP_CONFIG.proxyHeaders, parse: boolean },
  proxyPrefix: { dflt: () => DEFAULT_HTTP_CONFIG.proxyPrefix, parse: text },
  processingIntervalMs: { dflt: () => 500, parse: int('processing-interval') },
  processingSettleMs: { dflt: () => 30, parse: intIn('processing-settle', 0, 10_000) },
  metricdWorkers: { dflt: () => 1, parse: int('metricd-workers') },
  sackReplicas: { dflt: (s) => (String(s.coordinationUrl ?? '').startsWith('file:') ? 0 : 3), parse: intIn('sack-replicas', 0, 1000) },
  membershipTimeout: { dflt: () => 10, parse: intIn('membership-timeout', 1, 3600) },
  bodyLimitBytes: { dflt: () => DEFAULT_HTTP_CONFIG.bodyLimit, parse: int('body-limit') },
  logLevel: { dflt: () => 'info', parse: text },
  insecure: { dflt: () => false, parse: boolean },
  tlsCert: { dflt: () => '', parse: (r) => resolve(String(r)) },
  tlsKey: { dflt: () => '', parse: (r) => resolve(String(r)) },
  tokenCacheTtl: { dflt: () => 30, parse: int('token-cache-ttl') },
  maxArchivePolicyItems: { dflt: () => DEFAULT_MAX_DEFINITION_ITEMS, parse: intIn('max-archive-policy-items', 1, 10_000) },
  maxResourceTypeAttributes: { dflt: () => DEFAULT_MAX_RESOURCE_TYPE_ATTRIBUTES, parse: intIn('max-resource-type-attributes', 1, MAX_RESOURCE_TYPE_COLUMNS) },
  requestDeadlineMs: { dflt: () => DEFAULT_REQUEST_DEADLINE_MS, parse: int('request-deadline-ms') },
  warmUpMs: { dflt: () => DEFAULT_WARM_UP_MS, parse: intIn('warm-up-ms', 0, 60_000) },
  alarmPort: { dflt: () => 8042, parse: int('alarm-port') },
  ratingPort: { dflt: () => 8889, parse: int('rating-port') },
  alarmPolicy: { dflt: () => 'default', parse: alarmPolicy },
  adminToken: { dflt: () => '', parse: adminToken },
  evaluationInterval: { dflt: () => 60, parse: seconds('evaluation-interval') },
  evaluatorGroup: { dflt: () => DEFAULT_GROUP, parse: text },
  notifierTimeout: { dflt: () => 10, parse: seconds('notifier-timeout') },
  notifierLease: { dflt: () => 60, parse: seconds('notifier-lease') },
  notifierPollInterval: { dflt: () => 1, parse: seconds('notifier-poll-interval') },
  notifierMaxBackoff: { dflt: () => 300, parse: seconds('notifier-max-backoff') },
  alarmHmacSecrets: { dflt: () => '', parse: (r) => (String(r) === '' ? '' : resolve(String(r))) },
  gnocchiUrl: { dflt: () => '', parse: httpUrl },
  gnocchiUser: { dflt: () => 'admin', parse: text },
  gnocchiPassword: { dflt: () => '', parse: text },
  gnocchiToken: { dflt: () => '', parse: text },
  agentConfig: { dflt: () => '', parse: (r) => (String(r) === '' ? '' : resolve(String(r))) },
  ratingProcessor: { dflt: () => true, parse: boolean },
  ratingMetrics: { dflt: () => '', parse: (r) => (String(r) === '' ? '' : resolve(String(r))) },
  ratingPeriod: { dflt: () => 3600, parse: intIn('rating-period', 1, 31 * 86_400) },
  ratingInterval: { dflt: () => 60, parse: seconds('rating-interval') },
  ratingCurrency: { dflt: () => 'USD', parse: currencyCode },
  ratingGroup: { dflt: () => 'rating', parse: text },
  ratingAlarmUrl: { dflt: () => '', parse: httpUrlOf('rating-alarm-url') },
  maxAnswerPoints: { dflt: () => DEFAULT_MAX_ANSWER_POINTS, parse: int('max-answer-points') },
};

export const SPECS: Spec[] = (Object.keys(SETTING_OPTIONS) as (keyof Settings)[])
  .map((key) => ({ key, ...SETTING_OPTIONS[key], ...RULES[key] }));

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
