// The agent: sources from the configuration, each polled by its own loop (scheduler.ts)
// with a pollster created from its factory (plugins.ts), samples published through the
// on-disk buffer (buffer.ts, publisher.ts), its own health published beside them
// (health.ts), and sources shared with other agents when a coordination URL is given
// (partition.ts).
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { GnocchiClient } from '@tally/client';
import { openMembership, RingPartition, type Membership } from '@tally/coordination';
import { DiskBuffer } from './buffer.js';
import type { AgentConfig, SourceConfig } from './config.js';
import { AGENT_RESOURCE_TYPE, healthSamples } from './health.js';
import { loadPollsterFactory } from './plugins.js';
import { PollsterConfigError, type Logger, type PollsterFactory } from './pollster.js';
import { Publisher } from './publisher.js';
import { SourceRunner, type SourceStats } from './scheduler.js';

export const DEFAULT_AGENT_GROUP = 'tally-agent';

export interface AgentOptions {
  config: AgentConfig;
  client: GnocchiClient;
  /** The agent's own folder: the buffer, what was sent, pollsters' state. */
  dataDir: string;
  /** Member id among agents and the agent resource's name; the host name by default. */
  name?: string;
  /** A coordination URL shared with other agents (file:///...): sources are split between them. */
  coordinationUrl?: string;
  /** An open membership backend instead of a URL (agents of one process, tests). */
  membership?: Membership;
  group?: string;
  heartbeatMs?: number;
  membershipTimeoutMs?: number;
  log: Logger;
  random?: () => number;
  /** Backoff of the publisher while the store is away (ms). */
  publishRetryBaseMs?: number;
  publishRetryMaxMs?: number;
  /** How long stop() lets pollsters close and the buffer drain (ms). */
  stopTimeoutMs?: number;
}

/** Source names in directory names: anything but a plain character becomes `_`. */
const dirName = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');

export class Agent {
  readonly name: string;
  readonly #o: AgentOptions;
  readonly #factories: Map<string, PollsterFactory>;
  readonly #buffer: DiskBuffer;
  readonly #publisher: Publisher;
  readonly #runners = new Map<string, SourceRunner>();
  readonly #stats = new Map<string, SourceStats>();
  /** Sources whose options their pollster refused: never started. */
  readonly #refused = new Set<string>();
  #membership: Membership | null = null;
  #ownMembership = false;
  #partition: RingPartition<string> | null = null;
  #healthTimer: NodeJS.Timeout | null = null;
  #retryTimers = new Set<NodeJS.Timeout>();
  /** Ownership changes applied one at a time. */
  #changes: Promise<void> = Promise.resolve();
  #stopped = false;

  private constructor(o: AgentOptions, factories: Map<string, PollsterFactory>, buffer: DiskBuffer, publisher: Publisher) {
    this.#o = o;
    this.name = o.name ?? hostname();
    this.#factories = factories;
    this.#buffer = buffer;
    this.#publisher = publisher;
  }

