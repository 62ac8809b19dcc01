// <interface type='bridge'>, as libvirt's qemuInterfaceBridgeConnect: a tap
// netfd creates, attached to <source bridge='BR'/> (taking the bridge's MTU
// when <mtu> is absent), with its port settings and VLANs.
import type { LinkInfo } from '../sys/link';
import type { InterfacePlan } from '../policy';
import { checkNameFree, ConnectContext, Connected, fieldError, macUser } from './connect';
import { createTap } from './ethernet';

/**
 * Preflight of a type='bridge' interface: the tap's exact name is free, the
 * bridge exists and is one, no port of it has the guest's or the tap's MAC,
 * and it filters VLANs when <vlan> asks for them.
 */
export function checkBridge(p: InterfacePlan, byName: ReadonlyMap<string, LinkInfo>, links: readonly LinkInfo[]): void {
  const link = p.link;
  if (link.kind !== 'tap' || link.bridge === undefined) throw new TypeError(`checkBridge: ${p.path} is not a bridged tap`);
  checkNameFree(p, byName);
  const field = `${p.path}/source/@bridge`;
  const br = byName.get(link.bridge);
  if (!br) throw fieldError('ENODEV', field, link.bridge, `bridge ${link.bridge} does not exist (ip link add ${link.bridge} type bridge)`);
  if (br.kind !== 'bridge') throw fieldError('INVALID_ARGUMENT', field, link.bridge, `${link.bridge} is a ${br.kind ?? 'plain'} link, not a bridge`);
  const user = macUser([br, ...links.filter((l) => l.master === br.index)], [p.mac, link.hostMac]);
  if (user) throw fieldError('EADDRINUSE', `${p.path}/mac/@address`, p.mac, `MAC ${user.mac} is already used by ${user.name} on bridge ${br.name}; give the interface another <mac address>`);
  if (p.host.vlan && !br.bridge?.vlanFiltering)
    throw fieldError(
      'NOT_SUPPORTED',
      `${p.path}/vlan`,
      link.bridge,
      `bridge ${br.name} does not filter VLANs (ip link set ${br.name} type bridge vlan_filtering 1; this kernel may lack CONFIG_BRIDGE_VLAN_FILTERING), so <vlan> cannot be applied`,
    );
}

/** type='bridge': a tap created and attached to its bridge (see createTap). */
export async function connectBridge(plan: InterfacePlan, ctx: ConnectContext): Promise<Connected> {
  const bridge = plan.link.kind === 'tap' ? plan.link.bridge : undefined;
  return createTap(
    plan,
    ctx,
    ctx.links.find((l) => l.name === bridge),
  );
}
