// The `libvirt` pollster factory and the pieces other parts of the agent (and its tests and
// benchmarks) may use on their own: the remote-protocol client and the domain XML reader.

import type { PollsterFactory } from '../pollster.js';
import { LibvirtPollster, parseLibvirtOptions } from './pollster.js';

/** Options: `{ uri?: string; socket?: string; timeout_ms?: number; host?: string }`. */
export const libvirtPollster: PollsterFactory = {
  name: 'libvirt',
  create(options, env) {
    return new LibvirtPollster('libvirt', parseLibvirtOptions(options), env);
  },
};

export { LibvirtPollster, LIBVIRT_METERS, LIBVIRT_RESOURCE_TYPES, parseLibvirtOptions } from './pollster.js';
export type { DomainTarget, LibvirtPollsterOptions } from './pollster.js';
export { LibvirtClient, LibvirtError, LibvirtConnectionError, LibvirtTimeoutError, ErrorCode } from './client.js';
export type { LibvirtClientOptions, CallOptions } from './client.js';
export { Procedure, StatsGroup, MemoryStatTag, RpcProtocolError } from './rpc.js';
export type {
  DomainRef, DomainStatsRecord, TypedParam, RemoteError, DomainInfo, BlockStats, BlockInfo, InterfaceStats, MemoryStat,
} from './rpc.js';
export { XdrError } from './xdr.js';
export { parseDomainXml, DomainXmlError } from './domain-xml.js';
export type { DomainDescription, NovaMetadata, NovaFlavor, InterfaceDescription, DiskDescription } from './domain-xml.js';
