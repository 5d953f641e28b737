// The agent's configuration: Ceilometer's polling.yaml shape (a list of sources, each with a
// name, an interval in seconds and meter patterns) plus what Tally needs to know per source
// (which pollster, its options, a call timeout, an archive policy). Everything is checked
// when the file is read, so that a typo stops the agent at start with the source and key
// named, rather than a source silently never polling.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { JsonValue } from '@tally/client';
import { compileGlob } from '@tally/timeseries';

/** A configuration the agent cannot run with; the message names the file, source and key. */
export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

export interface SourceConfig {
  readonly name: string;
  /** Seconds between two polls. */
  readonly interval: number;
  /** Ceilometer's meter patterns, as written. */
  readonly meters: readonly string[];
  /** Whether the patterns select a meter. */
  readonly wants: (meter: string) => boolean;
  /** A built-in pollster name, an npm package name, or a path to a module (./x.js). */
  readonly pollster: string;
  readonly options: Readonly<Record<string, JsonValue>>;
  /** Seconds one discover or poll call may take before it is abandoned. */
  readonly timeout: number;
  /** Archive policy of the metrics this source creates; by default Ceilometer's per meter type. */
  readonly archivePolicy: string | null;
}

export interface AgentConfig {
  /** The file it was read from ('' when parsed from text). */
  readonly file: string;
  /** The folder plugin packages and relative module paths are resolved from. */
  readonly dir: string;
  readonly sources: readonly SourceConfig[];
  /** Bytes the on-disk buffer may hold before it drops its oldest samples. */
  readonly bufferMaxBytes: number;
  /** Largest body of one publishing request; a cycle above it is sent in several. */
  readonly maxRequestBytes: number;
  /** Seconds between two publications of the agent's own health metrics (0: none). */
  readonly healthInterval: number;
  /** Longest wait, in seconds, between two tries of the publisher while the store is away. */
  readonly publishRetryMax: number;
}

export const DEFAULT_BUFFER_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024;
export const DEFAULT_HEALTH_INTERVAL = 60;
export const DEFAULT_PUBLISH_RETRY_MAX = 60;
/** An hour: longer, and an agent would look stuck long after its store came back. */
const MAX_PUBLISH_RETRY_MAX = 3600;
/** A call never gets longer than this by default, whatever the interval. */
const DEFAULT_TIMEOUT_CAP = 300;

const SOURCE_KEYS = ['name', 'interval', 'meters', 'pollster', 'options', 'timeout', 'archive_policy'];
const TOP_KEYS = ['sources', 'buffer_max_bytes', 'max_request_bytes', 'health_interval', 'publish_retry_max'];
/** Ceilometer keys Tally's sources do not take, with why. */
const UNSUPPORTED: Record<string, string> = {
  resources: 'Tally pollsters find their own targets: give them in the source\'s options',
  discovery: 'Tally pollsters discover their own targets: give what they need in the source\'s options',
};

type Json = JsonValue | undefined;
const isMap = (v: Json): v is Record<string, JsonValue> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Ceilometer's meter selection: `!pattern` excludes, other patterns include, `*` alone takes
 * every meter; exclusions win; a list of exclusions only takes every other meter. Patterns
 * are shell patterns matched as Python's fnmatch does on POSIX (case-sensitive).
 */
export function meterMatcher(patterns: readonly string[]): (meter: string) => boolean {
  const deny = patterns.filter((p) => p.startsWith('!')).map((p) => compileGlob(p.slice(1)));
  const allow = patterns.filter((p) => !p.startsWith('!')).map((p) => compileGlob(p));
  const onlyDeny = allow.length === 0;
  return (meter) => {
    if (deny.some((g) => g.test(meter))) return false;
    return onlyDeny || allow.some((g) => g.test(meter));
  };
}

/** Ceilometer's rules for a meter list, with its words. */
function checkMeters(where: string, meters: readonly string[]): void {
  if (meters.length === 0) throw new AgentConfigError(`${where}: meters: no meters specified`);
  const included = meters.some((m) => m[0] !== '!' && m[0] !== '*');
  if (included && meters.some((m) => m[0] === '!')) {
    throw new AgentConfigError(`${where}: meters: both included and excluded meters specified`);
  }
  if (meters.includes('*') && included) {
    throw new AgentConfigError(`${where}: meters: included meters specified with wildcard`);
  }
}

