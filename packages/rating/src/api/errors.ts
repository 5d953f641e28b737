// CloudKitty's error answers: v1 (pecan and wsme) says {"faultcode", "faultstring",
// "debuginfo"}, v2 (flask) says {"message", "code"}. The API's one error type; routes throw
// it with CloudKitty's status and words, and the error handler writes it in the format of
// the API version the request went to.

export class CloudKittyError extends Error {
  override name = 'CloudKittyError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
  body(v2: boolean): unknown {
    if (v2) return { message: this.message, code: this.status };
    return { faultcode: this.status >= 500 ? 'Server' : 'Client', faultstring: this.message, debuginfo: null };
  }
}

export const badRequest = (message: string): CloudKittyError => new CloudKittyError(400, message);
export const forbidden = (): CloudKittyError => new CloudKittyError(403, 'Access was denied to this resource.');
export const notFound = (message: string): CloudKittyError => new CloudKittyError(404, message);
