// libvirt's <interface>: what netfd reads of it, and nothing it does not
// apply. Every element and attribute inside <interface> is either turned into
// host changes or qemu arguments exactly as libvirt does, or refused with
// NOT_SUPPORTED naming its XPath (INTERFACE_SHAPE below, checked before
// anything is read). Pure.
import { isIP } from 'node:net';
import * as v from '../validate';
import { absPath, attr, bad, checked, child, children, Element, intAttr, isObjectName, notSupported, oneOf, onOff, path, text, yesNo } from './dom';

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

export type { DomainDef } from './domain';

/** Where a type='network' interface actually runs: a macvtap on a pool device. */
export interface ActualDirect {
  dev: string;
  mode: DirectMode;
}

export const RESERVED_PREFIXES = ['vnet', 'macvtap'];
const DIRECT_MODES: readonly DirectMode[] = ['vepa', 'bridge', 'private', 'passthrough'];
const INTERFACE_TYPES: readonly InterfaceType[] = ['ethernet', 'bridge', 'direct', 'network'];

/** Re-throws a validate.ts error as one that names the element and attribute. */
const queueSize = (n: number) => (n >= 256 && n <= 1024 && (n & (n - 1)) === 0 ? null : 'expected a power of two from 256 to 1024');

function parseDriver(el: Element): DriverDef {
  const d: DriverDef = {};
  const name = oneOf(el, 'name', ['qemu', 'vhost'] as const);
  if (name) d.name = name;
  const queues = intAttr(el, 'queues', (n) => (n >= 1 && n <= 256 ? null : 'expected a queue count from 1 to 256'));
  if (queues !== undefined) d.queues = queues;
  const txmode = oneOf(el, 'txmode', ['iothread', 'timer'] as const);
  if (txmode) d.txmode = txmode;
  const ioeventfd = onOff(el, 'ioeventfd');
  if (ioeventfd !== undefined) d.ioeventfd = ioeventfd;
  const eventIdx = onOff(el, 'event_idx');
  if (eventIdx !== undefined) d.eventIdx = eventIdx;
  const rx = intAttr(el, 'rx_queue_size', queueSize);
  if (rx !== undefined) d.rxQueueSize = rx;
  const tx = intAttr(el, 'tx_queue_size', queueSize);
  if (tx !== undefined) d.txQueueSize = tx;
  for (const [attrName, key] of [['rss', 'rss'], ['rss_hash_report', 'rssHashReport'], ['iommu', 'iommu'], ['ats', 'ats'], ['packed', 'packed'], ['page_per_vq', 'pagePerVq']] as const) {
    const x = onOff(el, attrName);
    if (x !== undefined) d[key] = x;
  }
  const offloads = <K extends string>(name: 'host' | 'guest', names: readonly K[]) => {
    const c = child(el, name);
    if (!c) return undefined;
    const out: Partial<Record<K, boolean>> = {};
    for (const k of names) {
      const x = onOff(c, k);
      if (x !== undefined) out[k] = x;
    }
    return out;
  };
  const host = offloads('host', HOST_OFFLOADS);
  if (host) d.host = host;
  const guest = offloads('guest', GUEST_OFFLOADS);
  if (guest) d.guest = guest;
  return d;
}

/** An element netfd reads inside <interface>: the attributes it applies and the children it reads, each with its own shape. */
interface Shape {
  attrs?: readonly string[];
  children?: Readonly<Record<string, Shape>>;
  /** The element holds a value as text (no attributes, no children). */
  text?: boolean;
}

/**
 * Everything netfd applies inside <interface> (the source's attributes per
 * type are checked by the parser). Any other element or attribute is
 * refused, naming it: WHY says why for libvirt's own.
 */
