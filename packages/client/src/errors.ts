// What a call throws: GnocchiApiError when the server answered with an error status,
// GnocchiTransportError when no answer came (refused, reset, timed out) after the retries.
import type { JsonValue } from './json.js';

/**
 * Gnocchi's error description: a message, or for input errors an object such as
 * {cause, reason, detail}.
 */
export type ErrorDescription = string | { [key: string]: JsonValue };

export class GnocchiApiError extends Error {
  override readonly name = 'GnocchiApiError';
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    /** Gnocchi's `title` ("Bad Request"), or the HTTP reason phrase when the body had none. */
    readonly title: string,
    readonly description: ErrorDescription,
    /** The body as received, for what the fields above do not capture. */
    readonly body: string,
  ) {
    const detail = typeof description === 'string' ? description : JSON.stringify(description);
    super(`${method} ${url} -> ${status} ${title}${detail ? `: ${detail.slice(0, 500)}` : ''}`);
    this.reasonCause = causeOf(description);
  }

  /**
   * The `cause` of a structured description ("Invalid input", "Unknown metrics"...), or
   * null. Gnocchi 4.4.2 on Python 3 sends some of these as the Python repr of the dict
   * ("{'cause': 'Invalid input', ...}") where Tally sends the object: both are read.
   */
  readonly reasonCause: string | null;
}

function causeOf(d: ErrorDescription): string | null {
  if (typeof d === 'object') return typeof d.cause === 'string' ? d.cause : null;
  const m = /^\{'cause': (?:'([^']*)'|"([^"]*)")/.exec(d);
  return m ? (m[1] ?? m[2]) : null;
}

export class GnocchiTransportError extends Error {
  override readonly name = 'GnocchiTransportError';
  constructor(
    readonly method: string,
    readonly url: string,
    /** The socket error's code (ECONNREFUSED, ECONNRESET...) or 'ETIMEDOUT' for a timeout. */
    readonly code: string,
    message: string,
    /** Tries made, the first included. */
    readonly attempts: number,
  ) {
    super(`${method} ${url}: ${message} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`);
  }
}

/**
 * Reads `{code, title, description}` from a JSON error body. Gnocchi answers some errors
 * (those of DELETE routes) in HTML or plain text whatever the client accepts: their title is
 * "NNN Title" and the detail is the last line of text.
 */
export function apiError(method: string, url: string, status: number, reason: string, body: string, parsed: JsonValue | undefined): GnocchiApiError {
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const title = typeof parsed.title === 'string' ? parsed.title : reason;
    const d = parsed.description;
    const description: ErrorDescription = typeof d === 'string' ? d
      : d !== null && typeof d === 'object' && !Array.isArray(d) ? d
        : d === undefined || d === null ? '' : JSON.stringify(d);
    return new GnocchiApiError(method, url, status, title, description, body);
  }
  const text = body.replace(/<title>[^<]*<\/title>/i, '').replace(/<[^>]*>/g, '\n')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&amp;/g, '&');
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const head = new RegExp(`^${status}\\s+(.+)$`).exec(lines[0] ?? '');
  const title = head ? head[1] : reason;
  const rest = head ? lines.slice(1) : lines;
  return new GnocchiApiError(method, url, status, title, rest.length > 0 ? rest[rest.length - 1] : '', body);
}
