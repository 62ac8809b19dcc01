// Validation of user input, before any syscall. Each failure names the field
// and the value (INVALID_ARGUMENT).
import { invalid } from './errors';

export const IFNAMSIZ = 16;

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
export function ifname(value: unknown, field = 'name', opts: { template?: boolean } = {}): string {
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
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value))
    throw invalid(field, value, 'a MAC address is six hex octets separated by colons, e.g. 52:54:00:12:34:56');
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
