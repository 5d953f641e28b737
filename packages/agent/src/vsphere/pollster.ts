// The `vsphere` pollster: the VMs of a vCenter (or an ESXi host) as Ceilometer's VMware
// inspector reads them, mapped to its meters and units, on `instance`, `instance_disk` and
// `instance_network_interface` resources.
//
// Per cycle: one RetrievePropertiesEx over a container view of every VM and host (the view
// is made once per session), and one QueryPerf per batch of powered-on VMs with every
// wanted counter of every VM. vSphere's real-time counters are rates averaged over 20 s
// intervals, not cumulative counters, so the meters are Ceilometer's rate and gauge meters
// (`cpu_util`, `memory.usage`, `*.bytes.rate`), converted as Ceilometer converts them:
// cpu.usage is in hundredths of a percent, memory in KB, throughput in KB/s.

import { readFile } from 'node:fs/promises';
import { COMPUTE_RESOURCE_TYPES } from '../compute-types.js';
import type { JsonValue } from '@tally/client';
import {
  PollsterConfigError,
  type Discovery,
  type MeterDefinition,
  type PollContext,
  type Pollster,
  type PollsterEnvironment,
  type ResourceSnapshot,
  type ResourceTypeDefinition,
  type Sample,
} from '../pollster.js';
import { VSphereClient, type ObjectContent, type PerfEntityMetric, type PerfQuerySpec } from './client.js';
import { ManagedObjectNotFoundFault } from './errors.js';
import type { MoRef, SoapExchange } from './soap.js';
import type { XmlElement } from './xml.js';

export interface VSphereOptions {
  readonly url: string;
  readonly username: string;
  readonly password?: string;
  /** A file holding the password (its first line), instead of `password`. */
  readonly passwordFile?: string;
  readonly insecure?: boolean;
  /** CA certificates (PEM file) the server's certificate must chain to. */
  readonly caFile?: string;
  /** Per-request timeout (ms). */
  readonly timeoutMs?: number;
}

/** What tests and measurements may add to the options, beyond JSON. */
export interface VSphereHooks {
  readonly trace?: (exchange: SoapExchange) => void;
}

export interface VmDisk {
  /** The performance manager's instance for it, e.g. `scsi0:0`. */
  readonly name: string;
  readonly key: number;
  readonly capacityBytes: number | undefined;
}

export interface VmNic {
  /** The device key, which is the performance manager's instance for it, e.g. `4000`. */
  readonly name: string;
  readonly mac: string | undefined;
}

/** One VM as discovered. */
export interface VmTarget {
  readonly ref: MoRef;
  /** The resource id: the VM's instance UUID, which Nova sets to the server's id. */
  readonly id: string;
  readonly name: string;
  readonly powerState: string;
  readonly numCpu: number | undefined;
  readonly memoryMB: number | undefined;
  readonly host: string;
  readonly disks: readonly VmDisk[];
  readonly nics: readonly VmNic[];
  /** The instance resource's attributes. */
  readonly attributes: Readonly<Record<string, JsonValue>>;
}

const GAUGE = 'gauge' as const;

/** The meters, with the vSphere counter each comes from and the factor to Ceilometer's unit. */
interface PerfMeter {
  readonly meter: MeterDefinition;
  readonly counter: string;
  readonly factor: number;
  readonly device: 'instance' | 'disk' | 'nic';
}