function positive(where: string, key: string, v: Json, integer: boolean): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new AgentConfigError(`${where}: ${key} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function unknownKeys(where: string, map: Record<string, JsonValue>, known: readonly string[]): void {
  for (const k of Object.keys(map)) {
    if (known.includes(k)) continue;
    const why = UNSUPPORTED[k];
    throw new AgentConfigError(why ? `${where}: ${k} is not supported: ${why}`
      : `${where}: unknown key ${JSON.stringify(k)} (known: ${known.join(', ')})`);
  }
}

function parseSource(file: string, index: number, raw: JsonValue, seen: Set<string>): SourceConfig {
  const at = `${file}: sources[${index}]`;
  if (!isMap(raw)) throw new AgentConfigError(`${at}: a source must be a mapping`);
  if (typeof raw.name !== 'string' || raw.name.trim() === '') throw new AgentConfigError(`${at}: name is required (a non-empty string)`);
  const name = raw.name;
  const where = `${file}: source ${JSON.stringify(name)}`;
  if (seen.has(name)) throw new AgentConfigError(`${where}: name is used by another source`);
  seen.add(name);
  unknownKeys(where, raw, SOURCE_KEYS);
  if (raw.interval === undefined) throw new AgentConfigError(`${where}: interval is required (seconds)`);
  const interval = positive(where, 'interval', raw.interval, true);
  if (!Array.isArray(raw.meters)) throw new AgentConfigError(`${where}: meters is required (a list of meter patterns)`);
  const meters = raw.meters.map((m, i) => {
    if (typeof m !== 'string' || m === '' || m === '!') throw new AgentConfigError(`${where}: meters[${i}] must be a meter name or pattern`);
    return m;
  });
  checkMeters(where, meters);
  let wants: (meter: string) => boolean;
  try {
    wants = meterMatcher(meters);
  } catch (e) {
    throw new AgentConfigError(`${where}: meters: ${(e as Error).message}`);
  }
  if (typeof raw.pollster !== 'string' || raw.pollster.trim() === '') {
    throw new AgentConfigError(`${where}: pollster is required (host, libvirt, vsphere, or a package name)`);
  }
  const options = raw.options ?? {};
  if (!isMap(options)) throw new AgentConfigError(`${where}: options must be a mapping`);
  const timeout = raw.timeout === undefined ? Math.min(interval, DEFAULT_TIMEOUT_CAP) : positive(where, 'timeout', raw.timeout, false);
  const ap = raw.archive_policy;
  if (ap !== undefined && (typeof ap !== 'string' || ap === '')) throw new AgentConfigError(`${where}: archive_policy must be an archive policy name`);
  return { name, interval, meters, wants, pollster: raw.pollster, options, timeout, archivePolicy: ap ?? null };
}

/** Reads a configuration from YAML text; `file` names it in errors and anchors relative paths. */
export function parseAgentConfig(text: string, file = ''): AgentConfig {
  const label = file || 'configuration';
  let doc: JsonValue;
  try {
    doc = parseYaml(text) as JsonValue;
  } catch (e) {
    throw new AgentConfigError(`${label}: not valid YAML: ${e instanceof YAMLParseError ? e.message : String(e)}`);
  }
  if (!isMap(doc)) throw new AgentConfigError(`${label}: expected a mapping with a sources list`);
  unknownKeys(label, doc, TOP_KEYS);
  if (!Array.isArray(doc.sources) || doc.sources.length === 0) throw new AgentConfigError(`${label}: sources must be a non-empty list`);
  const seen = new Set<string>();
  const sources = doc.sources.map((s, i) => parseSource(label, i, s, seen));
  const opt = (key: string, dflt: number, integer: boolean): number => (doc[key] === undefined ? dflt : positive(label, key, doc[key], integer));
  const healthInterval = doc.health_interval === 0 ? 0 : opt('health_interval', DEFAULT_HEALTH_INTERVAL, true);
  const bufferMaxBytes = opt('buffer_max_bytes', DEFAULT_BUFFER_MAX_BYTES, true);
  const maxRequestBytes = opt('max_request_bytes', DEFAULT_MAX_REQUEST_BYTES, true);
  if (bufferMaxBytes < 64 * 1024) throw new AgentConfigError(`${label}: buffer_max_bytes must be at least 65536`);
  if (maxRequestBytes < 1024) throw new AgentConfigError(`${label}: max_request_bytes must be at least 1024`);
  const publishRetryMax = opt('publish_retry_max', DEFAULT_PUBLISH_RETRY_MAX, false);
  if (publishRetryMax > MAX_PUBLISH_RETRY_MAX) throw new AgentConfigError(`${label}: publish_retry_max must be at most ${MAX_PUBLISH_RETRY_MAX} (seconds), got ${publishRetryMax}`);
  return { file, dir: file ? dirname(resolve(file)) : process.cwd(), sources, bufferMaxBytes, maxRequestBytes, healthInterval, publishRetryMax };
}

export function loadAgentConfig(file: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AgentConfigError(`${file}: ${(e as Error).message}`);
  }
  return parseAgentConfig(text, file);
}
