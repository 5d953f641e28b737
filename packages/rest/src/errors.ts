// HTTP errors in Gnocchi's shape: {"code": N, "title": "...", "description": ...}.
// `description` is a message string, {cause, reason, detail} for input errors, or null
// (an unknown path: Gnocchi says nothing more than the title).

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 409: 'Conflict', 412: 'Precondition Failed',
  413: 'Request Entity Too Large', 415: 'Unsupported Media Type', 500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export type ErrorDescription = string | Record<string, unknown> | null;

export class HttpError extends Error {
  readonly title: string;
  constructor(readonly status: number, readonly description: ErrorDescription, readonly headers: Record<string, string> = {}) {
    super(typeof description === 'string' ? description : JSON.stringify(description));
    this.title = TITLES[status] ?? 'Error';
  }
  body(): { code: number; title: string; description: ErrorDescription } {
    return { code: this.status, title: this.title, description: this.description };
  }
}

export const badRequest = (d: ErrorDescription): HttpError => new HttpError(400, d);
export const conflict = (d: ErrorDescription): HttpError => new HttpError(409, d);
export const forbidden = (): HttpError => new HttpError(403, 'Access was denied to this resource.');

/** Gnocchi's "Invalid input" body, as produced by its schema validation. */
export function invalidInput(reason: string, detail: unknown[] = []): HttpError {
  return new HttpError(400, { cause: 'Invalid input', reason, detail });
}

/** Gnocchi's "Argument value error" body, for bad query-string arguments. */
export function argumentError(reason: string, detail: string): HttpError {
  return new HttpError(400, { cause: 'Argument value error', reason, detail });
}

/** The standard explanation that precedes the detail in Gnocchi's non-JSON error bodies. */
const EXPLANATIONS: Record<number, string> = {
  400: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  401: 'This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.',
  403: 'Access was denied to this resource.',
  404: 'The resource could not be found.',
  409: 'There was a conflict when trying to complete your request.',
  412: 'Request precondition failed.',
  413: 'The body of your request was too large for this server.',
  500: 'The server has either erred or is incapable of performing the requested operation.',
  503: 'The server is currently unavailable. Please try again at a later time.',
};

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
}

export type ErrorFormat = 'json' | 'text' | 'html';

/**
 * Gnocchi answers errors in JSON only to clients that accept JSON; others get plain text
 * (when they ask for it) or HTML. Clients and scripts match on these bodies, so Tally
 * negotiates the same way.
 */
export function errorFormat(accept: string | undefined): ErrorFormat {
  const a = (accept ?? '').trim().toLowerCase();
  if (a.includes('json')) return 'json';
  if (a === '' || (a.includes('text/plain') && !a.includes('html'))) return 'text';
  return 'html';
}

export function renderError(e: HttpError, format: ErrorFormat, body: (v: unknown) => string): { type: string; text: string } {
  if (format === 'json') return { type: 'application/json', text: body(e.body()) };
  const detail = e.description === null ? '' : typeof e.description === 'string' ? e.description : body(e.description);
  const explanation = EXPLANATIONS[e.status] ?? '';
  const head = `${e.status} ${e.title}`;
  if (format === 'text') return { type: 'text/plain; charset=UTF-8', text: `${head}\n\n${explanation}\n\n ${detail}  ` };
  const html = `<html>\n <head>\n  <title>${head}</title>\n </head>\n <body>\n  <h1>${head}</h1>\n  ` +
    `${escapeHtml(explanation)}<br /><br />\n${escapeHtml(detail)}\n\n\n </body>\n</html>`;
  return { type: 'text/html; charset=UTF-8', text: html };
}
