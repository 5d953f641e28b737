export type {
  MeterType, MeterDefinition, AttributeDefinition, ResourceTypeDefinition, ResourceSnapshot, Sample,
  LogLevel, Logger, PollContext, Discovery, Pollster, PollsterEnvironment, PollsterFactory,
} from './pollster.js';
export { PollsterConfigError } from './pollster.js';
export {
  vspherePollster, VSphereClient, VimFault, InvalidLoginFault, NotAuthenticatedFault, InvalidArgumentFault,
  ManagedObjectNotFoundFault, VSphereTransportError, VSphereTimeoutError,
} from './vsphere/index.js';
export {
  libvirtPollster, LibvirtPollster, LibvirtClient, LibvirtError, LibvirtConnectionError, LibvirtTimeoutError,
} from './libvirt/index.js';
export { Agent, DEFAULT_AGENT_GROUP, type AgentOptions } from './agent.js';
export {
  AgentConfigError, loadAgentConfig, parseAgentConfig, meterMatcher, DEFAULT_BUFFER_MAX_BYTES, DEFAULT_MAX_REQUEST_BYTES,
  DEFAULT_HEALTH_INTERVAL, type AgentConfig, type SourceConfig,
} from './config.js';
export { BUILTIN_POLLSTERS } from './builtin.js';
export { loadPollsterFactory, resolvePackage } from './plugins.js';
export { DiskBuffer, type BufferStats, type BufferedRecord, type DiskBufferOptions } from './buffer.js';
export { Publisher, CEILOMETER_ARCHIVE_POLICIES, defaultArchivePolicy, type PublisherOptions, type PublisherStats } from './publisher.js';
export { SourceRunner, PollTimeoutError, type SourceStats, type SourceRunnerOptions } from './scheduler.js';
export { AGENT_RESOURCE_TYPE, agentResourceId, healthSamples } from './health.js';
export { hostPollster, HostPollster, HOST_METERS, HOST_RESOURCE_TYPES } from './host/index.js';
