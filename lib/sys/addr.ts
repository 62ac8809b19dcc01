// Addresses and routes on a link over rtnetlink (RTM_NEWADDR, RTM_NEWROUTE),
// as libvirt applies an `<interface type='ethernet'>`'s `<source><ip>` and
// `<source><route>` to the host side of the tap (virNetDevIPAddrAdd,
// virNetDevIPRouteAdd). Each function names its ip equivalent.
import { call, invalid } from '../errors';
import { getLink, netnsOf, Target } from './link';
import { native, NativeAddr, NativeRoute } from './native';
import * as v from '../validate';

/** An address to add to a link (`ip addr add ADDRESS/PREFIX [peer PEER] dev LINK`). */
export interface AddressOptions extends Target {
  address: string;
  /** 0 to 32 (IPv4), 0 to 128 (IPv6). */
  prefix: number;
  /** Point-to-point peer of the same family (IFA_ADDRESS); libvirt's `<ip peer=...>`. */
  peer?: string | undefined;
}

/**
 * `ip addr add ADDRESS/PREFIX [peer PEER] [brd +] dev LINK`: RTM_NEWADDR with
 * NLM_F_CREATE|NLM_F_EXCL, scope global, IFA_LOCAL = ADDRESS and
 * IFA_ADDRESS = PEER (or ADDRESS). An IPv4 address without a peer also gets
 * its broadcast address (IFA_BROADCAST, as libvirt computes one) when the
 * prefix is 30 or shorter, as iproute2's `brd +` does. EEXIST when the link
 * has the address already.
 */
export async function addAddress(link: string | number, o: AddressOptions): Promise<void> {
  const ref = v.linkRef(link);
  const { address, family } = v.ip(o.address, 'address');
  const prefix = v.prefix(o.prefix, family);
  const req: Parameters<ReturnType<typeof native>['addAddress']>[0] = { netns: netnsOf(o), link: ref, address, prefix };
  if (o.peer !== undefined) req.peer = v.ipOfFamily(o.peer, 'peer', family);
  else if (family === 4 && prefix <= 30) req.broadcast = v.ipv4Broadcast(address, prefix);
  await call(native().addAddress(req));
}

/** An address on a link, as `ip addr show` lists it. */
export interface AddressInfo {
  index: number;
  family: 4 | 6;
  /** The link's own address (IFA_LOCAL, or IFA_ADDRESS when there is no IFA_LOCAL). */
  address: string;
  prefix: number;
  /** The point-to-point peer, when IFA_ADDRESS differs from IFA_LOCAL. */
  peer: string | null;
  broadcast: string | null;
  scope: 'global' | 'link' | 'host' | number;
  label: string | null;
}

function scopeName(n: number): AddressInfo['scope'] {
  const s = native().constants.routeScopes;
  return n === s.universe ? 'global' : n === s.link ? 'link' : n === s.host ? 'host' : n;
}

function toAddress(a: NativeAddr): AddressInfo | null {
  const address = a.local ?? a.address;
  if (address === null || (a.family !== 'inet' && a.family !== 'inet6')) return null;
  return {
    index: a.index,
    family: a.family === 'inet' ? 4 : 6,
    address,
    prefix: a.prefix,
    peer: a.local !== null && a.address !== null && a.address !== a.local ? a.address : null,
    broadcast: a.broadcast,
    scope: scopeName(a.scope),
    label: a.label,
  };
}

async function indexOf(link: string | number | undefined, netns: string | undefined): Promise<number | undefined> {
  if (link === undefined) return undefined;
  const ref = v.linkRef(link);
  return typeof ref === 'number' ? ref : (await getLink(ref, { netns })).index;
}

/** `ip addr show [dev LINK]`: IPv4 and IPv6 addresses (RTM_GETADDR dump). */
export async function listAddresses(t: Target & { link?: string | number | undefined } = {}): Promise<AddressInfo[]> {
  const netns = netnsOf(t);
  const index = await indexOf(t.link, netns);
  const all = (await call(native().listAddresses({ netns }))).map(toAddress).filter((a): a is AddressInfo => a !== null);
  return index === undefined ? all : all.filter((a) => a.index === index);
}

