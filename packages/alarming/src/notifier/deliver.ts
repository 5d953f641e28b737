// Delivering one action: `log://` writes a log line; `http://` and `https://` POST the body
// the way Aodh's REST notifier does (JSON, `content-type: application/json`,
// `x-openstack-request-id`, the URL with its query string as written, user:password in the
// URL sent as HTTP basic authentication, `aodh-alarm-ssl-verify=0|1` in the query choosing
// whether an https receiver's certificate is checked), plus a timeout on the whole exchange
// and an optional signature (sign.ts). The outcome tells the worker whether to retry.
import http from 'node:http';
import https from 'node:https';
import { HMAC_KEY_PARAM, SIGNATURE_HEADER, TIMESTAMP_HEADER, signBody } from './sign.js';

/** pino's shape, so the service's logger is passed as is. */
export interface NotifierLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** TLS settings of https receivers (Aodh's rest_notifier_* options). */
export interface NotifierTlsOptions {
  /** Check receivers' certificates unless the action says `aodh-alarm-ssl-verify=0` (default true). */
  verify?: boolean;
  /** CA bundle (PEM) to check them against instead of Node's roots. */
  ca?: string | Buffer;
  /** Client certificate and key (PEM). */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export type DeliveryOutcome =
  | { outcome: 'delivered'; status: number | null }
  | { outcome: 'retry'; status: number | null; error: string; retryAfterMs: number | null }
  | { outcome: 'failed'; status: number | null; error: string };

export interface DeliveryContext {
  timeoutMs: number;
  tls: NotifierTlsOptions;
  hmacSecrets: ReadonlyMap<string, string>;
  logger: NotifierLogger;
  agents: { http: http.Agent; https: https.Agent };
  now: () => number;
}

export interface DeliveryRequest {
  action: string;
  requestId: string;
  body: string;
  /** For log:// lines. */
  describe: Record<string, unknown>;
}

/** Where an action delivers to: retries back off per receiver. */
export function receiverOf(action: string): string {
  try {
    const u = new URL(action);
    return u.protocol === 'http:' || u.protocol === 'https:' ? `${u.protocol}//${u.host}` : u.protocol;
  } catch {
    return 'invalid:';
  }
}

/** The action with any password masked, for history and logs. */
export function redactAction(action: string): string {
  try {
    const u = new URL(action);
    if (u.password !== '') u.password = '***';
    return u.href;
  } catch {
    return action;
  }
}

/** Splits a raw query string, keeping each parameter's bytes as written. */
function queryParts(search: string): { name: string; value: string; raw: string }[] {
  if (search.length <= 1) return [];
  return search.slice(1).split('&').filter((raw) => raw !== '').map((raw) => {
    const eq = raw.indexOf('=');
    const dec = (s: string): string => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    return { name: dec(eq < 0 ? raw : raw.slice(0, eq)), value: dec(eq < 0 ? '' : raw.slice(eq + 1)), raw };
  });
}

/** Errors worth no retry: the receiver's certificate does not verify. */
const TLS_VERIFY_CODES = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE', 'CERT_REVOKED',
]);

/** Retry-After as milliseconds (delta-seconds or an HTTP date), null when absent or unreadable. */
function retryAfterMs(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

export async function deliver(req: DeliveryRequest, ctx: DeliveryContext): Promise<DeliveryOutcome> {
  let url: URL;
  try {
    url = new URL(req.action);
  } catch {
    return { outcome: 'failed', status: null, error: 'action is not a URL' };
  }
  if (url.protocol === 'log:') {
    ctx.logger.info({ ...req.describe, action: redactAction(req.action), request_id: req.requestId }, 'alarm notification');
    return { outcome: 'delivered', status: null };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { outcome: 'failed', status: null, error: `unsupported action scheme ${url.protocol.slice(0, -1)}` };
  }

  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-openstack-request-id': req.requestId,
    'content-length': String(Buffer.byteLength(req.body)),
    'user-agent': 'tally-alarm-notifier',
  };
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const params = queryParts(url.search);
  const keyParams = params.filter((p) => p.name === HMAC_KEY_PARAM);
  if (keyParams.length > 0) {
    const name = keyParams[keyParams.length - 1].value;
    const secret = ctx.hmacSecrets.get(name);
    if (secret === undefined) return { outcome: 'failed', status: null, error: `unknown HMAC key ${JSON.stringify(name)}` };
    const kept = params.filter((p) => p.name !== HMAC_KEY_PARAM).map((p) => p.raw);
    url.search = kept.length > 0 ? `?${kept.join('&')}` : '';
    const timestamp = Math.floor(ctx.now() / 1000);
    headers[TIMESTAMP_HEADER] = String(timestamp);
    headers[SIGNATURE_HEADER] = signBody(secret, timestamp, req.body);
  }
  url.hash = '';

  let tls: https.RequestOptions = {};
  if (url.protocol === 'https:') {
    // As Aodh: the last non-empty aodh-alarm-ssl-verify value, read as an integer, wins.
    const verifyParams = params.filter((p) => p.name === 'aodh-alarm-ssl-verify' && p.value !== '');
    let verify = ctx.tls.verify ?? true;
    if (verifyParams.length > 0) {
      const v = verifyParams[verifyParams.length - 1].value.trim();
      if (!/^[+-]?\d+$/.test(v)) return { outcome: 'failed', status: null, error: `invalid aodh-alarm-ssl-verify ${JSON.stringify(v)}` };
      verify = Number(v) !== 0;
    }
    tls = { rejectUnauthorized: verify, ca: verify ? ctx.tls.ca : undefined, cert: ctx.tls.cert, key: ctx.tls.key };
  }

  const signal = AbortSignal.timeout(ctx.timeoutMs);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise<DeliveryOutcome>((resolve) => {
    let settled = false;
    const done = (o: DeliveryOutcome): void => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      if (signal.aborted) {
        done({ outcome: 'retry', status: null, error: `timed out after ${ctx.timeoutMs} ms`, retryAfterMs: null });
      } else if (err.code !== undefined && TLS_VERIFY_CODES.has(err.code)) {
        done({ outcome: 'failed', status: null, error: `${err.code}: ${err.message}` });
      } else {
        done({ outcome: 'retry', status: null, error: err.code !== undefined ? `${err.code}: ${err.message}` : err.message, retryAfterMs: null });
      }
    };
    const request = lib.request(url, {
      method: 'POST',
      headers,
      agent: url.protocol === 'https:' ? ctx.agents.https : ctx.agents.http,
      signal,
      ...tls,
    }, (res) => {
      const status = res.statusCode ?? 0;
      // The exchange ends when the body is read: a receiver that answers its headers and
      // then stalls still hits the timeout. The start of the body explains a refusal.
      const kept: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < 512) kept.push(chunk);
        size += chunk.length;
      });
      res.on('error', onError);
      res.on('end', () => {
        const text = Buffer.concat(kept).toString('utf8').slice(0, 512).trim();
        const error = `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}${text ? `: ${text}` : ''}`;
        if (status >= 200 && status < 300) done({ outcome: 'delivered', status });
        else if (status === 408 || status === 429 || status >= 500) {
          done({ outcome: 'retry', status, error, retryAfterMs: retryAfterMs(res.headers['retry-after'], ctx.now()) });
        } else done({ outcome: 'failed', status, error });
      });
    });
    request.on('error', onError);
    request.end(req.body);
  });
}
