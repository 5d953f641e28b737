// The console's HTTP client: credentials kept for the browser tab (sessionStorage), sent the
// way the server's auth mode reads them, and URLs relative to the page, so that the console
// works wherever it is published (a reverse proxy's path prefix included).

export type AuthMode = 'basic' | 'noauth' | 'remoteuser' | 'token';

export interface ServerConfig {
  authMode: AuthMode;
  /** Whether /console/alarming/ reaches an alarm API. */
  alarming: boolean;
  version: string;
}

export type Credentials =
  | { mode: 'token'; token: string }
  | { mode: 'basic'; user: string }
  | { mode: 'noauth'; userId: string; projectId: string; roles: string }
  | { mode: 'remoteuser' };

const KEY = 'tally-console-credentials';

export function loadCredentials(): Credentials | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Credentials;
  } catch {
    return null;
  }
}

export function saveCredentials(c: Credentials | null): void {
  if (c) sessionStorage.setItem(KEY, JSON.stringify(c));
  else sessionStorage.removeItem(KEY);
}

/** Base64 of the UTF-8 bytes (btoa alone takes Latin-1 only). */
function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function authHeaders(c: Credentials | null): Record<string, string> {
  if (!c) return {};
  switch (c.mode) {
    case 'token':
      return { authorization: `Bearer ${c.token}` };
    case 'basic':
      // Gnocchi's basic mode trusts the user name and ignores the password.
      return { authorization: `Basic ${base64(`${c.user}:`)}` };
    case 'noauth': {
      const h: Record<string, string> = { 'x-user-id': c.userId, 'x-project-id': c.projectId };
      if (c.roles) h['x-roles'] = c.roles;
      return h;
    }
    case 'remoteuser':
      return {};
  }
}

/** The Gnocchi API (`v1/...`) or the alarm API (`alarming/v2/...`), relative to /console/. */
export function url(path: string, query?: Record<string, string | number | boolean | undefined>): string {
  const base = path.startsWith('alarming/') ? new URL(path, document.baseURI) : new URL(`../${path}`, document.baseURI);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') base.searchParams.append(k, String(v));
  return base.toString();
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Called on a 401, so that the application can ask for credentials again. */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

function errorText(status: number, body: string): string {
  try {
    const j = JSON.parse(body) as { description?: unknown; error_message?: { faultstring?: string }; title?: string };
    const d = j.description ?? j.error_message?.faultstring ?? j.title;
    if (d !== undefined) return typeof d === 'string' ? d : JSON.stringify(d);
  } catch {
    // not JSON: the text itself
  }
  return body.trim() || `HTTP ${status}`;
}

export async function request<T>(method: string, href: string, body?: unknown, opts: { signal?: AbortSignal; credentials?: Credentials | null } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(opts.credentials === undefined ? loadCredentials() : opts.credentials) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(href, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: opts.signal });
  const text = await res.text();
  if (res.status === 401 && opts.credentials === undefined) onUnauthorized();
  if (!res.ok) throw new ApiError(res.status, errorText(res.status, text));
  return (text ? JSON.parse(text) : null) as T;
}

export const get = <T>(path: string, query?: Record<string, string | number | boolean | undefined>, signal?: AbortSignal): Promise<T> =>
  request<T>('GET', url(path, query), undefined, { signal });

export async function serverConfig(): Promise<ServerConfig> {
  const res = await fetch(new URL('config.json', document.baseURI).toString());
  return (await res.json()) as ServerConfig;
}
