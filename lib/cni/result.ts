// The result of ADD: one internal shape, written out in the shape of each
// spec version netfd speaks (0.3.1, 0.4.0, 1.0.0, 1.1.0). Interfaces are
// netfd's own; ips, routes and dns come from IPAM (or a previous result)
// and are passed through. Pure.
import net from 'node:net';
import type { CniVersion } from './version';
import { invalidConfig } from './errors';

/** An interface of the result. */
export interface ResultInterface {
  name: string;
  mac?: string;
  /** 1.1.0 */
  mtu?: number;
  /** The namespace path (for an interface in the container). */
  sandbox?: string;
  /** 1.1.0: a socket a launcher claims the interface's fds through. */
  socketPath?: string;
  /** 1.1.0: the PCI address of a device behind the interface. */
  pciID?: string;
}

/** An address from IPAM. */
export interface ResultIp {
  /** CIDR, e.g. 10.1.0.5/24. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

/** A route from IPAM. */
export interface ResultRoute {
  dst: string;
  gw?: string;
  /** 1.1.0 */
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface ResultDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** The result as netfd holds it, whatever version it is written in. */
export interface CniResult {
  interfaces: ResultInterface[];
  ips: ResultIp[];
  routes: ResultRoute[];
  dns: ResultDns;
}

const ROUTE_11 = ['mtu', 'advmss', 'priority', 'table', 'scope'] as const;

function dnsOut(d: ResultDns): ResultDns | undefined {
  const out: ResultDns = {};
  if (d.nameservers?.length) out.nameservers = [...d.nameservers];
  if (d.domain) out.domain = d.domain;
  if (d.search?.length) out.search = [...d.search];
  if (d.options?.length) out.options = [...d.options];
  return Object.keys(out).length ? out : undefined;
}

/**
 * The result in the shape of `version`: 1.1.0 has every field; 1.0.0 has no
 * mtu, socketPath, pciID nor route attributes; 0.3.1 and 0.4.0 also give each
 * ip its "version". ips and routes are left out when empty, dns never (the
 * reference plugins write `"dns": {}`).
 */
export function resultJson(r: CniResult, version: CniVersion): Record<string, unknown> {
  const v11 = version === '1.1.0';
  const out: Record<string, unknown> = { cniVersion: version };
  out.interfaces = r.interfaces.map((i) => {
    const o: Record<string, unknown> = { name: i.name };
    if (i.mac !== undefined) o.mac = i.mac;
    if (v11 && i.mtu !== undefined) o.mtu = i.mtu;
    if (i.sandbox !== undefined) o.sandbox = i.sandbox;
    if (v11 && i.socketPath !== undefined) o.socketPath = i.socketPath;
    if (v11 && i.pciID !== undefined) o.pciID = i.pciID;
    return o;
  });
  const old = version === '0.3.1' || version === '0.4.0';
  if (r.ips.length)
    out.ips = r.ips.map((ip) => {
      const o: Record<string, unknown> = {};
      if (old) o.version = net.isIPv6(ip.address.split('/')[0]) ? '6' : '4';
      if (ip.interface !== undefined) o.interface = ip.interface;
      o.address = ip.address;
      if (ip.gateway !== undefined) o.gateway = ip.gateway;
      return o;
    });
  if (r.routes.length)
    out.routes = r.routes.map((rt) => {
      const o: Record<string, unknown> = { dst: rt.dst };
      if (rt.gw !== undefined) o.gw = rt.gw;
      if (v11) for (const k of ROUTE_11) if (rt[k] !== undefined) o[k] = rt[k];
      return o;
    });
  // As the reference plugins write it: dns always (empty when IPAM gave none).
  out.dns = dnsOut(r.dns) ?? {};
  return out;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
const int = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** A CIDR address: an IPv4 or IPv6 address, '/', a prefix length of its family. */
function cidr(x: unknown): x is string {
  if (typeof x !== 'string') return false;
  const [a, p, more] = x.split('/');
  const fam = net.isIP(a ?? '');
  return more === undefined && fam !== 0 && /^\d{1,3}$/.test(p ?? '') && Number(p) <= (fam === 4 ? 32 : 128);
}

/**
 * Reads a result of any supported version (an IPAM plugin's, or a previous
 * plugin's `prevResult`) into the internal shape; `key` names it in errors (7).
 * IPAM results have no interfaces: their ips get `interface` `ipsInterface`
 * when given.
 */
export function readResult(x: unknown, key: string, ipsInterface?: number): CniResult {
  if (!isObject(x)) throw invalidConfig(key, x, 'a CNI result object');
  const r: CniResult = { interfaces: [], ips: [], routes: [], dns: {} };
  if (x.interfaces !== undefined) {
    if (!Array.isArray(x.interfaces)) throw invalidConfig(`${key}.interfaces`, x.interfaces, 'a list');
    x.interfaces.forEach((i, n) => {
      if (!isObject(i) || typeof i.name !== 'string') throw invalidConfig(`${key}.interfaces[${n}]`, i, 'an object with a name');
      const o: ResultInterface = { name: i.name };
      for (const k of ['mac', 'sandbox', 'socketPath', 'pciID'] as const) {
        if (i[k] === undefined) continue;
        if (typeof i[k] !== 'string') throw invalidConfig(`${key}.interfaces[${n}].${k}`, i[k], 'a string');
        o[k] = i[k] as string;
      }
      if (i.mtu !== undefined) {
        if (!int(i.mtu)) throw invalidConfig(`${key}.interfaces[${n}].mtu`, i.mtu, 'an integer');
        o.mtu = i.mtu;
      }
      r.interfaces.push(o);
    });
  }
  if (x.ips !== undefined) {
    if (!Array.isArray(x.ips)) throw invalidConfig(`${key}.ips`, x.ips, 'a list');
    x.ips.forEach((ip, n) => {
      if (!isObject(ip) || !cidr(ip.address)) throw invalidConfig(`${key}.ips[${n}]`, ip, 'an object with an address in CIDR notation');
      const o: ResultIp = { address: ip.address };
      if (ip.gateway !== undefined) {
        if (typeof ip.gateway !== 'string' || !net.isIP(ip.gateway)) throw invalidConfig(`${key}.ips[${n}].gateway`, ip.gateway, 'an IP address');
        o.gateway = ip.gateway;
      }
      if (ip.interface !== undefined) {
        if (!int(ip.interface)) throw invalidConfig(`${key}.ips[${n}].interface`, ip.interface, 'an index into interfaces');
        o.interface = ip.interface;
      } else if (ipsInterface !== undefined) o.interface = ipsInterface;
      r.ips.push(o);
    });
  }
  if (x.routes !== undefined) {
    if (!Array.isArray(x.routes)) throw invalidConfig(`${key}.routes`, x.routes, 'a list');
    x.routes.forEach((rt, n) => {
      if (!isObject(rt) || !cidr(rt.dst)) throw invalidConfig(`${key}.routes[${n}]`, rt, 'an object with dst in CIDR notation');
      const o: ResultRoute = { dst: rt.dst };
      if (rt.gw !== undefined) {
        if (typeof rt.gw !== 'string' || !net.isIP(rt.gw)) throw invalidConfig(`${key}.routes[${n}].gw`, rt.gw, 'an IP address');
        o.gw = rt.gw;
      }
      for (const k of ROUTE_11) {
        if (rt[k] === undefined) continue;
        if (!int(rt[k])) throw invalidConfig(`${key}.routes[${n}].${k}`, rt[k], 'a non-negative integer');
        o[k] = rt[k] as number;
      }
      r.routes.push(o);
    });
  }
  if (x.dns !== undefined) r.dns = readDns(x.dns, `${key}.dns`);
  return r;
}

/** A `dns` object (of a result or of the configuration). */
export function readDns(x: unknown, key: string): ResultDns {
  if (!isObject(x)) throw invalidConfig(key, x, 'an object');
  const d: ResultDns = {};
  for (const k of ['nameservers', 'search', 'options'] as const) {
    if (x[k] === undefined) continue;
    if (!strings(x[k])) throw invalidConfig(`${key}.${k}`, x[k], 'a list of strings');
    d[k] = x[k] as string[];
  }
  if (x.domain !== undefined) {
    if (typeof x.domain !== 'string') throw invalidConfig(`${key}.domain`, x.domain, 'a string');
    d.domain = x.domain;
  }
  return d;
}
