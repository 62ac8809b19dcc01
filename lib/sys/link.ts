// Links over rtnetlink. Each function names its iproute2 equivalent.
import { call } from '../errors';
import { native, NativeLink, NativeWhere } from './native';
import { NetnsHandle } from './netns';
import * as v from '../validate';

/**
 * Where an operation acts: `netns`, a name under /run/netns or a path such as /proc/PID/ns/net
 * (default: this process's namespace). Every option type extends it.
 */
export interface Target {
  /** Network namespace: a name under /run/netns or a path like /proc/PID/ns/net. */
  netns?: string | undefined;
}

/**
 * Where a link operation acts: a Target, or an open NetnsHandle as `netns`, whose socket the
 * operation reuses instead of opening one in the namespace.
 */
export interface LinkTarget {
  netns?: string | NetnsHandle | undefined;
}

/** A tap's or tun's settings, for links of kind tun. */
export interface TunDetails {
  type: 'tun' | 'tap' | null;
  pi: boolean | null;
  vnetHdr: boolean | null;
  persist: boolean | null;
  multiQueue: boolean | null;
  numQueues: number | null;
  owner: number | null;
  group: number | null;
}

/** Bridge settings of a link of kind 'bridge' (`ip -d -j link show`: linkinfo.info_data). */
export interface BridgeDetails {
  /** IFLA_BR_VLAN_FILTERING (`ip link add BR type bridge vlan_filtering 1`). */
  vlanFiltering: boolean;
}

/** A link as netfd reports it (`ip -d -j link show`). */
export interface LinkInfo {
  index: number;
  name: string;
  kind: string | null;
  /** macvlan/macvtap mode name, null for other kinds. */
  mode: v.MacvlanMode | 'source' | null;
  parent: number | null;
  master: number | null;
  mac: string | null;
  mtu: number;
  flags: number;
  up: boolean;
  lowerUp: boolean;
  group: number | null;
  numTxQueues: number | null;
  numRxQueues: number | null;
  linkNetnsId: number | null;
  tun: TunDetails | null;
  /**
   * For kind 'bridge' its settings, else null. getLink/listLinks always set
   * it; optional only so that hand-written LinkInfo values stay valid.
   */
  bridge?: BridgeDetails | null;
}

const bool = (x: number | null): boolean | null => (x === null ? null : x !== 0);

export function modeName(n: number | null): LinkInfo['mode'] {
  if (n === null) return null;
  const modes = native().constants.macvlanModes;
  for (const [name, value] of Object.entries(modes)) if (value === n) return name as LinkInfo['mode'];
  return null;
}

export function toLinkInfo(l: NativeLink): LinkInfo {
  return {
    index: l.index,
    name: l.name,
    kind: l.kind,
    mode: l.kind === 'macvtap' || l.kind === 'macvlan' ? modeName(l.macvlanMode) : null,
    parent: l.parent,
    master: l.master,
    mac: l.mac,
    mtu: l.mtu,
    flags: l.flags,
    up: l.up,
    lowerUp: l.lowerUp,
    group: l.group,
    numTxQueues: l.numTxQueues,
    numRxQueues: l.numRxQueues,
    linkNetnsId: l.linkNetnsId,
    tun: l.tun
      ? {
          type: l.tun.type === native().constants.tunFeatures.IFF_TAP ? 'tap' : l.tun.type === native().constants.tunFeatures.IFF_TUN ? 'tun' : null,
          pi: bool(l.tun.pi),
          vnetHdr: bool(l.tun.vnetHdr),
          persist: bool(l.tun.persist),
          multiQueue: bool(l.tun.multiQueue),
          numQueues: l.tun.numQueues,
          owner: l.tun.owner,
          group: l.tun.group,
        }
      : null,
    bridge: l.kind === 'bridge' ? { vlanFiltering: l.bridgeVlanFiltering === true } : null,
  };
}

/** The namespace of `t` as a name or path (a handle's own), or undefined for this process's. */
export function netnsOf(t: LinkTarget): string | undefined {
  if (t.netns instanceof NetnsHandle) return t.netns.netns;
  return t.netns === undefined ? undefined : v.netns(t.netns);
}

/** Where a link operation runs: the handle of `t` when it has one, else its namespace (a socket per call). */
export function whereOf(t: LinkTarget): NativeWhere {
  return t.netns instanceof NetnsHandle ? { handle: t.netns.native } : { netns: netnsOf(t) };
}