const PERF_METERS: readonly PerfMeter[] = [
  { meter: { name: 'cpu_util', unit: '%', type: GAUGE, resourceType: 'instance', description: 'CPU usage' }, counter: 'cpu.usage.average', factor: 1 / 100, device: 'instance' },
  { meter: { name: 'memory.usage', unit: 'MB', type: GAUGE, resourceType: 'instance', description: 'Memory consumed by the VM' }, counter: 'mem.consumed.average', factor: 1 / 1024, device: 'instance' },
  { meter: { name: 'network.incoming.bytes.rate', unit: 'B/s', type: GAUGE, resourceType: 'instance_network_interface' }, counter: 'net.received.average', factor: 1024, device: 'nic' },
  { meter: { name: 'network.outgoing.bytes.rate', unit: 'B/s', type: GAUGE, resourceType: 'instance_network_interface' }, counter: 'net.transmitted.average', factor: 1024, device: 'nic' },
  // Ceilometer's VMware inspector reads these per disk (its disk-rate pollsters have since
  // been dropped); the per-virtual-disk group is used because its instances name the VM's
  // own disks (`scsi0:0`), where the `disk` group names the host's LUNs.
  { meter: { name: 'disk.device.read.bytes.rate', unit: 'B/s', type: GAUGE, resourceType: 'instance_disk' }, counter: 'virtualDisk.read.average', factor: 1024, device: 'disk' },
  { meter: { name: 'disk.device.write.bytes.rate', unit: 'B/s', type: GAUGE, resourceType: 'instance_disk' }, counter: 'virtualDisk.write.average', factor: 1024, device: 'disk' },
  { meter: { name: 'disk.device.read.requests.rate', unit: 'request/s', type: GAUGE, resourceType: 'instance_disk' }, counter: 'virtualDisk.numberReadAveraged.average', factor: 1, device: 'disk' },
  { meter: { name: 'disk.device.write.requests.rate', unit: 'request/s', type: GAUGE, resourceType: 'instance_disk' }, counter: 'virtualDisk.numberWriteAveraged.average', factor: 1, device: 'disk' },
];

const CONFIG_METERS: readonly MeterDefinition[] = [
  { name: 'vcpus', unit: 'vcpu', type: GAUGE, resourceType: 'instance', description: 'Virtual CPUs configured' },
  { name: 'memory', unit: 'MB', type: GAUGE, resourceType: 'instance', description: 'Memory configured' },
  { name: 'power.state', unit: 'state', type: GAUGE, resourceType: 'instance', description: "Power state, in libvirt's domain state numbers" },
  { name: 'disk.device.capacity', unit: 'B', type: GAUGE, resourceType: 'instance_disk', description: 'Disk capacity' },
];

export const VSPHERE_METERS: readonly MeterDefinition[] = [...CONFIG_METERS, ...PERF_METERS.map((m) => m.meter)];

/** Conversions from vSphere counters to meters, for tests that check them. */
export const VSPHERE_COUNTERS: readonly { readonly meter: string; readonly counter: string; readonly factor: number }[] = PERF_METERS.map((m) => ({
  meter: m.meter.name,
  counter: m.counter,
  factor: m.factor,
}));

// The resource types as Ceilometer's Gnocchi setup defines them, shared with libvirt's.
export const VSPHERE_RESOURCE_TYPES: readonly ResourceTypeDefinition[] = COMPUTE_RESOURCE_TYPES;

// vSphere's power states in libvirt's domain-state numbers (running 1, shut off 5,
// suspended 7), so that `power.state` means the same whichever hypervisor it comes from.
const POWER_STATE: Readonly<Record<string, number>> = { poweredOn: 1, poweredOff: 5, suspended: 7 };

const VM_PROPERTIES = [
  'name',
  'config.uuid',
  'config.instanceUuid',
  'config.annotation',
  'runtime.powerState',
  'runtime.host',
  'summary.config.numCpu',
  'summary.config.memorySizeMB',
  'config.hardware.device',
];

/** The real-time interval (s): vSphere keeps one sample per 20 s for about an hour. */
const REALTIME_INTERVAL = 20;
/** VMs per QueryPerf request: bounds one answer's size on large inventories. */
const PERF_BATCH = 250;
/** Samples averaged at most per poll (5 minutes of real-time data). */
const MAX_SAMPLES = 15;

/** The options of a source, snake_case as every key of the agent's configuration. */
const OPTION_KEYS = new Set(['url', 'username', 'password', 'password_file', 'insecure', 'ca_file', 'timeout_ms']);

