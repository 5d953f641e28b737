// A vim25 client for what the agent needs: a session, the property collector (through
// container views, paged), the performance manager and tasks. Transient failures (a reset
// connection, a 503) are retried with backoff; an expired session is renewed once and the
// call made again; `close()` logs out and closes every socket.

import { retry, sleep } from '@tally/retry';
import { parseTimestamp } from '@tally/timeseries';
import type { Logger } from '../pollster.js';
import { NotAuthenticatedFault, VSphereTimeoutError, VSphereTransportError, vimFault, type VimFault } from './errors.js';
import { el, moRef, readMoRef, SoapTransport, textEl, type MoRef, type SoapExchange } from './soap.js';
import { xmlEscape, type XmlElement } from './xml.js';

export interface VSphereClientOptions {
  /** The SDK endpoint, e.g. `https://vcenter.example/sdk`. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** Accept any server certificate. */
  readonly insecure?: boolean;
  /** CA certificates (PEM) the server's certificate must chain to. */
  readonly ca?: string | Buffer;
  /** Per-request timeout (ms), default 30 s. */
  readonly timeoutMs?: number;
  readonly log?: Logger;
  /** Tries per request for transient failures, the first included (default 4). */
  readonly attempts?: number;
  /** Called after every SOAP exchange (tests and measurements count and read them). */
  readonly trace?: (exchange: SoapExchange) => void;
}

export interface ServiceContent {
  readonly rootFolder: MoRef;
  readonly propertyCollector: MoRef;
  readonly viewManager: MoRef;
  readonly sessionManager: MoRef;
  readonly perfManager: MoRef;
  readonly apiVersion: string;
  readonly apiType: string;
  readonly instanceUuid: string | undefined;
}

export interface PropertySpec {
  readonly type: string;
  readonly pathSet?: readonly string[];
  readonly all?: boolean;
}

export interface TraversalSpec {
  readonly name?: string;
  readonly type: string;
  readonly path: string;
  readonly skip?: boolean;
  /** Further traversals, or references by name to named ones. */
  readonly selectSet?: readonly (TraversalSpec | { readonly name: string })[];
}

export interface ObjectSpec {
  readonly obj: MoRef;
  readonly skip?: boolean;
  readonly selectSet?: readonly (TraversalSpec | { readonly name: string })[];
}

export interface PropertyFilterSpec {
  readonly propSet: readonly PropertySpec[];
  readonly objectSet: readonly ObjectSpec[];
  readonly reportMissingObjectsInResults?: boolean;
}

export interface ObjectContent {
  readonly obj: MoRef;
  /** Property values by path, as elements (their `xsi:type` says what they hold). */
  readonly props: ReadonlyMap<string, XmlElement>;
  /** Properties the server could not read, with why. */
  readonly missing: readonly { readonly path: string; readonly fault: VimFault }[];
}

export interface PerfCounter {
  readonly key: number;
  /** `group.name.rollup`, e.g. `cpu.usage.average`. */
  readonly name: string;
  /** vSphere's unit key, e.g. `percent`, `kiloBytes`, `kiloBytesPerSecond`. */
  readonly unit: string;
  readonly statsType: string;
}

export interface PerfMetricId {
  readonly counterId: number;
  /** `""` for the aggregate, a device (`4000`, `scsi0:0`) or `*` for every device. */
  readonly instance: string;
}

export interface PerfQuerySpec {
  readonly entity: MoRef;
  readonly metricId: readonly PerfMetricId[];
  readonly maxSample?: number;
  /** 20 is the real-time interval. */
  readonly intervalId?: number;
  readonly startTime?: string;
  readonly endTime?: string;
}

export interface PerfSeries {
  readonly counterId: number;
  readonly instance: string;
  readonly values: readonly number[];
}

export interface PerfEntityMetric {
  readonly entity: MoRef;
  /** Sample times (ns since the epoch), in the order the server sent them. */
  readonly timestamps: readonly bigint[];
  readonly series: readonly PerfSeries[];
}