/** `ip -d link show dev LINK` */
export async function getLink(link: string | number, t: LinkTarget = {}): Promise<LinkInfo> {
  const ref = v.linkRef(link);
  return toLinkInfo(await call(native().getLink({ ...whereOf(t), link: ref })));
}

/** `ip -d link show` */
export async function listLinks(t: LinkTarget = {}): Promise<LinkInfo[]> {
  return (await call(native().listLinks(whereOf(t)))).map(toLinkInfo);
}

/** The link groups in use (each once): what `listLinks` says of `group`, at a fraction of its cost. */
export async function linkGroups(t: LinkTarget = {}): Promise<number[]> {
  return call(native().linkGroups(whereOf(t)));
}

/** `ip link delete dev LINK` */
export async function deleteLink(link: string | number, t: LinkTarget = {}): Promise<void> {
  const ref = v.linkRef(link);
  await call(native().deleteLink({ ...whereOf(t), link: ref }));
}

/** Where {@link deleteLinks} works, and through which group. */
export interface DeleteLinksTarget extends LinkTarget {
  /**
   * The link group the links are moved into before the group is deleted:
   * one the caller finds them by after a crash (a domain's of those deleted),
   * so a process killed between the move and the delete leaves none where
   * nobody looks. Every link already in it must be one of those deleted
   * (else EBUSY, nothing changed). Default: a fresh group no link uses.
   */
  via?: number | undefined;
}

/**
 * Deletes several links so the kernel unregisters them together (about as
 * fast as one): `ip link set dev X group G` for each, then
 * `ip link delete group G` (G: `t.via`, else a group no other link uses).
 * Links that are already gone count as deleted.
 */
export async function deleteLinks(indexes: number[], t: DeleteLinksTarget = {}): Promise<{ deleted: number; grouped: boolean }> {
  indexes.forEach((i, n) => v.linkRef(i, `indexes[${n}]`));
  return call(native().deleteLinks({ ...whereOf(t), indexes, ...(t.via !== undefined ? { via: v.linkGroup(t.via, 'via') } : {}) }));
}

/**
 * `ip link delete group G`: every link of the group, unregistered together.
 * False when no link has the group.
 */
export async function deleteGroup(group: number, t: LinkTarget = {}): Promise<boolean> {
  return call(native().deleteGroup({ ...whereOf(t), group: v.linkGroup(group) }));
}

/** What `setLink` changes (`ip link set dev LINK …`); fields left out stay as they are. */
export interface LinkChanges extends LinkTarget {
  /** `ip link set dev LINK up|down` */
  up?: boolean | undefined;
  /** `ip link set dev LINK address MAC` */
  mac?: string | undefined;
  /** `ip link set dev LINK master BR`; null: `nomaster` */
  master?: string | number | null | undefined;
  /** `ip link set dev LINK group G` */
  group?: number | undefined;
  /** `ip link set dev LINK mtu N` (IFLA_MTU): 68 to 65535; the driver may allow less. */
  mtu?: number | undefined;
}

/** `ip link set dev LINK [up|down] [address MAC] [master BR|nomaster] [group G] [mtu N]` */
export async function setLink(link: string | number, c: LinkChanges): Promise<void> {
  const ref = v.linkRef(link);
  const req: Parameters<ReturnType<typeof native>['setLink']>[0] = { ...whereOf(c), link: ref };
  if (c.up !== undefined) req.up = c.up;
  if (c.mac !== undefined) req.mac = v.mac(c.mac);
  if (c.master !== undefined) req.master = c.master === null ? null : v.linkRef(c.master, 'master');
  if (c.group !== undefined) req.group = v.linkGroup(c.group);
  if (c.mtu !== undefined) req.mtu = v.mtu(c.mtu);
  await call(native().setLink(req));
}

/** `ip link set dev LINK up` */
export const linkUp = (link: string | number, t: LinkTarget = {}) => setLink(link, { ...t, up: true });
/** `ip link set dev LINK down` */
export const linkDown = (link: string | number, t: LinkTarget = {}) => setLink(link, { ...t, up: false });
/** `ip link set dev LINK master BRIDGE` */
export const attachToBridge = (link: string | number, bridge: string | number, t: LinkTarget = {}) => setLink(link, { ...t, master: bridge });
/** `ip link set dev LINK nomaster` */
export const detachFromBridge = (link: string | number, t: LinkTarget = {}) => setLink(link, { ...t, master: null });