const SHAPE: Shape = {
  attrs: ['type', 'trustGuestRxFilters'],
  children: {
    mac: { attrs: ['address'] },
    model: { attrs: ['type'] },
    driver: {
      attrs: ['name', 'queues', 'txmode', 'ioeventfd', 'event_idx', 'rx_queue_size', 'tx_queue_size', 'rss', 'rss_hash_report', 'iommu', 'ats', 'packed', 'page_per_vq'],
      children: { host: { attrs: HOST_OFFLOADS }, guest: { attrs: GUEST_OFFLOADS } },
    },
    target: { attrs: ['dev', 'managed'] },
    source: {
      attrs: ['bridge', 'dev', 'mode', 'network', 'portgroup'],
      // type='ethernet' only (checked by the parser): the host side's addresses and routes.
      children: {
        ip: { attrs: ['address', 'family', 'prefix', 'peer'] },
        route: { attrs: ['family', 'address', 'netmask', 'prefix', 'gateway', 'metric'] },
      },
    },
    backend: { attrs: ['tap', 'vhost'] },
    alias: { attrs: ['name'] },
    tune: { children: { sndbuf: { text: true } } },
    boot: { attrs: ['order'] },
    address: { attrs: ['type', 'domain', 'bus', 'slot', 'function', 'multifunction'] },
    rom: { attrs: ['bar', 'file', 'enabled'] },
    link: { attrs: ['state'] },
    mtu: { attrs: ['size'] },
    port: { attrs: ['isolated'] },
    coalesce: { children: { rx: { children: { frames: { attrs: ['max'] } } } } },
    vlan: { attrs: ['trunk'], children: { tag: { attrs: ['id', 'nativeMode'] } } },
    script: { attrs: ['path'] },
    downscript: { attrs: ['path'] },
    // floor (a guaranteed rate) is refused by name: WHY['inbound@floor'].
    bandwidth: { children: { inbound: { attrs: ['average', 'peak', 'burst'] }, outbound: { attrs: ['average', 'peak', 'burst'] } } },
  },
};


/** The live (status) XML also has <actual>, where a network's device is recorded. */
const LIVE_SHAPE: Shape = { ...SHAPE, children: { ...SHAPE.children, actual: { attrs: ['type'], children: { source: { attrs: ['dev', 'mode'] } } } } };

/** Why libvirt's elements and attributes that netfd does not apply are refused (by name, or element@attribute). */
const WHY: Readonly<Record<string, string>> = {
  'inbound@floor': "a guaranteed rate (floor) needs a libvirt network's QoS on its bridge (<network><bandwidth>), which netfd networks (macvtap pools) do not have",
  'outbound@floor': "libvirt allows floor only in <inbound>, and only with a network's QoS",
  'bandwidth@classID': "classID is libvirt's record of a network's QoS class, never given in a domain",
  virtualport: 'netfd does not drive Open vSwitch, 802.1Qbg, 802.1Qbh or MidoNet ports',
  filterref: "netfd does not apply libvirt's nwfilter rules",
  ip: "guest-side addresses are for containers; qemu guests configure their own (host-side ones go in <source> of a type='ethernet' interface)",
  route: "guest-side routes are for containers; qemu guests configure their own (host-side ones go in <source> of a type='ethernet' interface)",
  teaming: 'netfd does not pair interfaces for failover (teaming)',
  acpi: 'netfd does not set a NIC\'s ACPI index',
  guest: 'guest-side device names are for containers, not qemu guests',
  portForward: "port forwarding is for type='user' (passt), which netfd does not run",
  backenddomain: 'Xen driver domains are not qemu guests',
  actual: 'the device a network gave is recorded by netfd in the live XML, never given',
  'interface@trustGuestRxFilters': "netfd does not follow guest receive filter changes (trustGuestRxFilters='yes')",
  'interface@managed': "managed= on <interface> is for type='hostdev'",
  'mac@type': 'netfd does not tell generated from static MACs apart by attribute',
  'mac@check': 'netfd does not check MACs against the host',
  'backend@type': "netfd runs the kernel's tap backend only",
  'backend@logFile': 'that is for passt (type=\'user\')',
  'source@portgroup': 'netfd networks have no portgroups',
  'link@state': "a link set down at start needs qemu's set_link, which netfd does not send",
};

