// <interface type='direct'> (and type='network' on a pool device), as
// libvirt's qemuInterfaceDirectConnect: a macvtap netfd creates on the
// source device, in its mode, with the guest's MAC; and its link following
// the vCPUs (qemuInterfaceStartDevices / qemuInterfaceStopDevices).
import path from 'node:path';
import { NetfdError } from '../errors';
import { FdSet } from '../sys/fds';
import { createMacvtap, MacvtapFds } from '../sys/macvtap';
import { getLink, LinkInfo, netnsOf, setLink } from '../sys/link';
import type { InterfacePlan } from '../policy';
import { withDomainLock } from '../state/lock';
import type { InterfaceDef } from '../xml/domain';
import { applyHostConfig, noqueueBeforeUp } from './hostconfig';
import { checkNameFree, closingOnError, ConnectContext, Connected, DomainHostOptions, fieldError, macUser, warnOf, withNameRetry } from './connect';
import { readLive, recordedLinks } from './live';

/**
 * Preflight of a macvtap interface: its exact name is free, the parent
 * exists; passthrough needs the parent to itself, the other modes a guest
 * MAC no sibling or the parent has.
 */
export function checkDirect(p: InterfacePlan, byName: ReadonlyMap<string, LinkInfo>, links: readonly LinkInfo[]): void {
  const link = p.link;
  if (link.kind !== 'macvtap') throw new TypeError(`checkDirect: ${p.path} is not a macvtap`);
  checkNameFree(p, byName);
  const field = `${p.path}/source/@dev`;
  const parent = byName.get(link.parent);
  if (!parent) throw fieldError('ENODEV', field, link.parent, `device ${link.parent} does not exist`);
  const siblings = links.filter((l) => l.parent === parent.index && (l.kind === 'macvtap' || l.kind === 'macvlan'));
  if (link.mode === 'passthru') {
    if (siblings.length) throw fieldError('EBUSY', field, link.parent, `passthrough mode needs ${link.parent} to itself, but ${siblings.map((l) => l.name).join(', ')} already use it`);
  } else {
    const user = macUser([parent, ...siblings], [p.mac]);
    if (user) throw fieldError('EADDRINUSE', `${p.path}/mac/@address`, p.mac, `MAC ${p.mac} is already used by ${user.name} on ${parent.name}; give the interface another <mac address>`);
  }
}

/**
 * type='direct': the macvtap created (in the domain's link group), set up
 * (or left down with `macvtapsDown`), configured, then its queues opened.
 * The link is recorded in `ctx.tx`; the fds are closed here on failure.
 */
export async function connectDirect(plan: InterfacePlan, ctx: ConnectContext): Promise<Connected> {
  const link = plan.link;
  if (link.kind !== 'macvtap') throw new TypeError(`connectDirect: ${plan.path} is not a macvtap`);
  const { netns, o } = ctx;
  const passthru = link.mode === 'passthru';
  const info = await withNameRetry(link.name, () =>
    createMacvtap({
      netns,
      link: link.parent,
      mode: link.mode,
      ...(link.name.includes('%') ? { template: link.name } : { name: link.name }),
      ...(passthru ? {} : { mac: plan.mac }),
      ...(o.group !== undefined ? { group: o.group } : {}),
    }),
  );
  ctx.tx.link(info.index);
  const { name, index: ifindex } = info;
  await ctx.step('create', plan.index);
  // passthru: the macvtap takes the parent's MAC; setting the guest MAC
  // sets the parent's, and the kernel restores it when the macvtap goes.
  // Down until the vCPUs run when asked (libvirt creates it so: the
  // host would otherwise send from the guest's MAC before the guest runs).
  const qdiscSet = await noqueueBeforeUp(plan, { index: ifindex, name }, netns, warnOf(o));
  await setLink(ifindex, { netns, up: o.macvtapsDown !== true, ...(passthru ? { mac: plan.mac } : {}), ...(plan.host.mtu !== undefined ? { mtu: plan.host.mtu } : {}) });
  await applyHostConfig(plan, { index: ifindex, name }, netns, warnOf(o), o.tc, qdiscSet);
  await ctx.step('configure', plan.index);
  const fds = new FdSet((await MacvtapFds.open(ifindex, { netns, queues: plan.queues, vnetHdr: plan.vnetHdr })).releaseFds());
  return closingOnError(fds, async () => {
    await ctx.step('open', plan.index);
    return { name, ifindex, kind: 'macvtap' as const, fds };
  });
}

