// Aodh's error answers: {"error_message": {"faultcode", "faultstring", "debuginfo"}}, with
// "Client" for 4xx and "Server" for 5xx. The API's one error type; routes and validation
// throw it with Aodh's status and words.

export class AodhError extends Error {
  override name = 'AodhError';
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
  body(): { error_message: { faultcode: string; faultstring: string; debuginfo: null } } {
    return { error_message: { faultcode: this.status >= 500 ? 'Server' : 'Client', faultstring: this.message, debuginfo: null } };
  }
}

export const clientError = (message: string, status = 400): AodhError => new AodhError(status, message);

/** Python's repr() of a JSON value inside a container: strings quoted. */
export function pyLiteral(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(pyLiteral).join(', ')}]`;
  if (typeof v === 'object' && v !== null) return `{${Object.entries(v).map(([k, x]) => `'${k}': ${pyLiteral(x)}`).join(', ')}}`;
  return pyRepr(v);
}

/** A value as wsme's messages print it: bare text, Python's None/True/False, containers as Python writes them. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return pyLiteral(v);
}

/** wsme's InvalidInput: "Invalid input for field/attribute F. Value: 'V'. MSG". */
export function invalidInput(field: string, value: unknown, msg: string): AodhError {
  return clientError(`Invalid input for field/attribute ${field}. Value: '${pyRepr(value)}'. ${msg}`);
}

/** A Python list's repr: ['a', 'b']. */
export const pyList = (items: readonly string[]): string => `[${items.map((s) => `'${s}'`).join(', ')}]`;

/** A Python set's repr as wsme prints the fields of a query: {'a', 'b'}. */
export const pySet = (items: Iterable<string>): string => `{${[...new Set(items)].map((s) => `'${s}'`).join(', ')}}`;

/** Aodh's ProjectNotAuthorized. */
export const notAuthorized = (id: unknown, aspect = 'project'): AodhError =>
  clientError(`Not Authorized to access ${aspect} ${pyRepr(id)}`, 401);

export const alarmNotFound = (id: string): AodhError => clientError(`Alarm ${id} not found`, 404);