/**
 * Who installed a route: `boot` (the kernel default for `ip route add`) or `static`, as libvirt marks
 * its routes.
 */
export type RouteProtocol = 'boot' | 'static';

/** A route to add (`ip route add PREFIX [via GATEWAY] dev DEV [metric N]`). */
export interface RouteOptions extends Target {
  /** The destination network: no bits set beyond the prefix. */
  address: string;
  prefix: number;
  /** Next hop of the same family; without one the route is on the link (scope link). */
  gateway?: string | undefined;
  /** The link the route leaves by. */
  dev: string | number;
  /**
   * RTA_PRIORITY; omitted: none (the kernel's 0, or 1024 for IPv6). libvirt
   * passes 1 for a `<route>` without a metric.
   */
  metric?: number | undefined;
  /** 'boot' (default: what libvirt's netlink code sets) or 'static' (its `ip route` fallback). */
  protocol?: RouteProtocol | undefined;
}

/**
 * `ip route add ADDRESS/PREFIX [via GATEWAY] dev LINK proto boot|static [metric M]`:
 * RTM_NEWROUTE with NLM_F_CREATE|NLM_F_EXCL in the main table, type unicast,
 * scope universe with a gateway and link without one. EEXIST when the route
 * is there already; the kernel refuses a gateway it cannot reach on the link.
 */
export async function addRoute(o: RouteOptions): Promise<void> {
  const { address, family } = v.ip(o.address, 'address');
  const prefix = v.prefix(o.prefix, family);
  if (!v.isNetworkAddress(address, family, prefix)) throw invalid('address', o.address, `a network address: no bits set beyond the first ${prefix}`);
  const link = v.linkRef(o.dev, 'dev');
  const protocols = native().constants.routeProtocols;
  const protocol = o.protocol ?? 'boot';
  if (protocol !== 'boot' && protocol !== 'static') throw invalid('protocol', o.protocol, "'boot' or 'static'");
  const req: Parameters<ReturnType<typeof native>['addRoute']>[0] = { netns: netnsOf(o), link, address, prefix, protocol: protocols[protocol] };
  if (o.gateway !== undefined) req.gateway = v.ipOfFamily(o.gateway, 'gateway', family);
  if (o.metric !== undefined) req.metric = v.u32(o.metric, 'metric');
  await call(native().addRoute(req));
}

/** A route of the main table, as `ip route show` lists it. */
export interface RouteInfo {
  family: 4 | 6;
  /** Destination network address ('0.0.0.0' / '::' for a default route). */
  address: string;
  prefix: number;
  gateway: string | null;
  /** Outgoing ifindex. */
  dev: number | null;
  metric: number | null;
  protocol: 'kernel' | 'boot' | 'static' | number;
  scope: 'global' | 'link' | 'host' | number;
}

function toRoute(r: NativeRoute): RouteInfo | null {
  if (r.family !== 'inet' && r.family !== 'inet6') return null;
  const family = r.family === 'inet' ? 4 : 6;
  const p = native().constants.routeProtocols;
  return {
    family,
    address: r.dst ?? (family === 4 ? '0.0.0.0' : '::'),
    prefix: r.dstLen,
    gateway: r.gateway,
    dev: r.oif,
    metric: r.metric,
    protocol: r.protocol === p.kernel ? 'kernel' : r.protocol === p.boot ? 'boot' : r.protocol === p.static ? 'static' : r.protocol,
    scope: scopeName(r.scope),
  };
}

/** `ip route show [dev LINK]` and `ip -6 route show [dev LINK]`: unicast routes of the main table. */
export async function listRoutes(t: Target & { dev?: string | number | undefined } = {}): Promise<RouteInfo[]> {
  const netns = netnsOf(t);
  const index = await indexOf(t.dev, netns);
  const c = native().constants;
  const all = (await call(native().listRoutes({ netns })))
    .filter((r) => r.table === c.rtTableMain && r.type === c.rtnUnicast)
    .map(toRoute)
    .filter((r): r is RouteInfo => r !== null);
  return index === undefined ? all : all.filter((r) => r.dev === index);
}