const GENERIC = 'netfd does not apply it';

/** Refuses, by XPath, anything in `el` that `shape` does not name (recursively). */
function checkShape(el: Element, shape: Shape): void {
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes[i];
    if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
    if (!shape.attrs?.includes(a.name)) throw notSupported(el, a.name, a.value, WHY[`${el.tagName}@${a.name}`] ?? GENERIC);
  }
  for (const c of children(el)) {
    const sub = shape.children?.[c.tagName];
    if (!sub) throw notSupported(c, null, c.tagName, WHY[c.tagName] ?? (shape.text ? 'expected text' : GENERIC));
    checkShape(c, sub);
  }
}

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

/** A number as libvirt writes addresses: 0x-prefixed hex or decimal, at most `max`. */
function addressPart(el: Element, name: string, max: number, def?: number): number {
  const x = attr(el, name);
  if (x === undefined) {
    if (def === undefined) throw bad(el, name, '', `<address type='pci'> needs ${name}=`);
    return def;
  }
  const n = /^0x[0-9a-f]+$/i.test(x) ? Number.parseInt(x.slice(2), 16) : /^\d+$/.test(x) ? Number(x) : NaN;
  if (!Number.isInteger(n) || n > max) throw bad(el, name, x, `expected a number from 0 to 0x${max.toString(16)} (hex with 0x, or decimal)`);
  return n;
}

/** <address type='pci' domain bus slot function multifunction>. Other address types are refused by name. */
function pciAddress(el: Element): PciAddress {
  const type = attr(el, 'type');
  if (type !== 'pci') throw notSupported(el, 'type', type ?? '', "netfd places NICs on PCI only (<address type='pci'>)");
  if (addressPart(el, 'domain', 0xffff, 0) !== 0) throw notSupported(el, 'domain', attr(el, 'domain'), 'qemu has one PCI domain (0000) here');
  const a: PciAddress = { bus: addressPart(el, 'bus', 0xff, 0), slot: addressPart(el, 'slot', 0x1f), function: addressPart(el, 'function', 7, 0) };
  const multi = onOff(el, 'multifunction');
  if (multi !== undefined) a.multifunction = multi;
  return a;
}

/** address= (IPv4 or IPv6), family= agreeing with it, and prefix= within the family's bits. */
function addressOf(el: Element): { address: string; v6: boolean; prefix: number | undefined } {
  const address = attr(el, 'address');
  if (address === undefined || !isIP(address)) throw bad(el, 'address', address ?? '', 'expected an IPv4 or IPv6 address');
  const v6 = isIP(address) === 6;
  const family = oneOf(el, 'family', ['ipv4', 'ipv6'] as const);
  if (family && family !== (v6 ? 'ipv6' : 'ipv4')) throw bad(el, 'family', family, `${address} is ${v6 ? 'IPv6' : 'IPv4'}`);
  const prefix = intAttr(el, 'prefix', (n) => (n <= (v6 ? 128 : 32) ? null : `expected a prefix from 0 to ${v6 ? 128 : 32}`));
  return { address, v6, prefix };
}

/** <ip address prefix peer family> of a type='ethernet' interface's <source>. */
function ipDef(el: Element): IpDef {
  const { address, v6, prefix: given } = addressOf(el);
  const prefix = given ?? (v6 ? 64 : 24);
  const ip: IpDef = { address, prefix };
  const peer = attr(el, 'peer');
  if (peer !== undefined) {
    if (isIP(peer) !== isIP(address)) throw bad(el, 'peer', peer, `expected an ${v6 ? 'IPv6' : 'IPv4'} address, as the address is`);
    ip.peer = peer;
  }
  return ip;
}

