// Single links, one at a time, as the CLI's device verbs make and change
// them (`netfd tap create`, `macvtap create`, `link show|set|delete`):
// netdev/ is the only layer that changes the host, so the CLI comes here
// rather than to sys/. Each is one kernel request; nothing to undo.
import { createMacvtap as createMacvtapLink, MacvtapCreateOptions } from '../sys/macvtap';
import { deleteLink as deleteSysLink, getLink as getSysLink, LinkChanges, LinkInfo, listLinks as listSysLinks, setLink as setSysLink, Target } from '../sys/link';
import { Tap, TapOptions } from '../sys/tap';

export type { LinkInfo, LinkChanges, MacvtapCreateOptions, TapOptions, Target };

/** A tap made to outlive this process. */
export interface PersistentTap {
  name: string;
  ifindex: number;
  /** The queues it has (its fds are closed: qemu opens them by name). */
  queues: number;
}

/**
 * Creates a persistent tap and closes its fds: the device stays for whoever opens it next.
 * Equivalent to `ip tuntap add mode tap name NAME [multi_queue] [vnet_hdr]`.
 */
export async function createPersistentTap(o: Omit<TapOptions, 'persist'>): Promise<PersistentTap> {
  const tap = await Tap.create({ ...o, persist: true });
  const queues = tap.fds.length;
  tap.close();
  return { name: tap.name, ifindex: tap.ifindex, queues };
}

/** `ip link add link LINK name NAME type macvtap mode MODE` */
export const createMacvtap = (o: MacvtapCreateOptions): Promise<LinkInfo> => createMacvtapLink(o);

/** `ip -d link show dev LINK` */
export const getLink = (link: string | number, t: Target = {}): Promise<LinkInfo> => getSysLink(link, t);

/** `ip -d link show` */
export const listLinks = (t: Target = {}): Promise<LinkInfo[]> => listSysLinks(t);

/** `ip link set dev LINK [up|down] [address MAC] [master BR|nomaster] …` */
export const setLink = (link: string | number, c: LinkChanges): Promise<void> => setSysLink(link, c);

/** `ip link delete dev LINK` */
export const deleteLink = (link: string | number, t: Target = {}): Promise<void> => deleteSysLink(link, t);
