// The pollsters shipped with the agent, by the name a source's `pollster` key gives. They
// implement the same PollsterFactory contract as plugin packages do.
import type { PollsterFactory } from './pollster.js';
import { hostPollster } from './host/index.js';
import { libvirtPollster } from './libvirt/index.js';
import { vspherePollster } from './vsphere/index.js';

export const BUILTIN_POLLSTERS: ReadonlyMap<string, PollsterFactory> = new Map<string, PollsterFactory>([
  ['host', hostPollster],
  ['libvirt', libvirtPollster],
  ['vsphere', vspherePollster],
]);
