// The resource types of a compute node's guests as Ceilometer's Gnocchi setup defines them
// (ceilometer-upgrade creates the same), shared by every hypervisor pollster so that a
// libvirt domain and a vSphere VM, or Tally's agent and Ceilometer, land in one shape.
import type { AttributeDefinition, ResourceTypeDefinition } from './pollster.js';

const str255: AttributeDefinition = { type: 'string', required: false, maxLength: 255 };
const str255Required: AttributeDefinition = { type: 'string', required: true, maxLength: 255 };

export const INSTANCE = 'instance';
export const INSTANCE_DISK = 'instance_disk';
export const INSTANCE_NETWORK_INTERFACE = 'instance_network_interface';

export const COMPUTE_RESOURCE_TYPES: readonly ResourceTypeDefinition[] = [
  {
    name: INSTANCE,
    attributes: {
      display_name: str255Required,
      host: str255Required,
      flavor_id: str255Required,
      flavor_name: str255Required,
      image_ref: str255,
      server_group: str255,
      availability_zone: str255,
      launched_at: { type: 'datetime', required: false },
      created_at: { type: 'datetime', required: false },
      deleted_at: { type: 'datetime', required: false },
    },
  },
  { name: INSTANCE_DISK, attributes: { name: str255Required, instance_id: { type: 'uuid', required: true } } },
  { name: INSTANCE_NETWORK_INTERFACE, attributes: { name: str255Required, instance_id: { type: 'uuid', required: true } } },
];
