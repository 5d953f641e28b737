// Where the client commands connect and as whom: from flags, else the environment, else a
// JSON file ($TALLY_CLIENT_CONFIG, else $XDG_CONFIG_HOME/tally/client.json, else
// ~/.config/tally/client.json). Flags beat the environment, which beats the file, key by key.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AodhClient, GnocchiClient, type GnocchiAuth, type TransportOptions } from '@tally/client';
import { UsageError } from './output.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8041';
/** The port `tally serve` opens its alarm API on unless told otherwise (--alarm-port). */
export const DEFAULT_ALARM_PORT = 8042;

export const AUTH_TYPES = ['basic', 'noauth', 'token', 'none'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

export interface ClientSettings {
  endpoint: string;
  alarmEndpoint: string;
  auth: AuthType;
  user: string | undefined;
  password: string | undefined;
  project: string | undefined;
  roles: string[] | undefined;
  token: string | undefined;
  /** Limit on each request (ms). */
  timeoutMs: number;
  /** Where each setting came from: an unreachable endpoint's message says which source set it. */
  sources: Partial<Record<SettingKey, 'flag' | 'env' | 'file' | 'default'>>;
}

type SettingKey = 'endpoint' | 'alarmEndpoint' | 'auth' | 'user' | 'password' | 'project' | 'roles' | 'token' | 'timeout';

/** The settings a flag, an environment variable and a file key give (first variable set wins). */
const SPEC: { key: SettingKey; flag: string; env: string[]; file: string[] }[] = [
  { key: 'endpoint', flag: 'endpoint', env: ['TALLY_ENDPOINT', 'GNOCCHI_ENDPOINT'], file: ['endpoint'] },
  { key: 'alarmEndpoint', flag: 'alarmEndpoint', env: ['TALLY_ALARM_ENDPOINT', 'AODH_ENDPOINT'], file: ['alarm_endpoint', 'alarmEndpoint'] },
  { key: 'auth', flag: 'auth', env: ['TALLY_AUTH'], file: ['auth'] },
  { key: 'user', flag: 'user', env: ['TALLY_USER', 'GNOCCHI_USER_ID'], file: ['user'] },
  { key: 'password', flag: 'password', env: ['TALLY_PASSWORD'], file: ['password'] },
  { key: 'project', flag: 'project', env: ['TALLY_PROJECT', 'GNOCCHI_PROJECT_ID'], file: ['project'] },
  { key: 'roles', flag: 'roles', env: ['TALLY_ROLES'], file: ['roles'] },
  { key: 'token', flag: 'token', env: ['TALLY_TOKEN'], file: ['token'] },
  { key: 'timeout', flag: 'timeout', env: ['TALLY_TIMEOUT'], file: ['timeout'] },
];

/** The client configuration file's path: $TALLY_CLIENT_CONFIG, else under $XDG_CONFIG_HOME (or ~/.config). */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TALLY_CLIENT_CONFIG) return env.TALLY_CLIENT_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'tally', 'client.json');
}

/** The file's settings; a missing file is no settings, an unreadable or malformed one a usage error. */
function readConfigFile(path: string, explicit: boolean): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw new UsageError(`cannot read the client configuration ${path}: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path} is not JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${path} must hold a JSON object such as {"endpoint": "http://127.0.0.1:8041"}`);
  return v as Record<string, unknown>;
}

/** The endpoint's host on the alarm port: where `tally serve` puts the alarm API beside the metric API. */
export function alarmEndpointFor(endpoint: string): string {
  const u = new URL(endpoint);
  u.port = String(DEFAULT_ALARM_PORT);
  u.pathname = '/';
  return u.href.replace(/\/$/, '');
}