/** Reads and checks a source's options. */
export async function readOptions(options: Readonly<Record<string, JsonValue>>): Promise<VSphereOptions & { password: string; ca?: string }> {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new PollsterConfigError(`vsphere: unknown option ${JSON.stringify(key)} (known: ${[...OPTION_KEYS].join(', ')})`);
  }
  const s = (k: string): string | undefined => {
    const v = options[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new PollsterConfigError(`vsphere: option ${k} must be a string`);
    return v;
  };
  const url = s('url');
  const username = s('username');
  if (url === undefined || url === '') throw new PollsterConfigError('vsphere: option url is required (https://vcenter/sdk)');
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new PollsterConfigError(`vsphere: option url is not an http(s) URL: ${url}`);
  }
  if (username === undefined || username === '') throw new PollsterConfigError('vsphere: option username is required');
  const passwordFile = s('password_file');
  let password = s('password');
  if (password !== undefined && passwordFile !== undefined) throw new PollsterConfigError('vsphere: give password or password_file, not both');
  if (passwordFile !== undefined) {
    try {
      password = (await readFile(passwordFile, 'utf8')).split(/\r?\n/, 1)[0] ?? '';
    } catch (err) {
      throw new PollsterConfigError(`vsphere: cannot read password_file ${passwordFile}: ${(err as Error).message}`);
    }
  }
  if (password === undefined) throw new PollsterConfigError('vsphere: option password or password_file is required');
  const insecure = options.insecure;
  if (insecure !== undefined && typeof insecure !== 'boolean') throw new PollsterConfigError('vsphere: option insecure must be true or false');
  const timeoutMs = options.timeout_ms;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) throw new PollsterConfigError('vsphere: option timeout_ms must be a positive number');
  const caFile = s('ca_file');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = await readFile(caFile, 'utf8');
    } catch (err) {
      throw new PollsterConfigError(`vsphere: cannot read ca_file ${caFile}: ${(err as Error).message}`);
    }
  }
  return {
    url,
    username,
    password,
    ...(insecure !== undefined ? { insecure } : {}),
    ...(caFile !== undefined ? { caFile } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

export class VSpherePollster implements Pollster<VmTarget> {
  readonly name = 'vsphere';
  readonly meters = VSPHERE_METERS;
  readonly resourceTypes = VSPHERE_RESOURCE_TYPES;
  readonly #client: VSphereClient;
  readonly #env: PollsterEnvironment;
  #view: { ref: MoRef; epoch: number } | undefined;
  #lastPoll: number | undefined;

  constructor(opts: VSphereOptions & { password: string; ca?: string }, env: PollsterEnvironment, hooks: VSphereHooks = {}) {
    this.#env = env;
    this.#client = new VSphereClient({
      url: opts.url,
      username: opts.username,
      password: opts.password,
      log: env.log,
      ...(opts.insecure !== undefined ? { insecure: opts.insecure } : {}),
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(hooks.trace !== undefined ? { trace: hooks.trace } : {}),
    });
  }

  /** The client, for tests that read the server through it. */
  get client(): VSphereClient {
    return this.#client;
  }

  async discover(ctx: PollContext): Promise<Discovery<VmTarget>> {
    if (!this.#client.loggedIn) await this.#client.login(ctx.signal);
    let objects: ObjectContent[];
    try {
      objects = await this.#retrieve(ctx.signal);
    } catch (err) {
      // A view destroyed behind our back (or lost with a session renewed mid-call): once more.
      if (!(err instanceof ManagedObjectNotFoundFault)) throw err;
      this.#view = undefined;
      objects = await this.#retrieve(ctx.signal);
    }
    const hosts = new Map<string, string>();
    for (const o of objects) {
      if (o.obj.type === 'HostSystem') hosts.set(o.obj.value, o.props.get('name')?.text ?? o.obj.value);
    }
    const targets: VmTarget[] = [];
    for (const o of objects) {
      if (o.obj.type !== 'VirtualMachine') continue;
      const vm = vmTarget(o, hosts);
      if (vm !== undefined) targets.push(vm);
      // Templates and VMs still being created have no config yet: nothing to meter.
      else ctx.log('debug', 'vSphere VM without a configuration skipped', { vm: o.obj.value });
    }
    return { targets };
  }

  async #retrieve(signal: AbortSignal): Promise<ObjectContent[]> {
    const view = await this.#ensureView(signal);
    const run = (): Promise<ObjectContent[]> =>
      this.#client.retrieveProperties(
        [
          {
            objectSet: [{ obj: view, skip: true, selectSet: [{ type: 'ContainerView', path: 'view' }] }],
            propSet: [
              { type: 'VirtualMachine', pathSet: VM_PROPERTIES },
              { type: 'HostSystem', pathSet: ['name'] },
            ],
          },
        ],
        { maxObjects: 1000, signal },
      );
    const epoch = this.#client.sessionEpoch;
    const objects = await run();
    // Logged in again during the call: the view is another session's, read through a new one.
    if (this.#client.sessionEpoch !== epoch) {
      this.#view = undefined;
      return this.#retrieve(signal);
    }
    return objects;
  }

  async #ensureView(signal: AbortSignal): Promise<MoRef> {
    const epoch = this.#client.sessionEpoch;
    if (this.#view !== undefined && this.#view.epoch === epoch) return this.#view.ref;
    const ref = await this.#client.createContainerView(this.#client.serviceContent.rootFolder, ['VirtualMachine', 'HostSystem'], true, signal);
    this.#view = { ref, epoch: this.#client.sessionEpoch };
    return ref;
  }

  async poll(ctx: PollContext, discovery: Discovery<VmTarget>): Promise<Sample[]> {
    const now = BigInt(Date.now()) * 1_000_000n;
    const samples: Sample[] = [];
    const vms = discovery.targets;
    const resources = new Map<string, { instance: ResourceSnapshot; disks: Map<string, ResourceSnapshot>; nics: Map<string, ResourceSnapshot> }>();
    for (const vm of vms) resources.set(vm.ref.value, snapshots(vm));

    const push = (meter: MeterDefinition, volume: number, timestamp: bigint, resource: ResourceSnapshot): void => {
      samples.push({ meter: meter.name, unit: meter.unit, type: meter.type, volume, timestamp, resource });
    };
    const byName = new Map(CONFIG_METERS.map((m) => [m.name, m]));
    const config = (name: string): MeterDefinition | undefined => (ctx.wants(name) ? byName.get(name) : undefined);
    for (const vm of vms) {
      const r = resources.get(vm.ref.value);
      if (r === undefined) continue;
      let m = config('vcpus');
      if (m && vm.numCpu !== undefined) push(m, vm.numCpu, now, r.instance);
      m = config('memory');
      if (m && vm.memoryMB !== undefined) push(m, vm.memoryMB, now, r.instance);
      m = config('power.state');
      const state = POWER_STATE[vm.powerState];
      if (m && state !== undefined) push(m, state, now, r.instance);
      m = config('disk.device.capacity');
      if (m) {
        for (const d of vm.disks) {
          const res = r.disks.get(d.name);
          if (d.capacityBytes !== undefined && res) push(m, d.capacityBytes, now, res);
        }
      }
    }

    const wanted = PERF_METERS.filter((p) => ctx.wants(p.meter.name));
    // Real-time statistics exist only for running VMs (Ceilometer skips the others too).
    const running = vms.filter((vm) => vm.powerState === 'poweredOn');
    if (wanted.length > 0 && running.length > 0) {
      const counters = await this.#client.perfCounters(ctx.signal);
      const used = wanted.flatMap((p) => {
        const c = counters.get(p.counter);
        if (c === undefined) ctx.log('debug', 'vSphere counter not available', { counter: p.counter });
        return c === undefined ? [] : [{ ...p, id: c.key }];
      });
      const maxSample = this.#maxSample();
      const byCounter = new Map(used.map((u) => [u.id, u]));
      for (let i = 0; i < running.length; i += PERF_BATCH) {
        const batch = running.slice(i, i + PERF_BATCH);
        const specs = batch.map((vm) => perfSpec(vm, used, maxSample)).filter((s) => s.metricId.length > 0);
        const result = await this.#client.queryPerf(specs, ctx.signal);
        for (const em of result) {
          const r = resources.get(em.entity.value);
          if (r === undefined) continue;
          for (const point of averages(em)) {
            const u = byCounter.get(point.counterId);
            if (u === undefined) continue;
            const res = u.device === 'instance' ? r.instance : u.device === 'disk' ? r.disks.get(point.instance) : r.nics.get(point.instance);
            if (res === undefined) continue;
            push(u.meter, point.value * u.factor, point.timestamp, res);
          }
        }
      }
    }
    return samples;
  }

  /** As many real-time samples as elapsed since the last poll (Ceilometer averages them). */
  #maxSample(): number {
    const now = performance.now();
    const last = this.#lastPoll;
    this.#lastPoll = now;
    if (last === undefined) return 1;
    return Math.min(MAX_SAMPLES, Math.max(1, Math.floor((now - last) / 1000 / REALTIME_INTERVAL)));
  }

  async close(): Promise<void> {
    const view = this.#view;
    this.#view = undefined;
    if (view !== undefined && this.#client.loggedIn && view.epoch === this.#client.sessionEpoch) {
      try {
        await this.#client.destroyView(view.ref, AbortSignal.timeout(5_000));
      } catch (err) {
        this.#env.log('debug', 'vSphere view not destroyed (the logout ends it anyway)', { error: String(err) });
      }
    }
    await this.#client.close();
  }
}

