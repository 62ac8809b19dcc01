// Bridge ports over rtnetlink (family AF_BRIDGE): port flags and VLAN
// entries. Each function names its iproute2 `bridge` equivalent.
import { call, NetfdError } from '../errors';
import { netnsOf, Target } from './link';
import { native, NativeLink } from './native';
import * as v from '../validate';

/** Bridge-port flags to change on a device in a bridge (`bridge link set dev X …`). */
export interface BridgePortChanges extends Target {
  /** `bridge link set dev PORT isolated on|off` (IFLA_BRPORT_ISOLATED): libvirt's `<port isolated='yes'/>`. */
  isolated?: boolean | undefined;
}

/**
 * `bridge link set dev PORT isolated on|off`: RTM_SETLINK of family
 * AF_BRIDGE with IFLA_PROTINFO (nested) holding IFLA_BRPORT_ISOLATED. The
 * link must be a port of a bridge (else EOPNOTSUPP from the kernel).
 */
export async function setBridgePort(link: string | number, c: BridgePortChanges): Promise<void> {
  const ref = v.linkRef(link);
  const req: Parameters<ReturnType<typeof native>['setBridgePort']>[0] = { netns: netnsOf(c), link: ref };
  if (c.isolated !== undefined) req.isolated = v.bool(c.isolated, 'isolated');
  await call(native().setBridgePort(req));
}

/** A bridge port's STP state. */
export type BridgePortState = 'disabled' | 'listening' | 'learning' | 'forwarding' | 'blocking';

/** One VLAN entry of a port (`bridge vlan show`). */
export interface BridgeVlan {
  vid: number;
  /** Untagged frames arriving on the port are put in this VLAN. */
  pvid: boolean;
  /** Frames of this VLAN leave the port untagged. */
  untagged: boolean;
}

/** A bridge port as `bridge -d link show` and `bridge vlan show` report it. */
export interface BridgePortInfo {
  index: number;
  name: string;
  /** The bridge's ifindex. */
  master: number | null;
  state: BridgePortState | null;
  learning: boolean | null;
  unicastFlood: boolean | null;
  isolated: boolean | null;
  /** Empty when the kernel filters no VLANs (CONFIG_BRIDGE_VLAN_FILTERING off, or none set). */
  vlans: BridgeVlan[];
}

const flag = (x: number | null): boolean | null => (x === null ? null : x !== 0);

function stateName(n: number | null): BridgePortState | null {
  if (n === null) return null;
  for (const [name, value] of Object.entries(native().constants.bridgePortStates)) if (value === n) return name as BridgePortState;
  return null;
}

function vlansOf(l: NativeLink): BridgeVlan[] {
  return (l.bridgePort?.vlans ?? []).map((x) => ({ vid: x.vid, pvid: x.pvid, untagged: x.untagged }));
}

function toPort(l: NativeLink): BridgePortInfo {
  const p = l.bridgePort!;
  return {
    index: l.index,
    name: l.name,
    master: l.master,
    state: stateName(p.state),
    learning: flag(p.learning),
    unicastFlood: flag(p.unicastFlood),
    isolated: flag(p.isolated),
    vlans: vlansOf(l),
  };
}

async function bridgeEntries(t: Target): Promise<NativeLink[]> {
  return call(native().listBridgePorts({ netns: netnsOf(t) }));
}

const matches = (ref: string | number) => (l: NativeLink) => (typeof ref === 'number' ? l.index === ref : l.name === ref);

/** `bridge -d link show`: every bridge port of the namespace. */
export async function listBridgePorts(t: Target = {}): Promise<BridgePortInfo[]> {
  return (await bridgeEntries(t)).filter((l) => l.bridgePort?.protinfo).map(toPort);
}

/** `bridge -d link show dev PORT`; NOT_BRIDGE_PORT when the link is no bridge's port. */
export async function getBridgePort(link: string | number, t: Target = {}): Promise<BridgePortInfo> {
  const ref = v.linkRef(link);
  const entry = (await bridgeEntries(t)).find((l) => l.bridgePort?.protinfo && matches(ref)(l));
  if (!entry) throw new NetfdError(`${ref} is not a bridge port: attach it with \`ip link set dev ${ref} master BRIDGE\` first`, { code: 'NOT_BRIDGE_PORT' });
  return toPort(entry);
}

/** A VLAN to add to a bridge port (`bridge vlan add dev X vid N [pvid] [untagged]`). */
export interface BridgeVlanOptions extends Target {
  /** 1 to 4094. */
  vid: number;
  /** `pvid`: untagged frames arriving on the port join this VLAN (BRIDGE_VLAN_INFO_PVID). */
  pvid?: boolean | undefined;
  /** `untagged`: frames of this VLAN leave the port untagged (BRIDGE_VLAN_INFO_UNTAGGED). */
  untagged?: boolean | undefined;
}

/**
 * `bridge vlan add dev PORT vid VID [pvid] [untagged]`: RTM_SETLINK of family
 * AF_BRIDGE, IFLA_AF_SPEC holding IFLA_BRIDGE_VLAN_INFO. The bridge needs
 * VLAN filtering compiled in (CONFIG_BRIDGE_VLAN_FILTERING), else EOPNOTSUPP.
 */
export async function addBridgeVlan(link: string | number, o: BridgeVlanOptions): Promise<void> {
  const ref = v.linkRef(link);
  const vid = v.vid(o.vid);
  const pvid = o.pvid === undefined ? false : v.bool(o.pvid, 'pvid');
  const untagged = o.untagged === undefined ? false : v.bool(o.untagged, 'untagged');
  await call(native().addBridgeVlan({ netns: netnsOf(o), link: ref, vid, pvid, untagged }));
}

/** `bridge vlan del dev PORT vid VID`: RTM_DELLINK of family AF_BRIDGE, IFLA_AF_SPEC / IFLA_BRIDGE_VLAN_INFO. */
export async function deleteBridgeVlan(link: string | number, o: Target & { vid: number }): Promise<void> {
  const ref = v.linkRef(link);
  await call(native().deleteBridgeVlan({ netns: netnsOf(o), link: ref, vid: v.vid(o.vid) }));
}

/**
 * `bridge vlan show dev LINK` (a port, or the bridge itself): RTM_GETLINK
 * dump of family AF_BRIDGE with IFLA_EXT_MASK RTEXT_FILTER_BRVLAN. Empty
 * when the link has none (or the kernel filters no VLANs).
 */
export async function listBridgeVlans(link: string | number, t: Target = {}): Promise<BridgeVlan[]> {
  const ref = v.linkRef(link);
  const entry = (await bridgeEntries(t)).find(matches(ref));
  return entry ? vlansOf(entry) : [];
}