export interface WaitForTaskOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** First wait between two reads of the task's state; it grows to 1 s. */
  readonly intervalMs?: number;
}

const SERVICE_INSTANCE: MoRef = { type: 'ServiceInstance', value: 'ServiceInstance' };

// Methods that read only: resending them after a dropped connection cannot do anything twice.
const READ_ONLY = new Set([
  'RetrieveServiceContent', 'RetrievePropertiesEx', 'ContinueRetrievePropertiesEx', 'QueryPerf', 'QueryPerfCounter',
]);

export class VSphereClient {
  readonly #opts: VSphereClientOptions;
  readonly #transport: SoapTransport;
  #content: ServiceContent | undefined;
  #loggedIn = false;
  #relogin: Promise<void> | undefined;
  #epoch = 0;
  #closed = false;
  #counters: Map<string, PerfCounter> | undefined;

  constructor(opts: VSphereClientOptions) {
    this.#opts = opts;
    this.#transport = new SoapTransport({
      url: opts.url,
      ...(opts.insecure !== undefined ? { insecure: opts.insecure } : {}),
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.trace !== undefined ? { trace: opts.trace } : {}),
    });
  }

  /** Creates a client and logs in. */
  static async connect(opts: VSphereClientOptions, signal?: AbortSignal): Promise<VSphereClient> {
    const c = new VSphereClient(opts);
    try {
      await c.login(signal);
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  get serviceContent(): ServiceContent {
    if (this.#content === undefined) throw new Error('not connected: call login() first');
    return this.#content;
  }

  /** Grows by one at every login: server-side objects of a session (views) die with it. */
  get sessionEpoch(): number {
    return this.#epoch;
  }

  get loggedIn(): boolean {
    return this.#loggedIn;
  }

  /** The session cookie, while there is one. */
  get sessionCookie(): string | undefined {
    return this.#transport.cookie;
  }

  /** Sockets held open, in use or idle. */
  get openSockets(): number {
    return this.#transport.openSockets;
  }

  async retrieveServiceContent(signal?: AbortSignal): Promise<ServiceContent> {
    const res = await this.#send('RetrieveServiceContent', SERVICE_INSTANCE, '', signal);
    const rv = res.child('returnval');
    const ref = (name: string): MoRef => {
      const e = rv?.child(name);
      if (e === undefined) throw new VSphereTransportError(`service content without ${name}`);
      return readMoRef(e);
    };
    const content: ServiceContent = {
      rootFolder: ref('rootFolder'),
      propertyCollector: ref('propertyCollector'),
      viewManager: ref('viewManager'),
      sessionManager: ref('sessionManager'),
      perfManager: ref('perfManager'),
      apiVersion: rv?.textAt('about.apiVersion') ?? '',
      apiType: rv?.textAt('about.apiType') ?? '',
      instanceUuid: rv?.textAt('about.instanceUuid'),
    };
    if (content.apiVersion !== '') this.#transport.apiVersion = content.apiVersion;
    this.#content = content;
    return content;
  }

  /** Logs in (reading the service content first when not yet read). */
  async login(signal?: AbortSignal): Promise<void> {
    this.#assertOpen();
    const content = this.#content ?? (await this.retrieveServiceContent(signal));
    this.#transport.clearCookies();
    this.#loggedIn = false;
    await this.#send(
      'Login',
      content.sessionManager,
      textEl('userName', this.#opts.username) + textEl('password', this.#opts.password),
      signal,
    );
    if (this.#transport.cookie === undefined) throw new VSphereTransportError('Login answered without a session cookie');
    this.#loggedIn = true;
    this.#epoch++;
  }

  /** Ends the session; an already expired one is not an error. */
  async logout(signal?: AbortSignal): Promise<void> {
    if (!this.#loggedIn || this.#content === undefined) return;
    this.#loggedIn = false;
    try {
      await this.#send('Logout', this.#content.sessionManager, '', signal);
    } catch (err) {
      if (!(err instanceof NotAuthenticatedFault)) throw err;
    } finally {
      this.#transport.clearCookies();
    }
  }

  /** Logs out and closes every socket. Idempotent; never throws (a failed logout is logged). */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.logout(AbortSignal.timeout(this.#opts.timeoutMs ?? 10_000));
    } catch (err) {
      this.#opts.log?.('warn', 'vSphere logout failed', { url: this.#opts.url, error: String(err) });
    } finally {
      this.#closed = true;
      this.#transport.close();
    }
  }

  /**
   * Calls a method with the session: retries transient failures (any of them for read-only
   * methods, only those the server certainly did not process for the others), and logs in
   * again once when the session has expired. `check` runs on the answer inside that scope,
   * so that an answer revealing an expired session (a property collector's missing set)
   * also renews it.
   */
  async invoke(method: string, self: MoRef, args: string, signal?: AbortSignal, check?: (res: XmlElement) => void): Promise<XmlElement> {
    this.#assertOpen();
    const once = async (): Promise<XmlElement> => {
      const res = await this.#send(method, self, args, signal);
      check?.(res);
      return res;
    };
    try {
      return await once();
    } catch (err) {
      // Calls failing while another renews the session wait for that renewal.
      if (!(err instanceof NotAuthenticatedFault) || (!this.#loggedIn && this.#relogin === undefined)) throw err;
      this.#opts.log?.('info', 'vSphere session expired: logging in again', { url: this.#opts.url, method });
      this.#relogin ??= this.login(signal).finally(() => {
        this.#relogin = undefined;
      });
      await this.#relogin;
      return once();
    }
  }

  async #send(method: string, self: MoRef, args: string, signal?: AbortSignal): Promise<XmlElement> {
    const idempotent = READ_ONLY.has(method);
    return retry(() => this.#transport.call(method, self, args, signal), {
      attempts: this.#opts.attempts ?? 4,
      baseMs: 200,
      maxMs: 2_000,
      ...(signal !== undefined ? { signal } : {}),
      retryable: (err) => err instanceof VSphereTransportError && err.transient && (idempotent || err.notProcessed),
      onRetry: (err, attempt, delayMs) =>
        this.#opts.log?.('warn', 'vSphere request failed: retrying', { method, attempt, delayMs: Math.round(delayMs), error: String(err) }),
    });
  }

  /**
   * Every object the specs select, following continuation tokens to the end. `maxObjects`
   * bounds each page (the server may send fewer).
   */
  async retrieveProperties(specSet: readonly PropertyFilterSpec[], opts: { maxObjects?: number; signal?: AbortSignal } = {}): Promise<ObjectContent[]> {
    const pc = this.serviceContent.propertyCollector;
    const options = opts.maxObjects !== undefined ? el('options', textEl('maxObjects', opts.maxObjects)) : el('options', '');
    const out: ObjectContent[] = [];
    let res = await this.invoke('RetrievePropertiesEx', pc, specSet.map((s) => filterSpec('specSet', s)).join('') + options, opts.signal, checkMissing);
    for (;;) {
      const rv = res.child('returnval');
      if (rv === undefined) return out;
      for (const o of rv.all('objects')) out.push(objectContent(o));
      const token = rv.textAt('token');
      if (token === undefined || token === '') return out;
      // A session renewed between pages loses the token: the server answers InvalidArgument.
      res = await this.invoke('ContinueRetrievePropertiesEx', pc, textEl('token', token), opts.signal, checkMissing);
    }
  }

  /** The named properties of one object (undefined for the ones it does not have). */
  async readProperties(obj: MoRef, paths: readonly string[], signal?: AbortSignal): Promise<ObjectContent | undefined> {
    const [oc] = await this.retrieveProperties([{ propSet: [{ type: obj.type, pathSet: paths }], objectSet: [{ obj }] }], signal ? { signal } : {});
    return oc;
  }

  async createContainerView(container: MoRef, types: readonly string[], recursive: boolean, signal?: AbortSignal): Promise<MoRef> {
    const args = moRef('container', container) + types.map((t) => textEl('type', t)).join('') + textEl('recursive', recursive);
    const res = await this.invoke('CreateContainerView', this.serviceContent.viewManager, args, signal);
    const rv = res.child('returnval');
    if (rv === undefined) throw new VSphereTransportError('CreateContainerView returned nothing');
    return readMoRef(rv);
  }

  async destroyView(view: MoRef, signal?: AbortSignal): Promise<void> {
    await this.invoke('DestroyView', view, '', signal);
  }

  /** The performance counters by `group.name.rollup`; read once per client. */
  async perfCounters(signal?: AbortSignal): Promise<ReadonlyMap<string, PerfCounter>> {
    if (this.#counters !== undefined) return this.#counters;
    const oc = await this.readProperties(this.serviceContent.perfManager, ['perfCounter'], signal);
    const map = new Map<string, PerfCounter>();
    for (const info of oc?.props.get('perfCounter')?.children ?? []) {
      const key = Number(info.textAt('key'));
      const group = info.textAt('groupInfo.key');
      const name = info.textAt('nameInfo.key');
      const rollup = info.textAt('rollupType');
      if (!Number.isInteger(key) || group === undefined || name === undefined || rollup === undefined) continue;
      map.set(`${group}.${name}.${rollup}`, {
        key,
        name: `${group}.${name}.${rollup}`,
        unit: info.textAt('unitInfo.key') ?? '',
        statsType: info.textAt('statsType') ?? '',
      });
    }
    this.#counters = map;
    return map;
  }

  /** One QueryPerf request for every spec given; entities without data are simply missing. */
  async queryPerf(specs: readonly PerfQuerySpec[], signal?: AbortSignal): Promise<PerfEntityMetric[]> {
    if (specs.length === 0) return [];
    const res = await this.invoke('QueryPerf', this.serviceContent.perfManager, specs.map(perfQuerySpec).join(''), signal);
    return res.all('returnval').map(perfEntityMetric);
  }

  /**
   * Waits until the task succeeds (resolving with its `info.result` element, if any) or fails
   * (throwing its fault as a VimFault); VSphereTimeoutError after `timeoutMs` (default 5 min).
   */
  async waitForTask(task: MoRef, opts: WaitForTaskOptions = {}): Promise<XmlElement | undefined> {
    const timeoutMs = opts.timeoutMs ?? 300_000;
    const deadline = performance.now() + timeoutMs;
    let wait = opts.intervalMs ?? 50;
    for (;;) {
      const oc = await this.readProperties(task, ['info.state', 'info.error', 'info.result'], opts.signal);
      if (oc === undefined) throw vimFault('ManagedObjectNotFound', `task ${task.value} not found`);
      const state = oc.props.get('info.state')?.text;
      if (state === 'success') return oc.props.get('info.result');
      if (state === 'error') {
        const err = oc.props.get('info.error');
        const fault = err?.child('fault');
        throw vimFault(fault?.xsiType ?? 'SystemError', err?.textAt('localizedMessage') ?? `task ${task.value} failed`, fault);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new VSphereTimeoutError(`task ${task.value} still ${state ?? 'unknown'} after ${timeoutMs} ms`);
      await sleep(Math.min(wait, left), opts.signal);
      wait = Math.min(wait * 2, 1_000);
    }
  }

  /** Starts a `*_Task` method and returns the task. */
  async startTask(method: string, self: MoRef, args = '', signal?: AbortSignal): Promise<MoRef> {
    const res = await this.invoke(method, self, args, signal);
    const rv = res.child('returnval');
    if (rv === undefined) throw new VSphereTransportError(`${method} returned no task`);
    return readMoRef(rv);
  }

  /** The key of this client's session. */
  async currentSessionKey(signal?: AbortSignal): Promise<string | undefined> {
    const oc = await this.readProperties(this.serviceContent.sessionManager, ['currentSession'], signal);
    return oc?.props.get('currentSession')?.textAt('key');
  }

  /** Ends other sessions (an administrator's call). */
  async terminateSessions(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    await this.invoke('TerminateSession', this.serviceContent.sessionManager, keys.map((k) => textEl('sessionId', k)).join(''), signal);
  }

  #assertOpen(): void {
    if (this.#closed) throw new VSphereTransportError('vSphere client closed');
  }
}

/** A missing property whose fault is NotAuthenticated means the session is gone. */
function checkMissing(res: XmlElement): void {
  for (const o of res.child('returnval')?.all('objects') ?? []) {
    for (const m of o.all('missingSet')) {
      const f = m.at('fault.fault');
      if (f?.xsiType === 'NotAuthenticated') throw vimFault('NotAuthenticated', `cannot read ${m.textAt('path') ?? 'a property'}: not authenticated`, f);
    }
  }
}

function objectContent(o: XmlElement): ObjectContent {
  const objEl = o.child('obj');
  const props = new Map<string, XmlElement>();
  for (const p of o.all('propSet')) {
    const name = p.textAt('name');
    const val = p.child('val');
    if (name !== undefined && val !== undefined) props.set(name, val);
  }
  const missing = o.all('missingSet').map((m) => {
    const f = m.at('fault.fault');
    return { path: m.textAt('path') ?? '', fault: vimFault(f?.xsiType ?? 'SystemError', m.textAt('fault.localizedMessage') ?? '', f) };
  });
  return { obj: objEl ? readMoRef(objEl) : { type: '', value: '' }, props, missing };
}

function selection(s: TraversalSpec | { readonly name: string }): string {
  if (!('path' in s)) return `<selectSet>${textEl('name', s.name)}</selectSet>`;
  return `<selectSet xsi:type="TraversalSpec">${traversal(s)}</selectSet>`;
}

function traversal(t: TraversalSpec): string {
  return (
    (t.name !== undefined ? textEl('name', t.name) : '') +
    textEl('type', t.type) +
    textEl('path', t.path) +
    textEl('skip', t.skip ?? false) +
    (t.selectSet ?? []).map(selection).join('')
  );
}

function filterSpec(name: string, s: PropertyFilterSpec): string {
  const props = s.propSet
    .map((p) => el('propSet', textEl('type', p.type) + (p.all !== undefined ? textEl('all', p.all) : '') + (p.pathSet ?? []).map((x) => textEl('pathSet', x)).join('')))
    .join('');
  const objs = s.objectSet
    .map((o) => el('objectSet', moRef('obj', o.obj) + (o.skip !== undefined ? textEl('skip', o.skip) : '') + (o.selectSet ?? []).map(selection).join('')))
    .join('');
  const report = s.reportMissingObjectsInResults !== undefined ? textEl('reportMissingObjectsInResults', s.reportMissingObjectsInResults) : '';
  return el(name, props + objs + report);
}

function perfQuerySpec(q: PerfQuerySpec): string {
  return el(
    'querySpec',
    moRef('entity', q.entity) +
      (q.startTime !== undefined ? textEl('startTime', q.startTime) : '') +
      (q.endTime !== undefined ? textEl('endTime', q.endTime) : '') +
      (q.maxSample !== undefined ? textEl('maxSample', q.maxSample) : '') +
      q.metricId.map((m) => el('metricId', textEl('counterId', m.counterId) + `<instance>${xmlEscape(m.instance)}</instance>`)).join('') +
      (q.intervalId !== undefined ? textEl('intervalId', q.intervalId) : ''),
  );
}

function perfEntityMetric(rv: XmlElement): PerfEntityMetric {
  const entity = rv.child('entity');
  const timestamps = rv.all('sampleInfo').map((s) => parseTimestamp(s.textAt('timestamp') ?? ''));
  const series: PerfSeries[] = [];
  for (const v of rv.all('value')) {
    const counterId = Number(v.textAt('id.counterId'));
    const instance = v.textAt('id.instance') ?? '';
    // PerfMetricIntSeries holds one <value> per sample; the CSV form is not requested.
    series.push({ counterId, instance, values: v.all('value').map((x) => Number(x.text)) });
  }
  return { entity: entity ? readMoRef(entity) : { type: '', value: '' }, timestamps, series };
}
