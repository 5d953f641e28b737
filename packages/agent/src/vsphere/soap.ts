// vim25 SOAP over HTTP(S): envelopes, the session cookie, faults. No maintained npm client
// of the vim25 API exists (the few packages that do are abandoned, generate code from the
// WSDL at run time, or leave sessions and sockets open), and the agent needs only a dozen
// methods, so requests are written by hand, element by element in the WSDL's order (real
// vCenters are strict about it), and answers are read through a small element tree.
//
// One keep-alive agent per transport carries every request; `close()` destroys it, so no
// socket outlives the client.

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { VSphereTimeoutError, VSphereTransportError, vimFault, type VimFault } from './errors.js';
import { parseXml, xmlEscape, type XmlElement } from './xml.js';

/** A managed object reference: its type and its server-side id, e.g. VirtualMachine vm-42. */
export interface MoRef {
  readonly type: string;
  readonly value: string;
}

/** One request as it went and came, for tests and measurements. */
export interface SoapExchange {
  readonly method: string;
  readonly status: number;
  readonly request: string;
  readonly response: string;
  readonly ms: number;
}

export interface SoapTransportOptions {
  /** The SDK endpoint, e.g. `https://vcenter.example/sdk`. */
  readonly url: string;
  /** Accept any server certificate. */
  readonly insecure?: boolean;
  /** CA certificates (PEM) the server's certificate must chain to. */
  readonly ca?: string | Buffer;
  /** Per-request timeout (ms). */
  readonly timeoutMs?: number;
  /** A session cookie to start with (`name=value`). */
  readonly cookie?: string;
  /** Called after every exchange that got an HTTP answer. */
  readonly trace?: (exchange: SoapExchange) => void;
}

const ENVELOPE_HEAD =
  '<?xml version="1.0" encoding="UTF-8"?>' +
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"' +
  ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
  '<soapenv:Body>';
const ENVELOPE_TAIL = '</soapenv:Body></soapenv:Envelope>';

export class SoapTransport {
  readonly #url: URL;
  readonly #agent: HttpAgent;
  readonly #request: typeof httpRequest;
  readonly #timeoutMs: number;
  readonly #trace: ((exchange: SoapExchange) => void) | undefined;
  readonly #cookies = new Map<string, string>();
  #soapAction = 'urn:vim25';
  #closed = false;

  constructor(opts: SoapTransportOptions) {
    this.#url = new URL(opts.url);
    if (this.#url.protocol !== 'https:' && this.#url.protocol !== 'http:') {
      throw new TypeError(`vSphere URL must be http(s): ${opts.url}`);
    }
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#trace = opts.trace;
    // A handful of sockets is plenty: the agent polls one source sequentially.
    const agentOpts = { keepAlive: true, maxSockets: 4, maxFreeSockets: 4 };
    if (this.#url.protocol === 'https:') {
      this.#agent = new HttpsAgent({ ...agentOpts, rejectUnauthorized: !opts.insecure, ...(opts.ca !== undefined ? { ca: opts.ca } : {}) });
      this.#request = httpsRequest;
    } else {
      this.#agent = new HttpAgent(agentOpts);
      this.#request = httpRequest;
    }
    if (opts.cookie !== undefined) this.#setCookie(opts.cookie);
  }

