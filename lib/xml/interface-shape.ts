// The allow-list of <interface>: every element and attribute netfd applies;
// anything else is refused with NOT_SUPPORTED naming its XPath, and WHY says
// why for libvirt's own. Pure.
import { children, Element, notSupported } from './dom';
import { GUEST_OFFLOADS, HOST_OFFLOADS } from './interface-def';

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
export const SHAPE: Shape = {
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
export const LIVE_SHAPE: Shape = { ...SHAPE, children: { ...SHAPE.children, actual: { attrs: ['type'], children: { source: { attrs: ['dev', 'mode'] } } } } };

/** Why libvirt's elements and attributes that netfd does not apply are refused (by name, or element@attribute). */
export const WHY: Readonly<Record<string, string>> = {
  'inbound@floor': "a guaranteed rate (floor) needs a libvirt network's QoS on its bridge (<network><bandwidth>), which netfd networks (macvtap pools) do not have",
  'outbound@floor': "libvirt allows floor only in <inbound>, and only with a network's QoS",
  'bandwidth@classID': "classID is libvirt's record of a network's QoS class, never given in a domain",
  virtualport: 'netfd does not drive Open vSwitch, 802.1Qbg, 802.1Qbh or MidoNet ports',
  filterref: "netfd does not apply libvirt's nwfilter rules",
  ip: "guest-side addresses are for containers; qemu guests configure their own (host-side ones go in <source> of a type='ethernet' interface)",
  route: "guest-side routes are for containers; qemu guests configure their own (host-side ones go in <source> of a type='ethernet' interface)",
  teaming: 'netfd does not pair interfaces for failover (teaming)',
  acpi: "netfd does not set a NIC's ACPI index",
  guest: 'guest-side device names are for containers, not qemu guests',
  portForward: "port forwarding is for type='user' (passt), which netfd does not run",
  backenddomain: 'Xen driver domains are not qemu guests',
  actual: 'the device a network gave is recorded by netfd in the live XML, never given',
  'interface@trustGuestRxFilters': "netfd does not follow guest receive filter changes (trustGuestRxFilters='yes')",
  'interface@managed': "managed= on <interface> is for type='hostdev'",
  'mac@type': 'netfd does not tell generated from static MACs apart by attribute',
  'mac@check': 'netfd does not check MACs against the host',
  'backend@type': "netfd runs the kernel's tap backend only",
  'backend@logFile': "that is for passt (type='user')",
  'source@portgroup': 'netfd networks have no portgroups',
  'link@state': "a link set down at start needs qemu's set_link, which netfd does not send",
};

const GENERIC = 'netfd does not apply it';

/** Refuses, by XPath, anything in `el` that `shape` does not name (recursively). */
export function checkShape(el: Element, shape: Shape): void {
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