function checkUrl(name: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`${name} ${JSON.stringify(value)} is not a URL (e.g. http://127.0.0.1:8041)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`${name} ${value}: only http and https URLs are supported`);
  return value.replace(/\/+$/, '');
}

/** Settings from the command's flags, the environment and the configuration file, in that order. */
export function resolveClientSettings(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ClientSettings {
  const path = configPath(env);
  const file = readConfigFile(path, Boolean(env.TALLY_CLIENT_CONFIG));
  const sources: ClientSettings['sources'] = {};
  const raw: Partial<Record<SettingKey, string | string[]>> = {};
  for (const s of SPEC) {
    const f = flags[s.flag];
    const e = s.env.map((n) => env[n]).find((x) => x !== undefined && x !== '');
    const fk = s.file.find((k) => file[k] !== undefined);
    if (f !== undefined && f !== '') {
      raw[s.key] = f as string | string[];
      sources[s.key] = 'flag';
    } else if (e !== undefined) {
      raw[s.key] = e;
      sources[s.key] = 'env';
    } else if (fk !== undefined) {
      const v = file[fk];
      if (typeof v !== 'string' && typeof v !== 'number' && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
        throw new UsageError(`${path}: "${fk}" must be a string`);
      }
      raw[s.key] = Array.isArray(v) ? v : String(v);
      sources[s.key] = 'file';
    }
  }
  const str = (k: SettingKey): string | undefined => {
    const v = raw[k];
    return Array.isArray(v) ? v.join(',') : v;
  };
  const endpoint = checkUrl('endpoint', str('endpoint') ?? DEFAULT_ENDPOINT);
  if (!sources.endpoint) sources.endpoint = 'default';
  const alarmEndpoint = checkUrl('alarm endpoint', str('alarmEndpoint') ?? alarmEndpointFor(endpoint));
  if (!sources.alarmEndpoint) sources.alarmEndpoint = 'default';
  const roles = raw.roles === undefined ? undefined : (Array.isArray(raw.roles) ? raw.roles : raw.roles.split(',')).map((r) => r.trim()).filter(Boolean);
  const token = str('token');
  const project = str('project');
  let auth = str('auth') as AuthType | undefined;
  if (auth !== undefined && !AUTH_TYPES.includes(auth)) throw new UsageError(`auth must be one of ${AUTH_TYPES.join(', ')}, got ${auth}`);
  // A token means token mode and a project or roles mean noauth's headers, unless told otherwise.
  auth ??= token !== undefined ? 'token' : project !== undefined || roles !== undefined ? 'noauth' : 'basic';
  if (auth === 'token' && token === undefined) throw new UsageError('auth token needs a token: give --token or TALLY_TOKEN');
  const timeout = Number(str('timeout') ?? 30);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`timeout must be a positive number of seconds, got ${str('timeout')}`);
  return {
    endpoint, alarmEndpoint, auth, token, project, roles,
    // Gnocchi's basic mode needs a user name and takes any: gnocchiclient's basic plugin says admin.
    user: str('user') ?? (auth === 'basic' ? 'admin' : undefined),
    password: str('password'),
    timeoutMs: timeout * 1000,
    sources,
  };
}

export function transportAuth(s: ClientSettings): GnocchiAuth {
  switch (s.auth) {
    case 'token':
      return { type: 'bearer', token: s.token ?? '' };
    case 'noauth':
      return { type: 'noauth', userId: s.user, projectId: s.project, roles: s.roles };
    case 'basic':
      return { type: 'basic', user: s.user ?? 'admin', password: s.password };
    case 'none':
      return { type: 'none' };
  }
}

function transport(url: string, s: ClientSettings): TransportOptions {
  // Two tries: one quick retry covers a restarting server; a person waits for the rest.
  return { url, auth: transportAuth(s), timeoutMs: s.timeoutMs, retry: { attempts: 2, totalMs: s.timeoutMs } };
}

export const gnocchiClient = (s: ClientSettings): GnocchiClient => new GnocchiClient(transport(s.endpoint, s));
export const aodhClient = (s: ClientSettings): AodhClient => new AodhClient(transport(s.alarmEndpoint, s));
