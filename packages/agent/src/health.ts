// The agent's own health, published as metrics of an `agent` resource (one per agent, id
// from its name) through the same buffer as the samples it polls: cycle duration and
// samples per source, errors and timeouts, the buffer's depth, samples dropped or refused.
import type { BufferStats } from './buffer.js';
import type { MeterType, ResourceSnapshot, ResourceTypeDefinition, Sample } from './pollster.js';
import type { PublisherStats } from './publisher.js';
import type { SourceStats } from './scheduler.js';

export const AGENT_RESOURCE_TYPE: ResourceTypeDefinition = {
  name: 'agent',
  attributes: {
    host_name: { type: 'string', required: true, maxLength: 255 },
    agent_name: { type: 'string', required: true, maxLength: 255 },
  },
};

/** The agent resource's id: its name, in a namespace of its own so it never meets a host's id. */
export const agentResourceId = (name: string): string => `tally-agent.${name}`;

/** Metric names take the source's name; characters Gnocchi refuses in names become `_`. */
const metricPart = (s: string): string => s.replace(/[/\s]/g, '_');

export interface HealthInput {
  name: string;
  hostName: string;
  sources: ReadonlyMap<string, SourceStats>;
  buffer: BufferStats;
  publisher: PublisherStats;
}

/** The health samples of this instant. */
export function healthSamples(h: HealthInput, now: bigint = BigInt(Date.now()) * 1_000_000n): Sample[] {
  const resource: ResourceSnapshot = { id: agentResourceId(h.name), type: 'agent', attributes: { host_name: h.hostName, agent_name: h.name } };
  const out: Sample[] = [];
  const add = (meter: string, unit: string, type: MeterType, volume: number): void => {
    out.push({ meter, unit, type, volume, timestamp: now, resource });
  };
  for (const [name, s] of h.sources) {
    const p = `agent.source.${metricPart(name)}`;
    add(`${p}.cycle.duration`, 's', 'gauge', s.lastDurationMs / 1000);
    add(`${p}.samples`, 'sample', 'gauge', s.lastSamples);
    add(`${p}.errors`, 'error', 'cumulative', s.errors);
    add(`${p}.timeouts`, 'timeout', 'cumulative', s.timeouts);
    add(`${p}.skipped`, 'cycle', 'cumulative', s.skipped);
  }
  add('agent.buffer.samples', 'sample', 'gauge', h.buffer.samples);
  add('agent.buffer.bytes', 'B', 'gauge', h.buffer.bytes);
  add('agent.samples.dropped', 'sample', 'cumulative', h.buffer.droppedSamples);
  add('agent.samples.rejected', 'sample', 'cumulative', h.publisher.rejected);
  add('agent.samples.published', 'sample', 'cumulative', h.publisher.published);
  add('agent.buffer.torn', 'record', 'cumulative', h.buffer.tornRecords);
  return out;
}