export interface LinkFollowOptions extends DomainHostOptions {
  /** Which parent devices a start may set up: 'all' (default, as libvirt) or only a passthrough macvtap's own. */
  parents?: 'all' | 'passthrough' | undefined;
}

/** The macvtap netfd made for a live interface, and the device it sits on (passthru: its own to take down). */
function macvtapOf(i: InterfaceDef): { dev: string; parent: string; passthru: boolean } | null {
  const dev = i.target?.dev;
  if (!dev || !i.target?.managed) return null;
  if (i.type === 'direct' && i.source.dev) return { dev, parent: i.source.dev, passthru: i.source.mode === 'passthrough' };
  if (i.type === 'network' && i.actual) return { dev, parent: i.actual.dev, passthru: i.actual.mode === 'passthrough' };
  return null;
}

const gone = (e: unknown) => (e as NetfdError).code === 'ENODEV' || (e as NetfdError).code === 'ENOENT';

/**
 * libvirt's qemuInterfaceStartDevices / qemuInterfaceStopDevices for the
 * macvtaps netfd made (type='direct', and type='network' on a pool device):
 * `running` sets the parent device up when it is down, then the macvtap up;
 * otherwise the macvtap goes down, and in passthrough mode its parent too
 * (it carries the guest's MAC). Only links still recorded as netfd's (same
 * kind, and group or MAC) are touched; taps, managed='no' devices and links
 * gone meanwhile are left alone. With `parents: 'passthrough'` (the agent,
 * acting for a user) a shared parent that is down is left down: only a
 * passthrough macvtap's own device is set. Returns the macvtaps set.
 */
export async function setInterfaceLinks(ifaces: readonly InterfaceDef[], running: boolean, o: LinkFollowOptions = {}): Promise<string[]> {
  const netns = netnsOf(o);
  const mine = ifaces.filter((i) => macvtapOf(i) !== null);
  const found = await recordedLinks(mine, netns, o.group);
  const done: string[] = [];
  for (const i of mine) {
    const m = macvtapOf(i) as { dev: string; parent: string; passthru: boolean };
    const index = found.indexes[found.deleted.indexOf(m.dev)];
    if (index === undefined) continue;
    try {
      if (running) {
        // Not when it is up already: a needless change can blip the device.
        const parent = m.passthru || o.parents !== 'passthrough' ? await getLink(m.parent, { netns }).catch((e) => (gone(e) ? null : Promise.reject(e))) : null;
        if (parent && !parent.up) await setLink(parent.index, { netns, up: true });
        await setLink(index, { netns, up: true });
      } else {
        await setLink(index, { netns, up: false });
        if (m.passthru) await setLink(m.parent, { netns, up: false });
      }
      done.push(m.dev);
    } catch (e) {
      if (!gone(e)) throw e; // detached meanwhile
    }
  }
  return done;
}

/**
 * setInterfaceLinks over the live XML at `livePath`: at once (a lock holder,
 * such as a detach waiting for the guest, must not hold back a paused
 * guest's links), then again under the domain lock for what an attach
 * running meanwhile added. Nothing when the domain is gone.
 */
export async function followLiveXml(livePath: string, running: boolean, o: LinkFollowOptions): Promise<void> {
  const first = readLive(livePath);
  if (!first) return;
  const done = new Set(await setInterfaceLinks(first.def.interfaces, running, o));
  await withDomainLock(path.dirname(livePath), first.def.name, async () => {
    const now = readLive(livePath);
    if (now)
      await setInterfaceLinks(
        now.def.interfaces.filter((i) => !done.has(i.target?.dev ?? '')),
        running,
        o,
      );
  });
}