/** <route address prefix|netmask gateway metric family> of a type='ethernet' interface's <source>. */
function routeDef(el: Element): RouteDef {
  const { address, v6, prefix: given } = addressOf(el);
  let prefix = given;
  const netmask = attr(el, 'netmask');
  if (netmask !== undefined) {
    if (v6 || prefix !== undefined) throw bad(el, 'netmask', netmask, 'netmask= is for IPv4 routes without prefix=');
    const bits = isIP(netmask) === 4 ? netmask.split('.').reduce((n, o) => n * 256 + Number(o), 0) : NaN;
    const len = Number.isNaN(bits) ? -1 : 32 - Math.log2(2 ** 32 - bits);
    if (!Number.isInteger(len) || len < 0 || len > 32) throw bad(el, 'netmask', netmask, 'expected a contiguous IPv4 netmask such as 255.255.255.0');
    prefix = len;
  }
  const route: RouteDef = { address, prefix: prefix ?? (v6 ? 128 : 32) };
  const gateway = attr(el, 'gateway');
  if (gateway !== undefined) {
    if (isIP(gateway) !== isIP(address)) throw bad(el, 'gateway', gateway, `expected an ${v6 ? 'IPv6' : 'IPv4'} address, as the route is`);
    route.gateway = gateway;
  }
  const metric = intAttr(el, 'metric', (n) => (n <= 0xffffffff ? null : 'expected a metric'));
  if (metric !== undefined) route.metric = metric;
  return route;
}

/** A <bandwidth> rate or size: what libvirt's schema allows (1 to 2^32-1; 0 would be no limit: leave it out). */
const bandwidthNumber = (unit: string) => (n: number) => (n >= 1 && n <= 0xffffffff ? null : `expected ${unit} from 1 to 4294967295`);

/** <inbound> or <outbound> of <bandwidth> (floor already refused by the shape). */
function rateDef(el: Element): RateDef {
  const average = intAttr(el, 'average', bandwidthNumber('kilobytes per second'));
  if (average === undefined) throw bad(el, 'average', '', `<${el.tagName}> needs average='N' (kilobytes per second)`);
  const r: RateDef = { average };
  const peak = intAttr(el, 'peak', bandwidthNumber('kilobytes per second'));
  if (peak !== undefined) r.peak = peak;
  const burst = intAttr(el, 'burst', bandwidthNumber('kibibytes'));
  if (burst !== undefined) r.burst = burst;
  return r;
}

/**
 * <bandwidth>. libvirt shapes one direction on the host device's transmit
 * side (htb, where peak is the ceiling) and polices the other on its receive
 * side (a u32 police filter: rate and burst only). On a tap the guest
 * receives what the tap transmits; a macvtap transmits what the guest sends
 * (libvirt swaps the two for taps only). peak= on the policed direction
 * would be ignored, so it is refused by name.
 */
function bandwidthDef(el: Element, type: InterfaceType): BandwidthDef | undefined {
  const b: BandwidthDef = {};
  const policed = type === 'direct' || type === 'network' ? 'inbound' : 'outbound';
  for (const which of ['inbound', 'outbound'] as const) {
    const c = child(el, which);
    if (!c) continue;
    b[which] = rateDef(c);
    if (which === policed && b[which]?.peak !== undefined)
      throw notSupported(c, 'peak', attr(c, 'peak'), `libvirt polices <${which}> on ${policed === 'inbound' ? 'a macvtap' : 'a tap'} with a u32 police filter, which takes the average rate and burst only; peak would be ignored`);
  }
  return b.inbound || b.outbound ? b : undefined;
}

/** libvirt's interface types netfd does not run. */
const OTHER_TYPES = ['user', 'vhostuser', 'hostdev', 'mcast', 'server', 'client', 'udp', 'vdpa', 'null', 'vds', 'internal'];

