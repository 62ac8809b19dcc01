// The plain objects an <interface> is read into, and the option of the reader. Pure types and constants.

/** The `<interface type>`s netfd runs. */
export type InterfaceType = 'ethernet' | 'bridge' | 'direct' | 'network';
/** libvirt's spelling of the macvtap modes. */
export type DirectMode = 'vepa' | 'bridge' | 'private' | 'passthrough';

/** `<driver>` of an interface, as written. */
export interface DriverDef {
  name?: 'qemu' | 'vhost';
  queues?: number;
  txmode?: 'iothread' | 'timer';
  ioeventfd?: boolean;
  eventIdx?: boolean;
  rxQueueSize?: number;
  txQueueSize?: number;
  /** virtio-net's receive side scaling, and the hash it reports (rss, rss_hash_report). */
  rss?: boolean;
  rssHashReport?: boolean;
  /** iommu, ats, packed, page_per_vq: virtio device options. */
  iommu?: boolean;
  ats?: boolean;
  packed?: boolean;
  pagePerVq?: boolean;
  /** <host .../> and <guest .../> offloads, on or off, by libvirt's attribute name. */
  host?: Partial<Record<HostOffload, boolean>>;
  guest?: Partial<Record<GuestOffload, boolean>>;
}

/** libvirt's <driver><host …/> offloads. */
export const HOST_OFFLOADS = ['csum', 'gso', 'tso4', 'tso6', 'ecn', 'ufo', 'mrg_rxbuf'] as const;
/** One `<driver><host …/>` offload. */
export type HostOffload = (typeof HOST_OFFLOADS)[number];
/** libvirt's <driver><guest …/> offloads. */
export const GUEST_OFFLOADS = ['csum', 'tso4', 'tso6', 'ecn', 'ufo'] as const;
/** One `<driver><guest …/>` offload. */
export type GuestOffload = (typeof GUEST_OFFLOADS)[number];

/** An `<interface>` as netfd read it. */
export interface InterfaceDef {
  /** Position among the domain's <interface> elements, from 0. */
  index: number;
  /** Where it is in the document, for error messages. */
  path: string;
  type: InterfaceType;
  mac?: string;
  model?: string;
  driver?: DriverDef;
  target?: { dev?: string; managed: boolean };
  source: { bridge?: string; dev?: string; mode?: DirectMode; network?: string };
  /** Live XML, type='network': the device the network gave (libvirt's <actual type='direct'>). */
  actual?: ActualDirect;
  backend: { tap?: string; vhost?: string };
  alias?: string;
  /** <tune><sndbuf>: the tap's send buffer in bytes (qemu's sndbuf=). */
  sndbuf?: number;
  /** <boot order='N'>: qemu's bootindex. */
  bootOrder?: number;
  /** <rom bar='on|off' file='…' enabled='yes|no'>: rombar and romfile on the device. */
  rom?: { bar?: boolean; file?: string; enabled?: boolean };
  /** <address type='pci'>: where the NIC sits (qemu's bus= and addr=). */
  pci?: PciAddress;
  /** <mtu size='N'>: the host device's MTU, and host_mtu for virtio. */
  mtu?: number;
  /** <port isolated='yes|no'>: the bridge port's isolated flag (type='bridge'). */
  isolated?: boolean;
  /** <coalesce><rx><frames max='N'/></rx></coalesce>: the tap's rx-frames. */
  coalesce?: { rxMaxFrames: number };
  /** <vlan [trunk='yes']><tag id='N' [nativeMode]/>…: the bridge port's VLANs. */
  vlan?: VlanDef;
  /** type='ethernet': <source><ip>/<route>, set on the host side of the tap. */
  hostIp?: { addresses: IpDef[]; routes: RouteDef[] };
  /** <script path>, <downscript path>: run with the device's name after it is made / once it is gone. */
  script?: string;
  downscript?: string;
  /** <bandwidth><inbound>/<outbound>: limits on traffic to / from the guest (absent when neither is given). */
  bandwidth?: BandwidthDef;
}

/**
 * libvirt's <bandwidth> of an interface, from the guest's point of view:
 * inbound is what the guest receives, outbound what it sends.
 */
export interface BandwidthDef {
  inbound?: RateDef;
  outbound?: RateDef;
}

/** One direction of <bandwidth>, in libvirt's units (tc's kbps and kb: 1000 bytes/s, KiB). */
export interface RateDef {
  /** average='N': kilobytes per second. */
  average: number;
  /** peak='N': kilobytes per second. */
  peak?: number;
  /** burst='N': kibibytes. */
  burst?: number;
}

/** `<vlan>`: its tags and whether it is a trunk. */
export interface VlanDef {
  trunk: boolean;
  tags: { id: number; nativeMode?: 'tagged' | 'untagged' }[];
}

/** A host-side `<source><ip>` of an ethernet interface. */
export interface IpDef {
  address: string;
  prefix: number;
  peer?: string;
}

/** A host-side `<source><route>` of an ethernet interface. */
export interface RouteDef {
  address: string;
  prefix: number;
  gateway?: string;
  metric?: number;
}

/** A PCI address as libvirt writes it (domain 0 only: qemu has one PCI domain here). */
export interface PciAddress {
  bus: number;
  slot: number;
  function: number;
  multifunction?: boolean;
}

/** Where a type='network' interface actually runs: a macvtap on a pool device. */
export interface ActualDirect {
  dev: string;
  mode: DirectMode;
}

export const RESERVED_PREFIXES = ['vnet', 'macvtap'];
export const DIRECT_MODES: readonly DirectMode[] = ['vepa', 'bridge', 'private', 'passthrough'];
export const INTERFACE_TYPES: readonly InterfaceType[] = ['ethernet', 'bridge', 'direct', 'network'];

/** How to read domain XML. */
export interface ParseOptions {
  /**
   * The document is live (status) XML netfd wrote: target names with the
   * reserved prefixes are netfd's own and accepted.
   */
  live?: boolean | undefined;
  /**
   * Read only what the interfaces' qemu arguments need: <domain type>,
   * <name>, <uuid> and every <interface>, fully validated. Everything else
   * (memory, os, disks, serials, graphics, …) is neither read nor refused,
   * for a VM manager that builds the rest of the command line itself.
   */
  netOnly?: boolean | undefined;
}