function perfSpec(vm: VmTarget, used: readonly (PerfMeter & { id: number })[], maxSample: number): PerfQuerySpec {
  const metricId: { counterId: number; instance: string }[] = [];
  for (const u of used) {
    if (u.device === 'instance') metricId.push({ counterId: u.id, instance: '' });
    else if (u.device === 'disk') for (const d of vm.disks) metricId.push({ counterId: u.id, instance: d.name });
    else for (const n of vm.nics) metricId.push({ counterId: u.id, instance: n.name });
  }
  return { entity: vm.ref, metricId, maxSample, intervalId: REALTIME_INTERVAL };
}

/**
 * Each series' mean over the samples returned, leaving out -1 (vSphere's "no value"), at the
 * latest sample's time, as Ceilometer's inspector reads them.
 */
export function averages(em: PerfEntityMetric): { counterId: number; instance: string; value: number; timestamp: bigint }[] {
  if (em.timestamps.length === 0) return [];
  const latest = em.timestamps.reduce((a, b) => (b > a ? b : a));
  const out: { counterId: number; instance: string; value: number; timestamp: bigint }[] = [];
  for (const s of em.series) {
    const ok = s.values.filter((v) => v !== -1 && Number.isFinite(v));
    if (ok.length === 0) continue;
    out.push({ counterId: s.counterId, instance: s.instance, value: ok.reduce((a, b) => a + b, 0) / ok.length, timestamp: latest });
  }
  return out;
}

