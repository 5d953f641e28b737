// Signed webhooks.
//
// Convention: an action URL asks for a signature with the query parameter
// `tally-hmac-key=<name>`, where <name> is a key of the notifier's `hmacSecrets` option.
// The secret itself never appears in the alarm (whose actions any reader of the alarm
// sees); the parameter is removed from the URL before the request is sent (other
// parameters are sent exactly as written). An action naming a key the notifier does not
// have fails without being sent, and the failure is recorded.
//
// Each attempt carries two headers:
//   x-tally-timestamp: <Unix time of the attempt, whole seconds>
//   x-tally-signature: sha256=<lower-case hex HMAC-SHA256(secret, "<timestamp>.<body>")>
// The body is the exact bytes sent. Signing the timestamp with it lets a receiver refuse a
// replayed request: it recomputes the HMAC and rejects a timestamp too far from its clock
// (`verifySignature` accepts five minutes by default). Retries are signed afresh, so a
// late retry still verifies; the request id (x-openstack-request-id) stays the same across
// them for deduplication.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const HMAC_KEY_PARAM = 'tally-hmac-key';
export const SIGNATURE_HEADER = 'x-tally-signature';
export const TIMESTAMP_HEADER = 'x-tally-timestamp';

/** `sha256=<hex>` over `<timestamp>.<body>`. */
export function signBody(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/**
 * What a receiver does: true when `signature` signs `timestamp` and `body` with `secret`
 * and the timestamp is within `toleranceS` seconds of `nowS`.
 */
export function verifySignature(
  secret: string,
  body: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  opts: { nowS?: number; toleranceS?: number } = {},
): boolean {
  const { timestamp, signature } = headers;
  if (timestamp === undefined || signature === undefined || !/^\d{1,15}$/.test(timestamp)) return false;
  const nowS = opts.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(nowS - Number(timestamp)) > (opts.toleranceS ?? 300)) return false;
  const expected = Buffer.from(signBody(secret, Number(timestamp), body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
