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