function snapshots(vm: VmTarget): { instance: ResourceSnapshot; disks: Map<string, ResourceSnapshot>; nics: Map<string, ResourceSnapshot> } {
  const instance: ResourceSnapshot = { id: vm.id, type: 'instance', attributes: vm.attributes };
  const owner: Record<string, JsonValue> = {};
  if (vm.attributes.project_id !== undefined) owner.project_id = vm.attributes.project_id;
  if (vm.attributes.user_id !== undefined) owner.user_id = vm.attributes.user_id;
  const disks = new Map<string, ResourceSnapshot>();
  for (const d of vm.disks) {
    disks.set(d.name, { id: `${vm.id}-${d.name}`, type: 'instance_disk', attributes: { ...owner, name: d.name, instance_id: vm.id } });
  }
  // Ceilometer names interfaces `<libvirt domain>-<instance>-<vnic>`; a VM has no stable name
  // of that kind (its display name can change), so the id is the instance's and the vNIC's.
  const nics = new Map<string, ResourceSnapshot>();
  for (const n of vm.nics) {
    nics.set(n.name, { id: `${vm.id}-${n.name}`, type: 'instance_network_interface', attributes: { ...owner, name: n.name, instance_id: vm.id } });
  }
  return { instance, disks, nics };
}

// Controller types by the bus prefix the performance manager names their disks with.
const CONTROLLER_BUS: readonly [RegExp, string][] = [
  [/^VirtualIDEController$/, 'ide'],
  [/^VirtualAHCIController$|^VirtualSATAController$/, 'sata'],
  [/^VirtualNVMEController$/, 'nvme'],
  [/SCSIController$|^VirtualLsiLogic|^VirtualBusLogic/, 'scsi'],
];