  /** The session cookie (`name=value; ...`), or undefined before any was set. */
  get cookie(): string | undefined {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  clearCookies(): void {
    this.#cookies.clear();
  }

  /** Requests name this API version (from the server's `about.apiVersion`), as clients must. */
  set apiVersion(version: string) {
    this.#soapAction = `urn:vim25/${version}`;
  }

  /** Sockets this transport holds open, in use or idle. */
  get openSockets(): number {
    let n = 0;
    for (const pool of [this.#agent.sockets, this.#agent.freeSockets]) {
      for (const list of Object.values(pool)) n += list?.filter((s) => !s.destroyed).length ?? 0;
    }
    return n;
  }

  /**
   * Calls `method` on `self` with `args` (the argument elements, already serialised) and
   * returns the method's response element. Throws a VimFault for a SOAP fault,
   * VSphereTransportError when no SOAP answer came, VSphereTimeoutError after the timeout,
   * and the signal's reason when `signal` aborts.
   */
  async call(method: string, self: MoRef, args: string, signal?: AbortSignal): Promise<XmlElement> {
    if (this.#closed) throw new VSphereTransportError('vSphere client closed');
    const body = `${ENVELOPE_HEAD}<${method} xmlns="urn:vim25">${moRef('_this', self)}${args}</${method}>${ENVELOPE_TAIL}`;
    const started = performance.now();
    const { status, text } = await this.#post(body, signal);
    this.#trace?.({ method, status, request: body, response: text, ms: performance.now() - started });
    let doc: XmlElement;
    try {
      doc = parseXml(text);
    } catch {
      throw new VSphereTransportError(`${method}: HTTP ${status} with a body that is not XML`, status);
    }
    const soapBody = doc.child('Body');
    const fault = soapBody?.child('Fault');
    if (fault !== undefined) throw faultOf(fault, status);
    if (status !== 200) throw new VSphereTransportError(`${method}: HTTP ${status}`, status);
    const res = soapBody?.child(`${method}Response`);
    if (res === undefined) throw new VSphereTransportError(`${method}: the answer has no ${method}Response`, status);
    return res;
  }

  /** Closes every socket; later calls fail. */
  close(): void {
    this.#closed = true;
    this.#agent.destroy();
  }

  #setCookie(header: string): void {
    const pair = header.split(';', 1)[0] ?? '';
    const eq = pair.indexOf('=');
    if (eq > 0) this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }

  #post(body: string, signal?: AbortSignal): Promise<{ status: number; text: string }> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const payload = Buffer.from(body, 'utf8');
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {
        'Content-Type': 'text/xml; charset=utf-8',
        'Content-Length': payload.length,
        SOAPAction: this.#soapAction,
      };
      const cookie = this.cookie;
      if (cookie !== undefined) headers.Cookie = cookie;
      const fail = (err: unknown): void => {
        if (signal?.aborted) reject(signal.reason);
        else if (timeout.aborted) reject(new VSphereTimeoutError(`no answer from ${this.#url.host} within ${this.#timeoutMs} ms`));
        else {
          const e = err as NodeJS.ErrnoException;
          reject(new VSphereTransportError(`${this.#url.host}: ${e.message}`, undefined, e.code));
        }
      };
      const req = this.#request(this.#url, { method: 'POST', agent: this.#agent, headers, signal: combined }, (res: IncomingMessage) => {
        for (const c of res.headers['set-cookie'] ?? []) this.#setCookie(c);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', fail);
      req.end(payload);
    });
  }
}

function faultOf(fault: XmlElement, status: number): VimFault {
  const message = fault.textAt('faultstring') ?? '';
  const detail = fault.child('detail')?.children[0];
  // The detail's xsi:type names the fault; without it, its element is `<Type>Fault`.
  let type = detail?.xsiType ?? detail?.name.replace(/Fault$/, '');
  if (type === undefined || type === '') type = fault.textAt('faultcode') ?? 'SoapFault';
  return vimFault(type, message, detail, status);
}

// Request builders: each returns serialised elements of vim25's request schema.

export function el(name: string, content: string): string {
  return `<${name}>${content}</${name}>`;
}

export function textEl(name: string, value: string | number | boolean): string {
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}

export function moRef(name: string, ref: MoRef): string {
  return `<${name} type="${xmlEscape(ref.type)}">${xmlEscape(ref.value)}</${name}>`;
}

/** Reads a managed object reference element. */
export function readMoRef(e: XmlElement): MoRef {
  return { type: e.attrs.type ?? '', value: e.text };
}
