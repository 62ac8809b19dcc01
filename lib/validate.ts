/**
 * The checks netfd applies to user input before any syscall (interface
 * names and templates, MACs, modes, queue counts, namespaces, …). Each returns
 * the value or throws a NetfdError INVALID_ARGUMENT naming the field.
 *
 * @module
 */
// Validation of user input, before any syscall. Each failure names the field
// and the value (INVALID_ARGUMENT).
import net from 'node:net';
import { invalid } from './errors';

/** The kernel's limit on interface names, with the terminating NUL (15 bytes of name). */
export const IFNAMSIZ = 16;

/** A macvlan/macvtap mode as the kernel spells it. */
export type MacvlanMode = 'vepa' | 'bridge' | 'private' | 'passthru';
const modeAliases: Record<string, MacvlanMode> = {
  vepa: 'vepa',
  bridge: 'bridge',
  private: 'private',
  passthru: 'passthru',
  passthrough: 'passthru', // libvirt's spelling
};

/**
 * An interface name: 1-15 bytes, no '/', ':', whitespace, and not '.' or
 * '..'. With `template` it must contain exactly one '%d' and no other '%'.
 */
export function ifname(value: unknown, field = 'name', opts: { template?: boolean | undefined } = {}): string {
  if (typeof value !== 'string') throw invalid(field, value, 'an interface name must be a string');
  const bytes = Buffer.byteLength(value);
  if (bytes < 1 || bytes > IFNAMSIZ - 1) throw invalid(field, value, `an interface name is 1 to ${IFNAMSIZ - 1} bytes`);
  if (/[\s/:]/.test(value)) throw invalid(field, value, "an interface name has no whitespace, '/' or ':'");
  if (value === '.' || value === '..') throw invalid(field, value, "'.' and '..' are not interface names");
  const percents = value.split('%').length - 1;
  if (opts.template) {
    if (percents !== 1 || !value.includes('%d')) throw invalid(field, value, "a name template holds exactly one '%d', e.g. vnet%d");
  } else if (percents > 0) {
    throw invalid(field, value, "'%' is only allowed in a name template (--template)");
  }
  return value;
}

/** A name that may be exact or a template (contains '%'). */
export function ifnameOrTemplate(value: unknown, field = 'name'): string {
  const isTemplate = typeof value === 'string' && value.includes('%');
  return ifname(value, field, { template: isTemplate });
}

/** A unicast MAC address, six octets 'aa:bb:cc:dd:ee:ff'; returned lower-case. */
export function mac(value: unknown, field = 'mac'): string {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value)) throw invalid(field, value, 'a MAC address is six hex octets separated by colons, e.g. 52:54:00:12:34:56');
  const first = parseInt(value.slice(0, 2), 16);
  if (first & 1) throw invalid(field, value, 'a multicast MAC address (lowest bit of the first octet set) cannot be an interface address');
  if (/^(00:){5}00$/.test(value)) throw invalid(field, value, 'the all-zero MAC address cannot be an interface address');
  return value.toLowerCase();
}

/** macvtap/macvlan mode; accepts libvirt's 'passthrough' for 'passthru'. */
export function macvlanMode(value: unknown, field = 'mode'): MacvlanMode {
  const m = typeof value === 'string' ? modeAliases[value] : undefined;
  if (!m) throw invalid(field, value, 'the mode is one of vepa, bridge, private, passthrough (or passthru)');
  return m;
}

/** A queue count: an integer from 1 to 256. */
export function queues(value: unknown, field = 'queues'): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 256) throw invalid(field, value, 'the queue count is an integer from 1 to 256');
  return n;
}

/** A network namespace: a name under /run/netns or an absolute path. */
export function netns(value: unknown, field = 'netns'): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(field, value, 'a namespace name (under /run/netns) or a path such as /proc/PID/ns/net');
  if (value.includes('\0')) throw invalid(field, value, 'a namespace may not contain NUL');
  if (value.includes('/')) {
    if (!value.startsWith('/')) throw invalid(field, value, 'a namespace path must be absolute');
    return value;
  }
  if (value === '.' || value === '..' || Buffer.byteLength(value) > 255) throw invalid(field, value, 'not a valid namespace name');
  return value;
}