function vmTarget(o: ObjectContent, hosts: ReadonlyMap<string, string>): VmTarget | undefined {
  const p = (path: string): XmlElement | undefined => o.props.get(path);
  const id = p('config.instanceUuid')?.text || p('config.uuid')?.text;
  const devices = p('config.hardware.device');
  if (!id || devices === undefined) return undefined;
  const name = p('name')?.text ?? o.obj.value;
  const num = (path: string): number | undefined => {
    const t = p(path)?.text;
    const n = t === undefined ? NaN : Number(t);
    return Number.isFinite(n) ? n : undefined;
  };
  const controllers = new Map<string, string>();
  for (const d of devices.children) {
    const bus = d.textAt('busNumber');
    const type = d.xsiType ?? '';
    const prefix = CONTROLLER_BUS.find(([re]) => re.test(type))?.[1];
    const key = d.textAt('key');
    if (bus !== undefined && prefix !== undefined && key !== undefined) controllers.set(key, `${prefix}${bus}`);
  }
  const disks: VmDisk[] = [];
  const nics: VmNic[] = [];
  for (const d of devices.children) {
    const key = d.textAt('key');
    if (key === undefined) continue;
    if (d.xsiType === 'VirtualDisk') {
      const ctrl = controllers.get(d.textAt('controllerKey') ?? '');
      const unit = d.textAt('unitNumber');
      if (ctrl === undefined || unit === undefined) continue;
      const bytes = d.textAt('capacityInBytes');
      const kb = d.textAt('capacityInKB');
      const capacityBytes = bytes !== undefined ? Number(bytes) : kb !== undefined ? Number(kb) * 1024 : undefined;
      disks.push({ name: `${ctrl}:${unit}`, key: Number(key), capacityBytes: Number.isFinite(capacityBytes) ? capacityBytes : undefined });
    } else if (d.child('macAddress') !== undefined || /^Virtual(E1000e?|Vmxnet\d*|PCNet32|Sriov\w*)$/.test(d.xsiType ?? '')) {
      nics.push({ name: key, mac: d.textAt('macAddress') });
    }
  }
  const hostRef = p('runtime.host')?.text;
  const host = hostRef === undefined ? '' : (hosts.get(hostRef) ?? hostRef);
  const numCpu = num('summary.config.numCpu');
  const memoryMB = num('summary.config.memorySizeMB');
  const nova = novaMetadata(p('config.annotation')?.text);
  // Without Nova's metadata the configured size stands for the flavor, so a resize shows.
  const size = `${numCpu ?? '?'}vcpu-${memoryMB ?? '?'}MB`;
  const attributes: Record<string, JsonValue> = {
    display_name: nova?.name ?? name,
    host,
    flavor_id: nova?.flavor ?? size,
    flavor_name: nova?.flavor ?? size,
  };
  if (nova?.image) attributes.image_ref = nova.image;
  if (nova?.project) attributes.project_id = nova.project;
  if (nova?.user) attributes.user_id = nova.user;
  return { ref: o.obj, id, name, powerState: p('runtime.powerState')?.text ?? '', numCpu, memoryMB, host, disks, nics, attributes };
}

/**
 * The owner and flavor Nova's VMware driver writes in a VM's annotation (`key:value` lines:
 * name, userid, projectid, flavor:name, imageid, ...); undefined when the VM is not Nova's.
 */
export function novaMetadata(annotation: string | undefined): { name?: string; user?: string; project?: string; flavor?: string; image?: string } | undefined {
  if (annotation === undefined || annotation === '') return undefined;
  const fields = new Map<string, string>();
  for (const line of annotation.split(/\r?\n/)) {
    const m = /^(name|userid|projectid|flavor:name|imageid):(.*)$/.exec(line);
    if (m) fields.set(m[1] as string, (m[2] as string).trim());
  }
  if (!fields.get('projectid') || !fields.get('userid')) return undefined;
  const out: { name?: string; user?: string; project?: string; flavor?: string; image?: string } = {};
  const set = (k: 'name' | 'user' | 'project' | 'flavor' | 'image', f: string): void => {
    const v = fields.get(f);
    if (v) out[k] = v;
  };
  set('name', 'name');
  set('user', 'userid');
  set('project', 'projectid');
  set('flavor', 'flavor:name');
  set('image', 'imageid');
  return out;
}

/** Creates the pollster from a source's options (JSON) and, for tests, hooks. */
export async function createVSpherePollster(options: Readonly<Record<string, JsonValue>>, env: PollsterEnvironment, hooks: VSphereHooks = {}): Promise<VSpherePollster> {
  return new VSpherePollster(await readOptions(options), env, hooks);
}

