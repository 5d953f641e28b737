// What the agent reads from a domain's XML description: the Nova metadata Nova writes into
// every instance it defines (owner, display name, flavor, image), as Ceilometer's
// `libvirt_metadata` discovery reads it, the network interfaces' filter references
// and MAC addresses, which name Ceilometer's interface resources, and the disks, which
// are what the per-domain statistics calls ask about when a driver's bulk statistics have
// no block group.
//
// Nova writes its metadata as one element `instance` in the namespace
// http://openstack.org/xmlns/libvirt/nova/1.1 (1.0 before), with children name,
// flavor (attribute name; children memory, disk, swap, ephemeral, vcpus), owner (user and
// project, each with a uuid attribute) and root (type="image", uuid=the image). libvirt
// keeps a metadata element with its namespace declared on the element itself, under the
// prefix it was given; the prefix is read from there rather than assumed to be `nova`.

import { XMLParser } from 'fast-xml-parser';

export const NOVA_NAMESPACES = [
  'http://openstack.org/xmlns/libvirt/nova/1.1',
  'http://openstack.org/xmlns/libvirt/nova/1.0',
] as const;

export interface NovaFlavor {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly diskGb: number;
  readonly ephemeralGb: number;
  readonly swapMb: number;
}

export interface NovaMetadata {
  readonly displayName: string | null;
  readonly flavor: NovaFlavor | null;
  readonly projectId: string | null;
  readonly userId: string | null;
  readonly imageId: string | null;
}

export interface InterfaceDescription {
  /** The host-side device name (`target dev`), as bulk statistics name the interface. */
  readonly dev: string;
  readonly mac: string | null;
  /** The nwfilter reference, which Ceilometer uses as the interface's resource id. */
  readonly filter: string | null;
}

export interface DiskDescription {
  /** The target device name (vda, sdb, ...), as bulk statistics name the disk. */
  readonly dev: string;
  /**
   * What the disk's `source` element names (file, block device, network or pool volume;
   * '' when none of those), or null without a source element: an empty CD-ROM drive, which
   * has no statistics and no resource, in the bulk statistics as in Ceilometer.
   */
  readonly source: string | null;
}

export interface DomainDescription {
  readonly nova: NovaMetadata | null;
  /** By target device name, in the order of the description. */
  readonly interfaces: ReadonlyMap<string, InterfaceDescription>;
  /** Disks with a target device, in the order of the description. */
  readonly disks: readonly DiskDescription[];
}

/** A domain XML that cannot be parsed. */
export class DomainXmlError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DomainXmlError';
  }
}

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Names and ids stay strings ("0123" is a name, not a number).
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (_name, jpath) => jpath === 'domain.devices.interface' || jpath === 'domain.devices.disk',
});

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function first(v: unknown): Node | null {
  if (Array.isArray(v)) return v.find(isNode) ?? null;
  return isNode(v) ? v : null;
}

function text(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isNode(v) && typeof v['#text'] === 'string') return v['#text'];
  if (isNode(v)) return '';
  return null;
}

function attr(n: Node | null, name: string): string | null {
  const v = n?.[`@_${name}`];
  return typeof v === 'string' ? v : null;
}

function int(v: unknown): number {
  const t = text(v);
  const n = t === null ? NaN : Number.parseInt(t, 10);
  return Number.isFinite(n) ? n : 0;
}

/** The Nova `instance` element of a metadata element and its prefix ('' for a default namespace). */
function findNovaInstance(metadata: Node): { el: Node; prefix: string } | null {
  let best: { el: Node; prefix: string; rank: number } | null = null;
  for (const [key, value] of Object.entries(metadata)) {
    if (key.startsWith('@_') || key === '#text') continue;
    const colon = key.indexOf(':');
    const prefix = colon < 0 ? '' : key.slice(0, colon);
    if (key.slice(colon + 1) !== 'instance') continue;
    for (const el of Array.isArray(value) ? value : [value]) {
      if (!isNode(el)) continue;
      const ns = attr(el, prefix === '' ? 'xmlns' : `xmlns:${prefix}`);
      const rank = NOVA_NAMESPACES.findIndex((n) => n === ns);
      if (rank >= 0 && (best === null || rank < best.rank)) best = { el, prefix, rank };
    }
  }
  return best === null ? null : { el: best.el, prefix: best.prefix };
}

function readNova(el: Node, prefix: string): NovaMetadata {
  const q = (name: string): string => (prefix === '' ? name : `${prefix}:${name}`);
  const flavorEl = first(el[q('flavor')]);
  const owner = first(el[q('owner')]);
  const roots = el[q('root')];
  const root = (Array.isArray(roots) ? roots : [roots]).find((r): r is Node => isNode(r) && attr(r, 'type') === 'image') ?? null;
  const flavorName = attr(flavorEl, 'name');
  return {
    displayName: text(el[q('name')]),
    flavor: flavorEl === null || flavorName === null ? null : {
      name: flavorName,
      vcpus: int(flavorEl[q('vcpus')]),
      memoryMb: int(flavorEl[q('memory')]),
      diskGb: int(flavorEl[q('disk')]),
      ephemeralGb: int(flavorEl[q('ephemeral')]),
      swapMb: int(flavorEl[q('swap')]),
    },
    projectId: attr(first(owner?.[q('project')]), 'uuid'),
    userId: attr(first(owner?.[q('user')]), 'uuid'),
    imageId: attr(root, 'uuid'),
  };
}

export function parseDomainXml(xml: string): DomainDescription {
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (err) {
    throw new DomainXmlError(`domain XML does not parse: ${(err as Error).message}`, { cause: err });
  }
  const domain = isNode(doc) ? first(doc.domain) : null;
  if (domain === null) throw new DomainXmlError('domain XML has no <domain> element');
  const metadata = first(domain.metadata);
  const found = metadata === null ? null : findNovaInstance(metadata);
  const interfaces = new Map<string, InterfaceDescription>();
  const devices = first(domain.devices);
  const ifaces = devices?.interface;
  for (const iface of Array.isArray(ifaces) ? ifaces : []) {
    if (!isNode(iface)) continue;
    const dev = attr(first(iface.target), 'dev');
    if (dev === null) continue;
    interfaces.set(dev, { dev, mac: attr(first(iface.mac), 'address'), filter: attr(first(iface.filterref), 'filter') });
  }
  const disks: DiskDescription[] = [];
  const diskEls = devices?.disk;
  for (const disk of Array.isArray(diskEls) ? diskEls : []) {
    if (!isNode(disk)) continue;
    const dev = attr(first(disk.target), 'dev');
    if (dev === null) continue;
    // An element without attributes or children parses as '' (not a node): still a source.
    const src = disk.source;
    const srcNode = first(src);
    const source = src === undefined ? null
      : attr(srcNode, 'file') ?? attr(srcNode, 'dev') ?? attr(srcNode, 'name') ?? attr(srcNode, 'volume') ?? '';
    disks.push({ dev, source });
  }
  return { nova: found === null ? null : readNova(found.el, found.prefix), interfaces, disks };
}