/** A uid/gid: a non-negative integer below 2^32-1. */
export function id(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n >= 0xffffffff) throw invalid(field, value, 'a numeric id from 0 to 4294967294');
  return n;
}

/** A link group (`ip link set group G`): 1 to 4294967295 (0 is the default group). */
export function linkGroup(value: unknown, field = 'group'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xffffffff) throw invalid(field, value, 'a link group from 1 to 4294967295');
  return value;
}

/** A device path: absolute. */
export function devicePath(value: unknown, field: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('\0')) throw invalid(field, value, 'an absolute device path such as /dev/vhost-net');
  return value;
}

/** A link given by name or positive ifindex. */
export function linkRef(value: unknown, field = 'link'): string | number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > 0x7fffffff) throw invalid(field, value, 'an ifindex is a positive integer');
    return value;
  }
  return ifname(value, field);
}

/** A boolean flag. */
export function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(field, value, 'true or false');
  return value;
}

/** An MTU (`ip link set mtu N`): an integer from 68 (IPv4's minimum) to 65535. */
export function mtu(value: unknown, field = 'mtu'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 68 || value > 65535) throw invalid(field, value, 'an MTU is an integer from 68 to 65535');
  return value;
}

/** An 802.1Q VLAN id: 1 to 4094 (0 and 4095 are reserved). */
export function vid(value: unknown, field = 'vid'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 4094) throw invalid(field, value, 'a VLAN id is an integer from 1 to 4094');
  return value;
}

/** IPv4 or IPv6. */
export type IpFamily = 4 | 6;

/** An IPv4 or IPv6 address in text (no zone index such as %eth0, no prefix); returns it and its family. */
export function ip(value: unknown, field: string): { address: string; family: IpFamily } {
  const family = typeof value === 'string' && !value.includes('%') ? net.isIP(value) : 0;
  if (family !== 4 && family !== 6) throw invalid(field, value, 'an IPv4 address such as 192.0.2.1 or an IPv6 address such as 2001:db8::1');
  return { address: value as string, family };
}

/** An address of a given family (a peer or gateway of `address`'s family). */
export function ipOfFamily(value: unknown, field: string, family: IpFamily): string {
  const a = ip(value, field);
  if (a.family !== family) throw invalid(field, value, `an IPv${family} address, as the address is IPv${family}`);
  return a.address;
}

/** A prefix length: 0 to 32 for IPv4, 0 to 128 for IPv6. */
export function prefix(value: unknown, family: IpFamily, field = 'prefix'): number {
  const max = family === 4 ? 32 : 128;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) throw invalid(field, value, `an IPv${family} prefix length is an integer from 0 to ${max}`);
  return value;
}

/** An unsigned 32-bit integer (a route metric, a coalescing frame count). */
export function u32(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) throw invalid(field, value, 'an integer from 0 to 4294967295');
  return value;
}

/** The address's bytes (4 or 16), for prefix arithmetic. */
export function ipBytes(address: string, family: IpFamily): Buffer {
  if (family === 4) return Buffer.from(address.split('.').map(Number));
  // The URL parser's canonical form writes an embedded IPv4 part in hex.
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head, tail = ''] = canonical.split('::');
  const words = (s: string) => (s ? s.split(':') : []);
  const h = words(head);
  const t = canonical.includes('::') ? words(tail) : [];
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
}

/** True when no bit beyond the first `prefix` bits is set (a network address). */
export function isNetworkAddress(address: string, family: IpFamily, prefixLen: number): boolean {
  const b = ipBytes(address, family);
  for (let bit = prefixLen; bit < b.length * 8; bit++) if (b[bit >> 3] & (0x80 >> (bit & 7))) return false;
  return true;
}

/** The IPv4 broadcast address of address/prefix (what `ip addr add ... brd +` computes). */
export function ipv4Broadcast(address: string, prefixLen: number): string {
  const b = ipBytes(address, 4);
  for (let bit = prefixLen; bit < 32; bit++) b[bit >> 3] |= 0x80 >> (bit & 7);
  return [...b].join('.');
}
