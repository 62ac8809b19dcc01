// The devices of CNI attachments (cni.ts): where an ADD may make them, how
// they are made (a tap in the pod, a macvtap in the pod on a device of the
// agent's namespace, a tap in the agent's namespace on a bridge there), found
// again from a record and removed. A type='bridge' attachment's tap cannot be
// in the pod (a bridge port is in the bridge's namespace): it is made in the
// agent's namespace under a name derived from (uid, container id, ifname),
// recorded before it is made, so DEL finds it after any crash, and only the
// pod's processes claim its fds (cni-claim.ts authorises by the pod's
// namespace wherever the device is).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { NetfdError, suppress } from '../errors';
import type { CniConfig } from '../cni/config';
import type { CniCommand } from '../cni/env';
import { CNI_CODES, CniError } from '../cni/errors';
import { macUser } from '../netdev/connect';
import { pciNetdev } from '../network/pool';
import { freshMac, tapHostMac } from '../policy/mac';
import { macTakenBy } from '../netdev/live';
import { deleteLink, getLink, LinkInfo, listLinks, setLink } from '../sys/link';
import { createMacvtap } from '../sys/macvtap';
import { Tap } from '../sys/tap';
import type { CniRecord, CniStore } from './cni-store';
import type { AgentLogger } from './options';

/**
 * Tests only (NETFD_TEST_CNI_HOLD=FILE, test/privileged/cni-stress.ts): when
 * FILE holds the name of a step, a call that reaches that step logs 'CNI test
 * hold' (warn, with the step) and then never goes on, so that a test can
 * SIGKILL the agent exactly there. The steps of an ADD: 'recorded' (the
 * record says 'adding'), 'allocated' (type='network': the pool's device in
 * the ledger and the live XML, the record updated; nothing made yet),
 * 'tap-made' (the device made, a macvtap also configured; its ifindex not
 * recorded yet), 'ifindex-recorded', 'configured' (MAC, MTU, up), 'ipam-recorded' and
 * 'ipam-configured' (with IPAM), 'ready' (the record says so; no result sent
 * yet); of a removal (DEL, GC): 'link-deleted' (the record not dropped yet).
 */
export type CniHoldStep = 'recorded' | 'allocated' | 'tap-made' | 'ifindex-recorded' | 'configured' | 'ipam-recorded' | 'ipam-configured' | 'ready' | 'link-deleted';
const holdFile = process.env.NETFD_TEST_CNI_HOLD || undefined;

export async function testHold(step: CniHoldStep, log: AgentLogger, r: CniRecord): Promise<void> {
  if (!holdFile) return;
  let named: string;
  try {
    named = fs.readFileSync(holdFile, 'utf8').trim();
  } catch {
    return;
  }
  if (named !== step) return;
  log.warn({ step, containerId: r.containerId, ifname: r.ifname }, 'CNI test hold');
  await new Promise(() => undefined);
}

/** Whether `e` says the object is gone (the namespace or the link). */
const gone = (e: unknown): boolean => ['ENOENT', 'ENODEV', 'ESRCH'].includes((e as { code?: string })?.code ?? '');

/** The namespace file's st_dev and st_ino, or null when `netns` names no namespace now. */
export function nsStat(netns: string): { dev: number; ino: number } | null {
  try {
    const st = fs.statSync(netns);
    return { dev: st.dev, ino: st.ino };
  } catch (e) {
    if (gone(e)) return null;
    throw e;
  }
}

