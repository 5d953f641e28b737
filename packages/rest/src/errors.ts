// HTTP errors in Gnocchi's shape: {"code": N, "title": "...", "description": ...}.
// `description` is either a message string or {cause, reason, detail} for input errors.

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 409: 'Conflict', 412: 'Precondition Failed',
  413: 'Request Entity Too Large', 415: 'Unsupported Media Type', 500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export type ErrorDescription = string | Record<string, unknown>;

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
export const notFound = (d: ErrorDescription): HttpError => new HttpError(404, d);
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
