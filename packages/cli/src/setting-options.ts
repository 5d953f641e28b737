// The settings as the server commands take them on the command line: each one's flag,
// environment variable and help. Their defaults and validation, which need constants of the
// server packages, are in config.ts; this module imports none of those packages, so that
// building the `tally` command (every invocation does, client commands and --help included)
// stays cheap.
import { Option, type Command } from 'commander';
import type { Settings } from './config.js';

/** A setting that cannot work (e.g. a certificate without its key): printed without a stack. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface SettingOption {
  flag: string;
  env: string;
  help: string;
  /** A flag without a value (`--insecure`); its environment variable and key take a boolean. */
  flagOnly?: true;
}

/**
 * Every setting, in the order the help lists them. The bound in the help of
 * --max-resource-type-attributes is @tally/indexer's MAX_RESOURCE_TYPE_COLUMNS, written out
 * because importing the indexer here would load Kysely for every command; a unit test keeps
 * the two equal.
 */
export const SETTING_OPTIONS: Record<keyof Settings, SettingOption> = {
  dataDir: { flag: 'data-dir', env: 'TALLY_DATA_DIR', help: 'folder holding the embedded index, incoming measures and aggregates' },
  host: { flag: 'host', env: 'TALLY_HOST', help: 'address the API listens on' },
  port: { flag: 'port', env: 'TALLY_PORT', help: 'port the API listens on' },
  authMode: { flag: 'auth-mode', env: 'TALLY_AUTH_MODE', help: 'basic | noauth | remoteuser (as Gnocchi; they trust the client, so loopback only unless --insecure) | token (API tokens of `tally user`)' },
  indexerUrl: { flag: 'indexer-url', env: 'TALLY_INDEXER_URL', help: 'sqlite:///path/index.db (default: in the data folder) or postgresql://...' },
  incomingUrl: { flag: 'incoming-url', env: 'TALLY_INCOMING_URL', help: 'file:///path or redis://host:port/db of the measures waiting to be processed (default: in the data folder)' },
  storageUrl: { flag: 'storage-url', env: 'TALLY_STORAGE_URL', help: 'file:///path or s3://KEY:SECRET@host:port/bucket?region=&tls=&prefix= of the aggregates (default: in the data folder)' },
  coordinationUrl: { flag: 'coordination-url', env: 'TALLY_COORDINATION_URL', help: 'where locks and group membership live, shared by every Tally process: file:///path (default: in the data folder), etcd://host:port[,host:port...]/prefix, redis://host:port/db or postgresql://... (docs/CONFIGURATION.md)' },
  sacks: { flag: 'sacks', env: 'TALLY_SACKS', help: 'number of incoming sacks of a new data folder (default 8); an existing folder keeps its own (see `tally change-sack-size`)' },
  maxLimit: { flag: 'max-limit', env: 'TALLY_MAX_LIMIT', help: 'largest page a list returns' },
  corsAllowedOrigins: { flag: 'cors-allowed-origin', env: 'TALLY_CORS_ALLOWED_ORIGINS', help: 'comma-separated origins allowed by CORS' },
  proxyHeaders: { flag: 'proxy-headers', env: 'TALLY_PROXY_HEADERS', help: 'honour Forwarded / X-Forwarded-* when building URLs', flagOnly: true },
  proxyPrefix: { flag: 'proxy-prefix', env: 'TALLY_PROXY_PREFIX', help: 'path a reverse proxy publishes Tally under when it sends no X-Forwarded-Prefix' },
  processingIntervalMs: { flag: 'processing-interval', env: 'TALLY_PROCESSING_INTERVAL', help: 'longest idle pause of processing workers, in ms' },
  processingSettleMs: { flag: 'processing-settle', env: 'TALLY_PROCESSING_SETTLE', help: 'ms without new measures a woken processing worker waits for before it scans, 200 at most in all (0: none)' },
  metricdWorkers: { flag: 'metricd-workers', env: 'TALLY_METRICD_WORKERS', help: 'processing workers (threads) started by serve/metricd' },
  sackReplicas: { flag: 'sack-replicas', env: 'TALLY_SACK_REPLICAS', help: 'processing workers owning each sack, on a hash ring of the live workers (0: every worker visits every sack; default 0 with file:// coordination, 3 otherwise, as Gnocchi)' },
  membershipTimeout: { flag: 'membership-timeout', env: 'TALLY_MEMBERSHIP_TIMEOUT', help: 'seconds a processing worker that stopped heartbeating keeps its sacks (it heartbeats five times as often)' },
  bodyLimitBytes: { flag: 'body-limit', env: 'TALLY_BODY_LIMIT', help: 'largest request body accepted, in bytes' },
  logLevel: { flag: 'log-level', env: 'TALLY_LOG_LEVEL', help: 'fatal | error | warn | info | debug' },
  insecure: { flag: 'insecure', env: 'TALLY_INSECURE', help: 'allow auth modes basic, noauth and remoteuser to listen beyond loopback (they trust what clients say)', flagOnly: true },
  tlsCert: { flag: 'tls-cert', env: 'TALLY_TLS_CERT', help: 'PEM certificate (chain) file: the API speaks HTTPS (needs --tls-key)' },
  tlsKey: { flag: 'tls-key', env: 'TALLY_TLS_KEY', help: 'PEM private key file of --tls-cert' },
  tokenCacheTtl: { flag: 'token-cache-ttl', env: 'TALLY_TOKEN_CACHE_TTL', help: 'seconds a verified API token is trusted before it is checked again (revocation delay)' },
  // Input bounds (docs/LIMITS.md). Each request of a metric's life walks its policy's items,
  // so their number is bounded; a resource type is a table with a column per attribute,
  // bounded below what PostgreSQL allows per table.
  maxArchivePolicyItems: { flag: 'max-archive-policy-items', env: 'TALLY_MAX_ARCHIVE_POLICY_ITEMS', help: 'most granularities one archive policy may define' },
  maxResourceTypeAttributes: { flag: 'max-resource-type-attributes', env: 'TALLY_MAX_RESOURCE_TYPE_ATTRIBUTES', help: 'most attributes one resource type may have (at most 1599)' },
  // Time bound (docs/LIMITS.md). The API serves every client from one thread: reads and
  // aggregations share it as they go and stop past this deadline with a 503, so that no
  // single request, however large, holds the server's resources without end.
  requestDeadlineMs: { flag: 'request-deadline-ms', env: 'TALLY_REQUEST_DEADLINE_MS', help: 'longest computation of one API request (reads, aggregates), in ms; past it the request answers 503 (0: no deadline)' },
  // Start-up (docs/CONFIGURATION.md): the API and each processing thread run their hot paths
  // over scratch stores before they serve, so that the first requests meet compiled code.
  warmUpMs: { flag: 'warm-up-ms', env: 'TALLY_WARM_UP_MS', help: 'time, in ms, the API and each processing thread of serve/api/metricd spend warming up on scratch data before they serve (0: none)' },
  alarmPort: { flag: 'alarm-port', env: 'TALLY_ALARM_PORT', help: 'port of the alarm API (Aodh v2), opened by serve and alarm-api (0: any free port)' },
  ratingPort: { flag: 'rating-port', env: 'TALLY_RATING_PORT', help: 'port of the rating API (CloudKitty v1 and v2), opened by serve and rating-api (0: any free port)' },
  alarmPolicy: { flag: 'alarm-policy', env: 'TALLY_ALARM_POLICY', help: "default (Aodh's default rules) | open (every rule granted, requests without identity allowed: Aodh's functional-test profile, for test harnesses on loopback only)" },
  adminToken: { flag: 'admin-token', env: 'TALLY_ADMIN_TOKEN', help: 'in auth mode token, a fixed token (16 characters or more) both APIs accept as an administrator, for service accounts; prefer user tokens otherwise' },
  // The alarm evaluator and notifier (tally serve, alarm-evaluator, alarm-notifier).
  evaluationInterval: { flag: 'evaluation-interval', env: 'TALLY_EVALUATION_INTERVAL', help: "seconds between two evaluations of each alarm (Aodh's evaluation_interval)" },
  evaluatorGroup: { flag: 'evaluator-group', env: 'TALLY_EVALUATOR_GROUP', help: 'group of the evaluators that share the alarms (members of one group split them on a hash ring)' },
  notifierTimeout: { flag: 'notifier-timeout', env: 'TALLY_NOTIFIER_TIMEOUT', help: 'seconds one webhook delivery may take, connection to the end of the answer' },
  notifierLease: { flag: 'notifier-lease', env: 'TALLY_NOTIFIER_LEASE', help: "seconds a notifier's claim holds a notification before another notifier may take it over (above --notifier-timeout)" },
  notifierPollInterval: { flag: 'notifier-poll-interval', env: 'TALLY_NOTIFIER_POLL_INTERVAL', help: 'seconds between two looks at the outbox when no state change in this process wakes the notifier' },
  notifierMaxBackoff: { flag: 'notifier-max-backoff', env: 'TALLY_NOTIFIER_MAX_BACKOFF', help: 'longest wait, in seconds, before another try at a receiver that failed (retries back off exponentially from 1 s, with jitter)' },
  alarmHmacSecrets: { flag: 'alarm-hmac-secrets', env: 'TALLY_ALARM_HMAC_SECRETS', help: 'JSON file {"name": "secret", ...}: actions with tally-hmac-key=name are signed with that secret' },
  gnocchiUrl: { flag: 'gnocchi-url', env: 'TALLY_GNOCCHI_URL', help: "metric API the evaluator reads over HTTP (a remote Tally or Gnocchi); default: this data folder's metric store, in process" },
  gnocchiUser: { flag: 'gnocchi-user', env: 'TALLY_GNOCCHI_USER', help: "user name sent to --gnocchi-url (HTTP basic; Gnocchi's basic mode takes it as the identity)" },
  gnocchiPassword: { flag: 'gnocchi-password', env: 'TALLY_GNOCCHI_PASSWORD', help: 'password sent with --gnocchi-user (a Tally token in auth mode token)' },
  gnocchiToken: { flag: 'gnocchi-token', env: 'TALLY_GNOCCHI_TOKEN', help: 'token sent to --gnocchi-url as X-Auth-Token (Keystone, or a Tally token) instead of --gnocchi-user' },
  agentConfig: { flag: 'agent-config', env: 'TALLY_AGENT_CONFIG', help: 'serve: also run the metering agent with this configuration (docs/AGENT.md), publishing into this metric store; its buffer is in the data folder' },
  // The rating processor (docs/RATING.md).
  ratingProcessor: { flag: 'rating-processor', env: 'TALLY_RATING_PROCESSOR', help: 'on | off: whether serve runs a rating processor (it only reads the metric store and writes rated data to the index database)' },
  ratingMetrics: { flag: 'rating-metrics', env: 'TALLY_RATING_METRICS', help: "what to rate: a metrics file in CloudKitty's metrics.yml shape (default: Ceilometer's usual meters, see docs/RATING.md)" },
  ratingPeriod: { flag: 'rating-period', env: 'TALLY_RATING_PERIOD', help: 'rating period, in seconds (every processor sharing an index database must use the same)' },
  ratingInterval: { flag: 'rating-interval', env: 'TALLY_RATING_INTERVAL', help: 'seconds between two passes of the rating processor over its scopes' },
  ratingCurrency: { flag: 'rating-currency', env: 'TALLY_RATING_CURRENCY', help: 'ISO 4217 code of rated prices (priced mappings must be priced in it: prices are never converted)' },
  ratingGroup: { flag: 'rating-group', env: 'TALLY_RATING_GROUP', help: 'group of the rating processors that share the scopes (members of one group split them on a hash ring)' },
  ratingAlarmUrl: { flag: 'rating-alarm-url', env: 'TALLY_RATING_ALARM_URL', help: "alarm API (Tally's, Aodh v2) budgets fire through; default: serve's own alarm API, none for tally rating alone (budgets not checked)" },
  // Size bound (docs/LIMITS.md): an answer's JSON is written on the API's one thread and an
  // aggregation's work follows the points it reads, so both are bounded; past it the
  // request answers 413 before anything is computed from the excess or written.
  maxAnswerPoints: { flag: 'max-answer-points', env: 'TALLY_MAX_ANSWER_POINTS', help: 'most points one API request may read and answer (reads of measures, aggregates, searches by value); past it the request answers 413 (0: no bound)' },
};

/** Adds --config and every setting's option to `cmd`. */
export function withSettings(cmd: Command): Command {
  cmd.option('-c, --config <file>', 'JSON config file whose keys are the long option names (env TALLY_CONFIG)');
  for (const s of Object.values(SETTING_OPTIONS)) {
    cmd.addOption(new Option(`--${s.flag}${s.flagOnly ? '' : ' <value>'}`, `${s.help} (env ${s.env})`));
  }
  return cmd;
}
