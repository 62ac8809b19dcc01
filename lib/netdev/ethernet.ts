// <interface type='ethernet'>, as libvirt's qemuInterfaceEthernetConnect: a
// tap netfd creates (from vnet%d or <target dev>), or with <target dev
// managed='no'/> an existing tap or macvtap, opened and never created or
// deleted. The tap creation is bridge.ts's too.
import { FdSet } from '../sys/fds';
import type { LinkInfo } from '../sys/link';
import { MacvtapFds } from '../sys/macvtap';
import { Tap } from '../sys/tap';
import type { InterfacePlan } from '../policy';
import { applyHostConfig, mtuFor, noqueueAtCreate, noqueueWarning } from './hostconfig';
import { checkNameFree, closingOnError, ConnectContext, Connected, downscript, fieldError, warnOf, withNameRetry } from './connect';

/**
 * Preflight of a type='ethernet' interface, before anything is made: a new
 * tap's exact name is free; a managed='no' device exists, is a tap or a
 * macvtap, and gives the queues asked. Returns the managed='no' device.
 */
export function checkEthernet(p: InterfacePlan, byName: ReadonlyMap<string, LinkInfo>): LinkInfo | undefined {
  const link = p.link;
  if (link.kind !== 'existing') {
    checkNameFree(p, byName);
    return undefined;
  }
  const dev = `${p.path}/target/@dev`;
  const l = byName.get(link.name);
  if (!l) throw fieldError('ENODEV', dev, link.name, `managed='no' but there is no link named ${link.name}; create the tap or macvtap first`);
  const isTap = l.kind === 'tun' && l.tun?.type === 'tap';
  if (!isTap && l.kind !== 'macvtap')
    throw fieldError('INVALID_ARGUMENT', dev, link.name, `${link.name} is a ${l.kind === 'tun' ? 'tun (layer 3) device' : (l.kind ?? 'plain link')}; managed='no' needs an existing tap or macvtap`);
  if (isTap && p.queues > 1 && !l.tun?.multiQueue)
    throw fieldError('INVALID_ARGUMENT', dev, link.name, `tap ${link.name} is not multi_queue, so it cannot give ${p.queues} queues; recreate it with multi_queue or drop <driver queues>`);
  return l;
}

/**
 * Creates a tap for `plan` (template names retried on a lost race), then
 * sets its host MAC, MTU, bridge (`bridge`), link group and up, and applies
 * the rest of its host settings. The link is recorded in `ctx.tx`; the
 * queue fds are closed here on any failure, else returned.
 */
export async function createTap(plan: InterfacePlan, ctx: ConnectContext, bridge?: LinkInfo): Promise<Connected> {
  const link = plan.link;
  if (link.kind !== 'tap') throw new TypeError(`createTap: ${plan.path} is not a tap`);
  const { netns, o } = ctx;
  const mtu = mtuFor(plan, bridge);
  // Made and set up in one native call: noqueue while it is down (unless
  // <bandwidth> sets the root qdisc), then host MAC, MTU, bridge, link group
  // and up in one RTM_SETLINK; a tap whose setup fails is gone with it.
  const qdiscSet = noqueueAtCreate(plan);
  const tap = await withNameRetry(link.name, () =>
    Tap.create({
      netns,
      ...(link.name.includes('%') ? { template: link.name } : { name: link.name }),
      queues: plan.queues,
      vnetHdr: plan.vnetHdr,
      exclusive: true,
      device: link.tunDevice,
      setup: { ...(qdiscSet ? { qdisc: 'noqueue' } : {}), mac: link.hostMac, mtu, master: link.bridge, group: o.group, up: true },
    }),
  );
  const fds = new FdSet(tap.releaseFds());
  ctx.tx.link(tap.ifindex);
  const { name, ifindex } = tap;
  if (tap.qdiscError) warnOf(o)(noqueueWarning(name, tap.qdiscError));
  return closingOnError(fds, async () => {
    await ctx.step('create', plan.index);
    await applyHostConfig(plan, { index: ifindex, name }, netns, warnOf(o), o.tc, qdiscSet);
    if (plan.host.script && plan.host.downscript) ctx.tx.after(downscript(plan.host.downscript, name, plan.path, warnOf(o)));
    await ctx.step('configure', plan.index);
    await ctx.step('open', plan.index);
    return { name, ifindex, kind: 'tap' as const, fds };
  });
}

/**
 * Opens the managed='no' device `l` (checked by checkEthernet): a macvtap's
 * queues (its MAC is the guest's, or becomes the generated one), or the
 * tap's by name. Nothing is created; should the tap have vanished and the
 * open made a new one, that one is recorded in `ctx.tx` and refused.
 */
async function openExisting(plan: InterfacePlan, ctx: ConnectContext, l: LinkInfo): Promise<Connected> {
  const { netns } = ctx;
  const link = plan.link;
  await ctx.step('create', plan.index);
  await ctx.step('configure', plan.index);
  let fds: FdSet;
  let kind: 'tap' | 'macvtap';
  if (l.kind === 'macvtap') {
    if (plan.macGenerated) plan.mac = l.mac ?? plan.mac;
    else if (l.mac !== plan.mac)
      throw fieldError('INVALID_ARGUMENT', `${plan.path}/mac/@address`, plan.mac, `macvtap ${l.name} has MAC ${l.mac}; the guest MAC must equal it or replies never reach the guest`);
    fds = new FdSet((await MacvtapFds.open(l.index, { netns, queues: plan.queues, vnetHdr: plan.vnetHdr })).releaseFds());
    kind = 'macvtap';
  } else {
    const tap = await Tap.create({
      netns,
      name: l.name,
      queues: plan.queues,
      multiQueue: l.tun?.multiQueue ?? false,
      vnetHdr: plan.vnetHdr,
      device: link.kind === 'existing' ? link.tunDevice : undefined,
    });
    fds = new FdSet(tap.releaseFds());
    kind = 'tap';
    // Opening by name would create a tap had the old one vanished since.
    if (tap.ifindex !== l.index) {
      ctx.tx.link(tap.ifindex);
      fds.close();
      throw fieldError('ENODEV', `${plan.path}/target/@dev`, l.name, `tap ${l.name} disappeared while netfd opened it`);
    }
  }
  return closingOnError(fds, async () => {
    await ctx.step('open', plan.index);
    return { name: l.name, ifindex: l.index, kind, fds };
  });
}

/** type='ethernet': a new tap, or the managed='no' device `existing` (from checkEthernet). */
export async function connectEthernet(plan: InterfacePlan, ctx: ConnectContext, existing: LinkInfo | undefined): Promise<Connected> {
  if (plan.link.kind === 'existing') return openExisting(plan, ctx, existing as LinkInfo);
  return createTap(plan, ctx);
}
