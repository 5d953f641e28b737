// The `vsphere` pollster factory and what tests and other tools may use of the vSphere client.

import type { PollsterFactory } from '../pollster.js';
import { createVSpherePollster } from './pollster.js';

export const vspherePollster: PollsterFactory = {
  name: 'vsphere',
  create: (options, env) => createVSpherePollster(options, env),
};

export { VSphereClient } from './client.js';
export type {
  VSphereClientOptions, ServiceContent, PropertyFilterSpec, PropertySpec, ObjectSpec, TraversalSpec, ObjectContent,
  PerfCounter, PerfMetricId, PerfQuerySpec, PerfEntityMetric, PerfSeries, WaitForTaskOptions,
} from './client.js';
export {
  VimFault, InvalidLoginFault, NotAuthenticatedFault, InvalidArgumentFault, ManagedObjectNotFoundFault,
  VSphereTransportError, VSphereTimeoutError,
} from './errors.js';
export type { MoRef, SoapExchange } from './soap.js';
export {
  VSpherePollster, createVSpherePollster, VSPHERE_METERS, VSPHERE_RESOURCE_TYPES,
  type VSphereOptions, type VSphereHooks, type VmTarget, type VmDisk, type VmNic,
} from './pollster.js';
