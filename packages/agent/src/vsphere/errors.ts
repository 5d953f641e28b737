// The errors of the vSphere client. Every SOAP fault becomes a VimFault carrying vim25's
// fault type (`InvalidLogin`, `NotAuthenticated`, ...), so callers branch on `type` instead
// of parsing messages; the few faults the client and pollster act on have classes of their
// own. Failures below SOAP (sockets, HTTP statuses without a fault, timeouts) are separate
// classes, since only they may be worth trying again as they are.

import type { XmlElement } from './xml.js';

export class VimFault extends Error {
  constructor(
    /** vim25's fault type, e.g. `InvalidLogin`, `ManagedObjectNotFound`. */
    readonly type: string,
    message: string,
    /** The fault's detail element, for fields of the fault type. */
    readonly detail?: XmlElement,
    /** The HTTP status it came with (vSphere sends faults as 500), when it came over HTTP. */
    readonly httpStatus?: number,
  ) {
    super(message || type);
    this.name = `${type}Fault`;
  }
}

export class InvalidLoginFault extends VimFault {}
export class NotAuthenticatedFault extends VimFault {}
export class InvalidArgumentFault extends VimFault {
  /** The argument the server refused, when it says. */
  get invalidProperty(): string | undefined {
    return this.detail?.textAt('invalidProperty');
  }
}
export class ManagedObjectNotFoundFault extends VimFault {
  /** The reference the server did not find, when it says. */
  get obj(): { type: string; value: string } | undefined {
    const o = this.detail?.child('obj');
    return o === undefined ? undefined : { type: o.attrs.type ?? '', value: o.text };
  }
}

const classes: Record<string, new (type: string, message: string, detail?: XmlElement, httpStatus?: number) => VimFault> = {
  InvalidLogin: InvalidLoginFault,
  NotAuthenticated: NotAuthenticatedFault,
  InvalidArgument: InvalidArgumentFault,
  ManagedObjectNotFound: ManagedObjectNotFoundFault,
};

/** The VimFault of that type, of its own class when it has one. */
export function vimFault(type: string, message: string, detail?: XmlElement, httpStatus?: number): VimFault {
  const C = classes[type] ?? VimFault;
  return new C(type, message, detail, httpStatus);
}

/** The request did not get a SOAP answer: a socket error, or an HTTP status without a fault. */
export class VSphereTransportError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when there was an answer. */
    readonly status?: number,
    /** The socket error's code (`ECONNRESET`, ...), when there was one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'VSphereTransportError';
  }

  /** Whether the same request may succeed later: a dropped connection or a busy server. */
  get transient(): boolean {
    if (this.status !== undefined) return this.status === 502 || this.status === 503 || this.status === 504;
    return this.code !== undefined && TRANSIENT_CODES.has(this.code);
  }

  /** Whether the server certainly did not run the request (safe to resend a non-idempotent call). */
  get notProcessed(): boolean {
    return this.status === 503 || this.code === 'ECONNREFUSED';
  }
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** A request or a task did not finish in time. */
export class VSphereTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VSphereTimeoutError';
  }
}
