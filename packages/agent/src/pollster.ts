// The contract between the metering agent and what it polls. Built-in sources (the host,
// libvirt domains, vSphere VMs) and third-party packages implement the same interface: the
// agent finds a factory by name, creates one pollster per configured source, and calls
// discover then poll once per interval. A pollster never publishes, retries or schedules:
// the agent does that for every source alike, so a plugin cannot get it wrong.

import type { JsonValue } from '@tally/client';

/** How a meter's value moves, as Ceilometer types its samples. */
export type MeterType = 'gauge' | 'cumulative' | 'delta';

/** One meter a pollster can yield, with Ceilometer's name and unit. */
export interface MeterDefinition {
  /** Ceilometer's meter name, e.g. `cpu`, `disk.device.read.bytes`. */
  readonly name: string;
  /** Ceilometer's unit, e.g. `ns`, `B`, `MB`, `request`, `packet`, `vcpu`. */
  readonly unit: string;
  readonly type: MeterType;
  /** The resource type of the resources this meter's metrics belong to, e.g. `instance_disk`. */
  readonly resourceType: string;
  readonly description?: string;
}

/** An attribute of a resource type, in Gnocchi's resource-type attribute schema. */
export interface AttributeDefinition {
  readonly type: 'string' | 'number' | 'bool' | 'uuid' | 'datetime';
  readonly required: boolean;
  /** For strings: Gnocchi's `max_length`. */
  readonly maxLength?: number;
}

/** A resource type the agent creates on the store when it is missing. */
export interface ResourceTypeDefinition {
  readonly name: string;
  readonly attributes: Readonly<Record<string, AttributeDefinition>>;
}

/** A resource as a pollster sees it now. */
export interface ResourceSnapshot {
  /** The resource id sent to the store (a UUID, or any string Gnocchi maps to one). */
  readonly id: string;
  readonly type: string;
  /**
   * The resource's attributes as of this poll, including `project_id`, `user_id` where known.
   * When they differ from what the store holds, the agent updates the resource, so that its
   * history shows the change (a domain renamed or resized).
   */
  readonly attributes: Readonly<Record<string, JsonValue>>;
}

/** One reading of one meter of one resource. */
export interface Sample {
  readonly meter: string;
  readonly unit: string;
  readonly type: MeterType;
  readonly volume: number;
  /** When the value was read: nanoseconds since the Unix epoch, UTC. */
  readonly timestamp: bigint;
  readonly resource: ResourceSnapshot;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface PollContext {
  /** Aborted when the poll times out or the agent stops; a pollster passes it to its I/O. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Whether the source's meter patterns select this meter; a pollster may skip unwanted work. */
  wants(meter: string): boolean;
}

/** What `discover` found: opaque to the agent, handed back to `poll` of the same cycle. */
export interface Discovery<T> {
  readonly targets: readonly T[];
}

export interface Pollster<T = unknown> {
  /** The factory name it was created by, for logs and health metrics. */
  readonly name: string;
  readonly meters: readonly MeterDefinition[];
  readonly resourceTypes: readonly ResourceTypeDefinition[];
  /** Finds what there is to poll this cycle (domains, VMs, devices). */
  discover(ctx: PollContext): Promise<Discovery<T>>;
  /** Reads the meters of what `discover` found; targets gone since may simply be missing. */
  poll(ctx: PollContext, discovery: Discovery<T>): Promise<Sample[]>;
  /** Releases every connection and session; called once when the source stops. */
  close(): Promise<void>;
}

/** Given to a factory: where the agent keeps state and how it logs. */
export interface PollsterEnvironment {
  /** A folder the pollster may keep state in (created by the agent, one per source). */
  readonly stateDir: string;
  readonly log: Logger;
}

/**
 * What a pollster package exports, as `default` or as `pollster`: the agent's configuration
 * names the package (or a built-in name), and the source's `options` go to `create`.
 */
export interface PollsterFactory {
  readonly name: string;
  create(options: Readonly<Record<string, JsonValue>>, env: PollsterEnvironment): Promise<Pollster> | Pollster;
}

/** An error a pollster throws for bad `options`: the source is reported and not started. */
export class PollsterConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PollsterConfigError';
  }
}