export function parseInterface(el: Element, index: number, o: ParseOptions): InterfaceDef {
  const t = attr(el, 'type');
  if (t !== undefined && OTHER_TYPES.includes(t)) throw notSupported(el, 'type', t, 'netfd runs ethernet, bridge, direct and network interfaces');
  const type = oneOf(el, 'type', INTERFACE_TYPES);
  if (!type) throw bad(el, 'type', '', `an <interface> needs type= one of ${INTERFACE_TYPES.join(', ')}`);
  checkShape(el, o.live ? LIVE_SHAPE : SHAPE);
  const def: InterfaceDef = { index, path: path(el), type, source: {}, backend: {} };
  if (yesNo(el, 'trustGuestRxFilters', false)) throw notSupported(el, 'trustGuestRxFilters', 'yes', WHY['interface@trustGuestRxFilters']);
  const link = child(el, 'link');
  if (link && oneOf(link, 'state', ['up', 'down'] as const) === 'down') throw notSupported(link, 'state', 'down', WHY['link@state']);

  const mac = child(el, 'mac');
  if (mac) {
    const address = attr(mac, 'address');
    if (address === undefined) throw bad(mac, 'address', '', '<mac> needs an address');
    def.mac = checked(mac, 'address', address, (x) => v.mac(x));
  }

  const model = child(el, 'model');
  if (model) {
    const t = attr(model, 'type');
    if (t === undefined || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(t)) throw bad(model, 'type', t ?? '', 'expected a NIC model such as virtio, e1000, e1000e, rtl8139');
    // Model names are case-insensitive, as in libvirt: ViRtIo is virtio.
    def.model = t.toLowerCase();
  }

  const driver = child(el, 'driver');
  if (driver) def.driver = parseDriver(driver);

  const target = child(el, 'target');
  if (target) {
    const managed = yesNo(target, 'managed', true);
    const dev = attr(target, 'dev');
    def.target = { managed };
    if (dev !== undefined) {
      if (!managed && dev.includes('%')) throw bad(target, 'dev', dev, "managed='no' needs the exact name of an existing device, not a template");
      def.target.dev = checked(target, 'dev', dev, (x) => v.ifnameOrTemplate(x, 'dev'));
      const reserved = RESERVED_PREFIXES.find((p) => dev.startsWith(p));
      if (reserved && managed && !o.live)
        throw bad(target, 'dev', dev, `names starting with '${reserved}' are reserved for names netfd generates; choose another name, or use managed='no' for an existing device (a live XML from dumpxml is launched with --from-live)`);
    }
    if (!managed) {
      if (type !== 'ethernet') throw bad(target, 'managed', 'no', "managed='no' is only for type='ethernet' (an existing tap or macvtap)");
      if (dev === undefined) throw bad(target, 'dev', '', "managed='no' needs the name of the existing tap or macvtap in dev=");
    }
  }

  const source = child(el, 'source');
  const sourceAttrs: Record<InterfaceType, readonly string[]> = { bridge: ['bridge'], direct: ['dev', 'mode'], network: ['network'], ethernet: [] };
  if (source)
    for (let i = 0; i < source.attributes.length; i++) {
      const a = source.attributes[i];
      if (!sourceAttrs[type].includes(a.name)) throw notSupported(source, a.name, a.value, WHY[`source@${a.name}`] ?? `type='${type}' takes ${sourceAttrs[type].length ? sourceAttrs[type].map((x) => `${x}=`).join(' and ') : 'no attribute'} on <source>`);
    }
  if (source && type !== 'ethernet') for (const c of children(source)) throw notSupported(c, null, c.tagName, `only type='ethernet' takes <${c.tagName}> in <source> (the host side of its tap)`);
  if (source && type === 'ethernet') {
    const addresses = children(source, 'ip').map(ipDef);
    const routes = children(source, 'route').map(routeDef);
    if (addresses.length || routes.length) def.hostIp = { addresses, routes };
  }
  if (type === 'bridge') {
    const br = source ? attr(source, 'bridge') : undefined;
    if (!source || br === undefined) throw bad(source ?? el, source ? 'bridge' : null, '', "type='bridge' needs <source bridge='BRIDGE'/>");
    def.source.bridge = checked(source, 'bridge', br, (x) => v.ifname(x, 'bridge'));
  } else if (type === 'direct') {
    const dev = source ? attr(source, 'dev') : undefined;
    if (!source || dev === undefined) throw bad(source ?? el, source ? 'dev' : null, '', "type='direct' needs <source dev='DEV' mode='vepa|bridge|private|passthrough'/>");
    def.source.dev = checked(source, 'dev', dev, (x) => v.ifname(x, 'dev'));
    def.source.mode = oneOf(source, 'mode', DIRECT_MODES, 'vepa');
  } else if (type === 'network') {
    const net = source ? attr(source, 'network') : undefined;
    if (!source || !net) throw bad(source ?? el, source ? 'network' : null, '', "type='network' needs <source network='NAME'/>");
    if (!isObjectName(net)) throw bad(source, 'network', net, 'a network name is 1-200 bytes, no whitespace or /');
    def.source.network = net;
    // Status XML only: the device the network allocated (refused in config by the shape).
    const actual = o.live ? child(el, 'actual') : undefined;
    if (actual) {
      if (attr(actual, 'type') !== 'direct') throw bad(actual, 'type', attr(actual, 'type') ?? '', "netfd records <actual type='direct'>");
      const src = child(actual, 'source');
      const dev = src ? attr(src, 'dev') : undefined;
      if (!src || dev === undefined) throw bad(src ?? actual, src ? 'dev' : null, '', "<actual> needs <source dev='DEV' mode='MODE'/>");
      def.actual = { dev: checked(src, 'dev', dev, (x) => v.ifname(x, 'dev')), mode: oneOf(src, 'mode', DIRECT_MODES, 'vepa') as DirectMode };
    }
  }

  const backend = child(el, 'backend');
  if (backend) {
    const tap = absPath(backend, 'tap');
    if (tap !== undefined) def.backend.tap = tap;
    const vhost = absPath(backend, 'vhost');
    if (vhost !== undefined) def.backend.vhost = vhost;
  }

  const alias = child(el, 'alias');
  if (alias) {
    const name = attr(alias, 'name');
    // Live XML records netfd's own netN ids too, as libvirt's status XML does.
    if (name === undefined || !(/^ua-[A-Za-z0-9_.-]{1,124}$/.test(name) || (o.live && /^net\d+$/.test(name))))
      throw bad(alias, 'name', name ?? '', "a user alias starts with 'ua-' (as in libvirt), then letters, digits, - . _");
    def.alias = name;
  }
  const tune = child(el, 'tune');
  const sndbuf = tune ? child(tune, 'sndbuf') : null;
  if (sndbuf) {
    const x = text(sndbuf);
    if (!/^\d{1,10}$/.test(x) || Number(x) > 0xffffffff) throw bad(sndbuf, null, x, 'expected the send buffer size in bytes, 0 to 4294967295');
    def.sndbuf = Number(x);
  }

  const mtu = child(el, 'mtu');
  if (mtu) {
    const size = intAttr(mtu, 'size', (n) => (n >= 68 && n <= 65535 ? null : 'expected an MTU from 68 to 65535'));
    if (size === undefined) throw bad(mtu, 'size', '', "<mtu> needs size='N'");
    def.mtu = size;
  }

  const port = child(el, 'port');
  if (port) {
    if (type !== 'bridge') throw notSupported(port, null, 'port', "<port isolated> is a Linux bridge port's flag: only for type='bridge'");
    def.isolated = yesNo(port, 'isolated', false);
  }

  const coalesce = child(el, 'coalesce');
  const frames = coalesce ? child(child(coalesce, 'rx') ?? coalesce, 'frames') : null;
  if (coalesce) {
    if (type === 'direct' || type === 'network') throw notSupported(coalesce, null, 'coalesce', 'a macvtap has no interrupt coalescing (the kernel refuses it); only taps');
    const max = frames ? intAttr(frames, 'max', (n) => (n <= 0xffffffff ? null : 'expected a frame count')) : undefined;
    if (max !== undefined) def.coalesce = { rxMaxFrames: max };
  }

  const vlan = child(el, 'vlan');
  if (vlan) {
    if (type !== 'bridge') throw notSupported(vlan, null, 'vlan', "netfd sets VLANs on Linux bridge ports only (type='bridge'); a macvtap or a plain tap has no VLAN filter");
    const tags = children(vlan, 'tag').map((tag) => {
      const id = intAttr(tag, 'id', (n) => (n >= 1 && n <= 4094 ? null : 'expected a VLAN id from 1 to 4094'));
      if (id === undefined) throw bad(tag, 'id', '', "<tag> needs id='N'");
      const t: { id: number; nativeMode?: 'tagged' | 'untagged' } = { id };
      const mode = oneOf(tag, 'nativeMode', ['tagged', 'untagged'] as const);
      if (mode) t.nativeMode = mode;
      return t;
    });
    if (!tags.length) throw bad(vlan, null, '', '<vlan> needs at least one <tag id=N/>');
    const trunk = yesNo(vlan, 'trunk', tags.length > 1);
    if (!trunk && tags.length > 1) throw bad(vlan, 'trunk', 'no', "several tags make a trunk (trunk='yes')");
    if (tags.filter((t) => t.nativeMode).length > 1) throw bad(vlan, null, '', 'at most one tag may be the native one (nativeMode)');
    if (!trunk && tags[0].nativeMode) throw bad(children(vlan, 'tag')[0], 'nativeMode', tags[0].nativeMode, "nativeMode is for trunks (trunk='yes')");
    def.vlan = { trunk, tags };
  }

  for (const which of ['script', 'downscript'] as const) {
    const s = child(el, which);
    if (!s) continue;
    if (type !== 'ethernet' && type !== 'bridge') throw notSupported(s, null, which, `<${which}> runs for a tap netfd makes (type='ethernet' or 'bridge')`);
    if (def.target && !def.target.managed) throw notSupported(s, null, which, "<script> is for a tap netfd makes, not a managed='no' device");
    const p = absPath(s, 'path');
    if (p === undefined) throw bad(s, 'path', '', `<${which}> needs path='/ABSOLUTE/PATH'`);
    def[which] = p;
  }

  const bandwidth = child(el, 'bandwidth');
  if (bandwidth) {
    const b = bandwidthDef(bandwidth, type);
    if (b) def.bandwidth = b;
  }

  // A managed='no' device is someone else's: netfd opens it and changes nothing on it.
  if (def.target && !def.target.managed)
    for (const [key, name] of [['mtu', 'mtu'], ['coalesce', 'coalesce'], ['hostIp', 'source'], ['bandwidth', 'bandwidth']] as const)
      if (def[key] !== undefined) throw notSupported(child(el, name) as Element, null, name, "managed='no': netfd opens the existing device and changes nothing on it; set it up yourself");

  const address = child(el, 'address');
  if (address) def.pci = pciAddress(address);

  const boot = child(el, 'boot');
  if (boot) {
    const order = intAttr(boot, 'order', (n) => (n >= 1 && n <= 65535 ? null : 'expected a boot order from 1'));
    if (order === undefined) throw bad(boot, 'order', '', "<boot> needs order='N'");
    def.bootOrder = order;
  }

  const rom = child(el, 'rom');
  if (rom) {
    def.rom = {};
    const bar = onOff(rom, 'bar');
    if (bar !== undefined) def.rom.bar = bar;
    const file = absPath(rom, 'file');
    if (file !== undefined) def.rom.file = file;
    const enabled = oneOf(rom, 'enabled', ['yes', 'no'] as const);
    if (enabled !== undefined) def.rom.enabled = enabled === 'yes';
  }
  return def;
}



