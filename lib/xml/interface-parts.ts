// The parts of an <interface> read one element at a time: <driver>, <address>,
// the host-side <ip> and <route>, <bandwidth>. Pure.
import { isIP } from 'node:net';
import { attr, bad, child, Element, intAttr, notSupported, oneOf, onOff } from './dom';
import { BandwidthDef, DriverDef, GUEST_OFFLOADS, HOST_OFFLOADS, InterfaceType, IpDef, PciAddress, RateDef, RouteDef } from './interface-def';

/** The check of rx_queue_size and tx_queue_size: a power of two from 256 to 1024 (null when it holds). */
const queueSize = (n: number) => (n >= 256 && n <= 1024 && (n & (n - 1)) === 0 ? null : 'expected a power of two from 256 to 1024');

export function parseDriver(el: Element): DriverDef {
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
  for (const [attrName, key] of [
    ['rss', 'rss'],
    ['rss_hash_report', 'rssHashReport'],
    ['iommu', 'iommu'],
    ['ats', 'ats'],
    ['packed', 'packed'],
    ['page_per_vq', 'pagePerVq'],
  ] as const) {
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

/** A number as libvirt writes addresses: 0x-prefixed hex or decimal, at most `max`. */
export function addressPart(el: Element, name: string, max: number, def?: number): number {
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
export function pciAddress(el: Element): PciAddress {
  const type = attr(el, 'type');
  if (type !== 'pci') throw notSupported(el, 'type', type ?? '', "netfd places NICs on PCI only (<address type='pci'>)");
  if (addressPart(el, 'domain', 0xffff, 0) !== 0) throw notSupported(el, 'domain', attr(el, 'domain'), 'qemu has one PCI domain (0000) here');
  const a: PciAddress = { bus: addressPart(el, 'bus', 0xff, 0), slot: addressPart(el, 'slot', 0x1f), function: addressPart(el, 'function', 7, 0) };
  const multi = onOff(el, 'multifunction');
  if (multi !== undefined) a.multifunction = multi;
  return a;
}

/** address= (IPv4 or IPv6), family= agreeing with it, and prefix= within the family's bits. */
export function addressOf(el: Element): { address: string; v6: boolean; prefix: number | undefined } {
  const address = attr(el, 'address');
  if (address === undefined || !isIP(address)) throw bad(el, 'address', address ?? '', 'expected an IPv4 or IPv6 address');
  const v6 = isIP(address) === 6;
  const family = oneOf(el, 'family', ['ipv4', 'ipv6'] as const);
  if (family && family !== (v6 ? 'ipv6' : 'ipv4')) throw bad(el, 'family', family, `${address} is ${v6 ? 'IPv6' : 'IPv4'}`);
  const prefix = intAttr(el, 'prefix', (n) => (n <= (v6 ? 128 : 32) ? null : `expected a prefix from 0 to ${v6 ? 128 : 32}`));
  return { address, v6, prefix };
}

/** <ip address prefix peer family> of a type='ethernet' interface's <source>. */
export function ipDef(el: Element): IpDef {
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
export function routeDef(el: Element): RouteDef {
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
export function rateDef(el: Element): RateDef {
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
export function bandwidthDef(el: Element, type: InterfaceType): BandwidthDef | undefined {
  const b: BandwidthDef = {};
  const policed = type === 'direct' || type === 'network' ? 'inbound' : 'outbound';
  for (const which of ['inbound', 'outbound'] as const) {
    const c = child(el, which);
    if (!c) continue;
    b[which] = rateDef(c);
    if (which === policed && b[which]?.peak !== undefined)
      throw notSupported(
        c,
        'peak',
        attr(c, 'peak'),
        `libvirt polices <${which}> on ${policed === 'inbound' ? 'a macvtap' : 'a tap'} with a u32 police filter, which takes the average rate and burst only; peak would be ignored`,
      );
  }
  return b.inbound || b.outbound ? b : undefined;
}