/** The network namespace of process `pid` (st_dev and st_ino of /proc/PID/ns/net), or null when it is gone. */
export function pidNetns(pid: number, proc = '/proc'): { dev: number; ino: number } | null {
  try {
    const st = fs.statSync(`${proc}/${pid}/ns/net`);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

/**
 * Where an ADD may make its device: CNI_NETNS must be a namespace file (on
 * nsfs, like /proc/PID/ns/net or a /run/netns bind mount: never a FIFO or
 * other file that an open would hang on or misread), and a caller other
 * than root may only add into its own network namespace (that of its pid)
 * when that is not the agent's own: never into another user's, another
 * pod's or the host's.
 */
export function mayAddIn(netns: string, st: { dev: number; ino: number }, caller: { uid: number; pid?: number | undefined }, served?: string): void {
  const own = pidNetns(process.pid);
  if (!own || st.dev !== own.dev)
    throw new NetfdError(`CNI_NETNS ${netns} is not a network namespace file (a path such as /proc/PID/ns/net or /run/netns/NAME)`, { code: 'INVALID_ARGUMENT', field: 'CNI_NETNS', value: netns });
  if (caller.uid === 0) return;
  const theirs = caller.pid ? pidNetns(caller.pid) : null;
  if (!theirs || theirs.dev !== st.dev || theirs.ino !== st.ino)
    throw new NetfdError(`uid ${caller.uid} may add attachments only in its own network namespace, and CNI_NETNS ${netns} is not it (root's calls may name any)`, {
      code: 'ACCESS_DENIED',
      field: 'CNI_NETNS',
      value: netns,
    });
  // A user's own namespace may be the host's (every login is there), or the one the agent serves: no names squatted there.
  if (own.ino === st.ino || (served !== undefined && nsStat(served)?.ino === st.ino))
    throw new NetfdError(`CNI_NETNS ${netns} is the agent's own network namespace, where only root's calls may add attachments`, { code: 'ACCESS_DENIED', field: 'CNI_NETNS', value: netns });
}

/** Where the recorded device is: the pod's CNI_IFNAME, or a bridged tap's name in the agent's namespace. */
export function deviceOf(r: CniRecord): { netns: string | undefined; name: string } {
  return r.hostName !== undefined ? { netns: r.hostNs, name: r.hostName } : { netns: r.netns, name: r.ifname };
}

/**
 * The name of a type='bridge' attachment's tap in the agent's namespace:
 * 'nfc' and 12 hex digits of SHA-256 over (uid, container id, ifname), so
 * the record names it before it exists and no two attachments share one.
 */
export function hostTapName(uid: number, containerId: string, ifname: string): string {
  return `nfc${attachmentHash(uid, containerId, ifname)}`;
}

/** 12 hex digits of SHA-256 over (uid, container id, ifname): what names an attachment's objects outside its record. */
export function attachmentHash(uid: number, containerId: string, ifname: string): string {
  return crypto.createHash('sha256').update(`${uid}\0${containerId}\0${ifname}`).digest('hex').slice(0, 12);
}

/** The recorded device, when it is still there (null when it or, for a device in the pod, the pod's namespace is gone). */
export async function recordedLink(r: CniRecord): Promise<LinkInfo | null> {
  const at = deviceOf(r);
  // A device in the pod: the path must still name the namespace it was made in. A bridged tap outlives the pod's namespace.
  if (r.hostName === undefined && nsStat(r.netns)?.ino !== r.netnsIno) return null;
  try {
    const l = await getLink(r.ifindex ?? at.name, { netns: at.netns });
    const kind = r.kind === 'macvtap' ? l.kind === 'macvtap' : l.kind === 'tun' && l.tun?.type === 'tap';
    return l.name === at.name && kind ? l : null;
  } catch (e) {
    if (gone(e)) return null;
    throw e;
  }
}

/** Removes the recorded device if it is there, then what `release` gives back (a pool's device), then the record. */
export async function removeAttachment(store: CniStore, r: CniRecord, log: AgentLogger, release: (r: CniRecord) => Promise<void>): Promise<void> {
  const l = await recordedLink(r);
  if (l) {
    try {
      await deleteLink(l.index, { netns: deviceOf(r).netns });
    } catch (e) {
      if (!gone(e)) throw e;
    }
    await testHold('link-deleted', log, r);
  }
  await release(r);
  store.drop(r.uid, r.containerId, r.ifname);
  log.info({ containerId: r.containerId, ifname: r.ifname, netns: r.netns, deleted: !!l }, l ? 'CNI attachment removed' : 'CNI attachment record removed (its device was gone)');
}

/** A persistent tap named `ifname` in `netns` (none made when the name is taken); its ifindex. */
export async function makeTap(netns: string | undefined, ifname: string, vnetHdr: boolean, queues: number): Promise<number> {
  const tap = await Tap.create({ netns, name: ifname, exclusive: true, persist: true, vnetHdr, queues, multiQueue: queues > 1 });
  tap.close();
  return tap.ifindex;
}

/**
 * A macvtap named `ifname` made in `netns` on the master in the agent's
 * namespace, with the guest's MAC, MTU and up; its ifindex (none left when
 * this fails). The kernel's refusals are told in the configuration's terms:
 * it refuses a MAC the master or an up sibling has (in any namespace) when
 * the device goes up.
 */
export async function makeMacvtap(c: CniConfig, hostNs: string | undefined, netns: string, ifname: string, on: { master: string; mode: string; mac: string }): Promise<number> {
  const { master, mode, mac } = on;
  // passthrough: the macvtap takes the master's MAC; setting the guest's on it
  // sets the master's, which the kernel restores when the macvtap goes.
  const passthru = mode === 'passthrough';
  let index: number | undefined;
  try {
    index = (await createMacvtap({ netns: hostNs, link: master, mode, name: ifname, into: netns, ...(passthru ? {} : { mac }) })).index;
    await setLink(index, { netns, mtu: c.iface.mtu, up: true, ...(passthru ? { mac } : {}) });
    return index;
  } catch (e) {
    if (index !== undefined) await deleteLink(index, { netns }).catch((x: unknown) => suppress(e, x, `deleting ${ifname} in ${netns}`));
    const code = (e as { code?: string }).code;
    if (code === 'EEXIST') throw new NetfdError(`CNI_NETNS ${netns} already has ${ifname}`, { code: 'EEXIST', field: 'CNI_IFNAME', value: ifname });
    if (code === 'ENODEV' && index === undefined) throw new NetfdError(`master ${master} does not exist in the agent's network namespace`, { code: 'ENODEV', field: 'master', value: master });
    if (code === 'EADDRINUSE')
      throw new NetfdError(`MAC ${mac} is already used on ${master} (by the device itself or another macvtap or macvlan on it, in any namespace); give another mac`, {
        code: 'EADDRINUSE',
        field: 'mac',
        value: mac,
      });
    if (code === 'EINVAL' && index === undefined && mode === 'passthrough')
      throw new NetfdError(`passthrough mode needs ${master} to itself, and a macvtap or macvlan already uses it`, { code: 'EBUSY', field: 'mode', value: mode });
    throw e;
  }
}

/** The bridge `name` in `netns` (the agent's), checked: it exists and is a bridge. */
export async function bridgeLink(name: string, netns: string | undefined): Promise<LinkInfo> {
  let br: LinkInfo;
  try {
    br = await getLink(name, { netns });
  } catch (e) {
    if (!gone(e)) throw e;
    throw new NetfdError(`bridge ${name} does not exist in the agent's network namespace`, { code: 'ENODEV', field: 'bridge', value: name });
  }
  if (br.kind !== 'bridge') throw new NetfdError(`${name} is a ${br.kind ?? 'plain'} link, not a bridge`, { code: 'INVALID_ARGUMENT', field: 'bridge', value: name });
  return br;
}

/**
 * type='bridge': a persistent tap named `name` in the agent's namespace
 * (`hostNs`), a port of the bridge there, as libvirt's bridge connect makes
 * it: the host side has the guest's MAC with 0xFE first, the bridge's MTU
 * unless <mtu> says otherwise, and is up. Refused when the bridge or one of
 * its ports has the guest's or the host side's MAC. Its ifindex (nothing
 * left when this fails).
 */
export async function makeBridged(c: CniConfig, hostNs: string | undefined, name: string, guestMac: string, vnetHdr: boolean, queues: number): Promise<number> {
  const bridge = c.iface.source.bridge as string;
  const br = await bridgeLink(bridge, hostNs);
  const hostMac = tapHostMac(guestMac);
  // As a domain's bridged tap is checked (netdev/bridge.ts checkBridge): the bridge and its ports.
  const user = macUser(
    (await listLinks({ netns: hostNs })).filter((l) => l.index === br.index || l.master === br.index),
    [guestMac, hostMac],
  );
  if (user) throw new NetfdError(`MAC ${user.mac} is already used by ${user.name} on bridge ${bridge}; give another mac`, { code: 'EADDRINUSE', field: 'mac', value: guestMac });
  const index = await makeTap(hostNs, name, vnetHdr, queues);
  try {
    await setLink(index, { netns: hostNs, mac: hostMac, mtu: c.iface.mtu ?? br.mtu, master: br.index, up: true });
    return index;
  } catch (e) {
    await deleteLink(index, { netns: hostNs }).catch((x: unknown) => suppress(e, x, `deleting ${name}`));
    throw e;
  }
}

/**
 * The guest's MAC: the configuration's, else a new 52:54:00 one, as libvirt
 * gives it, that no link of `links` (the agent's namespace) has as its own
 * or as the host MAC its tap would get: the bridge check or the kernel
 * would refuse that one (EADDRINUSE). `random`: crypto's, or a test's.
 */
export const guestMacOf = (c: Pick<CniConfig, 'iface'>, links: readonly LinkInfo[], random: (n: number) => Uint8Array = crypto.randomBytes): string =>
  c.iface.mac ?? freshMac(random, macTakenBy(links), 'CNI ADD');

/**
 * How a call of `command` finds runtimeConfig.deviceID's netdev (a device
 * plugin's VF, the macvtap's master) under `sysfsRoot`: ADD and CHECK need
 * it (ENODEV naming the deviceID); STATUS says 50 without it; DEL and GC
 * use nothing of the device, so a VF gone since gets a stand-in name there.
 */
export function deviceMaster(sysfsRoot: string | undefined, command: CniCommand): (deviceID: string) => string {
  return (id) => {
    try {
      return pciNetdev(id, { sysfsRoot, field: 'runtimeConfig.deviceID' });
    } catch (e) {
      if (command === 'DEL' || command === 'GC') return 'netfd-novf';
      if (command === 'STATUS') throw new CniError(CNI_CODES.NOT_AVAILABLE, (e as Error).message, "a deviceID attachment needs the VF's network device on the node");
      throw e;
    }
  };
}