  /**
   * Loads every source's pollster factory (AgentConfigError for one that cannot be found),
   * opens the buffer and starts polling the sources this agent owns.
   */
  static async start(o: AgentOptions): Promise<Agent> {
    const factories = new Map<string, PollsterFactory>();
    for (const s of o.config.sources) {
      factories.set(s.name, await loadPollsterFactory(s.pollster, o.config.dir, `${o.config.file || 'configuration'}: source ${JSON.stringify(s.name)}: pollster ${JSON.stringify(s.pollster)}`));
    }
    await mkdir(o.dataDir, { recursive: true });
    const buffer = await DiskBuffer.open(join(o.dataDir, 'buffer'), { maxBytes: o.config.bufferMaxBytes, log: o.log });
    const publisher = new Publisher({
      client: o.client, buffer, log: o.log, stateDir: o.dataDir, maxRequestBytes: o.config.maxRequestBytes,
      retryBaseMs: o.publishRetryBaseMs, retryMaxMs: o.publishRetryMaxMs ?? o.config.publishRetryMax * 1000,
    });
    publisher.addResourceTypes([AGENT_RESOURCE_TYPE]);
    const agent = new Agent(o, factories, buffer, publisher);
    await publisher.start();
    await agent.#startOwnership();
    agent.#startHealth();
    o.log('info', 'agent started', { name: agent.name, sources: o.config.sources.map((s) => s.name), owned: [...agent.#runners.keys()] });
    return agent;
  }

  async #startOwnership(): Promise<void> {
    const all = this.#o.config.sources.map((s) => s.name);
    if (!this.#o.coordinationUrl && !this.#o.membership) {
      await this.#own(new Set(all));
      return;
    }
    this.#membership = this.#o.membership ?? await openMembership(this.#o.coordinationUrl as string);
    this.#ownMembership = !this.#o.membership;
    const heartbeatMs = this.#o.heartbeatMs ?? 1_000;
    this.#partition = await RingPartition.join({
      membership: this.#membership, group: this.#o.group ?? DEFAULT_AGENT_GROUP, memberId: this.name, keys: all,
      heartbeatMs, timeoutMs: this.#o.membershipTimeoutMs ?? heartbeatMs * 10, pollMs: heartbeatMs,
      onError: (e) => this.#o.log('warn', 'membership unreadable: ownership kept as it was', { error: (e as Error).message }),
      onChange: (owned, members) => {
        this.#o.log('info', 'sources shared between agents', { members, owned: [...owned] });
        this.#changes = this.#changes.then(() => this.#own(owned)).catch((e: unknown) => {
          this.#o.log('error', 'could not apply a change of source ownership', { error: (e as Error).message });
        });
      },
    });
    await this.#changes;
  }

  /** Starts the sources in `owned` not running yet, stops the running ones not in it. */
  async #own(owned: ReadonlySet<string>): Promise<void> {
    if (this.#stopped) return;
    const stops: Promise<void>[] = [];
    for (const [name, runner] of this.#runners) {
      if (owned.has(name)) continue;
      this.#runners.delete(name);
      this.#o.log('info', 'source handed over to another agent', { source: name });
      stops.push(runner.stop(this.#o.stopTimeoutMs));
    }
    await Promise.all(stops);
    for (const s of this.#o.config.sources) {
      if (owned.has(s.name) && !this.#runners.has(s.name) && !this.#refused.has(s.name)) await this.#startSource(s);
    }
  }

  async #startSource(s: SourceConfig): Promise<void> {
    const factory = this.#factories.get(s.name) as PollsterFactory;
    const stateDir = join(this.#o.dataDir, 'sources', dirName(s.name));
    const log: Logger = (level, message, fields) => this.#o.log(level, message, { source: s.name, ...fields });
    let pollster;
    try {
      await mkdir(stateDir, { recursive: true });
      pollster = await factory.create(s.options, { stateDir, log });
    } catch (e) {
      if (e instanceof PollsterConfigError) {
        this.#refused.add(s.name);
        this.#o.log('error', 'source not started: its pollster refused the options', { source: s.name, pollster: s.pollster, error: e.message });
        return;
      }
      this.#o.log('error', 'source could not start: retrying after its interval', { source: s.name, pollster: s.pollster, error: (e as Error).message });
      const t = setTimeout(() => {
        this.#retryTimers.delete(t);
        this.#changes = this.#changes.then(() => this.#own(this.#partition?.owned ?? new Set(this.#o.config.sources.map((x) => x.name))));
      }, s.interval * 1000);
      this.#retryTimers.add(t);
      return;
    }
    this.#publisher.addResourceTypes(pollster.resourceTypes);
    const runner = new SourceRunner({
      source: s, pollster, log: this.#o.log, random: this.#o.random,
      publish: (samples) => this.#publisher.submit(s.name, s.archivePolicy, samples),
    });
    this.#stats.set(s.name, runner.stats);
    this.#runners.set(s.name, runner);
    runner.start();
    this.#o.log('info', 'source started', { source: s.name, pollster: pollster.name, intervalSeconds: s.interval });
  }

  #startHealth(): void {
    const every = this.#o.config.healthInterval;
    if (every <= 0) return;
    this.#healthTimer = setInterval(() => void this.publishHealth(), every * 1000);
    this.#healthTimer.unref();
  }

  /** Publishes the health samples of now (also called on a timer). */
  async publishHealth(): Promise<void> {
    try {
      await this.#publisher.submit('agent', null, healthSamples(this.health()));
    } catch (e) {
      this.#o.log('warn', 'health not published', { error: (e as Error).message });
    }
  }

  /** Sources polled by this agent now. */
  get owned(): string[] {
    return [...this.#runners.keys()];
  }

  health(): { name: string; hostName: string; sources: Map<string, SourceStats>; buffer: ReturnType<DiskBuffer['stats']>; publisher: Publisher['stats'] } {
    const sources = new Map([...this.#stats].filter(([n]) => this.#runners.has(n)));
    return { name: this.name, hostName: hostname(), sources, buffer: this.#buffer.stats(), publisher: this.#publisher.stats };
  }

  /**
   * Stops every source (pollsters closed, with a timeout), leaves the group, sends what
   * the store takes within the stop timeout; the rest stays in the buffer for the next run.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    for (const t of this.#retryTimers) clearTimeout(t);
    await this.#changes;
    await this.#partition?.leave().catch((e: unknown) => this.#o.log('warn', 'could not leave the agent group', { error: (e as Error).message }));
    const timeout = this.#o.stopTimeoutMs ?? 5_000;
    await Promise.all([...this.#runners.values()].map((r) => r.stop(timeout)));
    this.#runners.clear();
    await this.#publisher.stop(timeout);
    await this.#buffer.close();
    if (this.#ownMembership) await this.#membership?.close();
    const left = this.#buffer.stats();
    this.#o.log('info', 'agent stopped', { bufferedSamples: left.samples, published: this.#publisher.stats.published });
  }
}
