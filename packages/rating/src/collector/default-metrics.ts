// What Tally rates when no metrics configuration is given: the meters Ceilometer usually
// publishes to Gnocchi, on Gnocchi's standard resource types, in CloudKitty's metrics.yml
// shape. Units are those a price list usually uses (an instance-hour, GiB, MB).
// docs/RATING.md explains each entry.
export const DEFAULT_METRICS_YAML = `metrics:
  # One instance running during the period; flavor attributes for per-flavor mappings.
  cpu:
    unit: instance
    alt_name: instance
    groupby: [id, user_id, project_id]
    metadata: [flavor_name, flavor_id]
    mutate: NUMBOOL
    extra_args:
      aggregation_method: mean
      resource_type: instance
  # Size of the volume in GiB.
  volume.size:
    unit: GiB
    groupby: [id, user_id, project_id]
    metadata: [volume_type]
    extra_args:
      aggregation_method: mean
      resource_type: volume
  # Size of the image, converted from bytes to MiB.
  image.size:
    unit: MiB
    factor: 1/1048576
    groupby: [id, user_id, project_id]
    metadata: [container_format, disk_format]
    extra_args:
      aggregation_method: mean
      resource_type: image
  # Traffic of an instance's interfaces, from bytes per second to MB over the hour.
  network.outgoing.bytes.rate:
    unit: MB
    factor: 3600/1000000
    groupby: [id, project_id, user_id]
    metadata: [instance_id]
    extra_args:
      aggregation_method: mean
      resource_type: instance_network_interface
  network.incoming.bytes.rate:
    unit: MB
    factor: 3600/1000000
    groupby: [id, project_id, user_id]
    metadata: [instance_id]
    extra_args:
      aggregation_method: mean
      resource_type: instance_network_interface
  # A floating IP held during the period.
  ip.floating:
    unit: ip
    groupby: [id, project_id, user_id]
    metadata: [state]
    mutate: NUMBOOL
    extra_args:
      aggregation_method: mean
      resource_type: network
`;
