// Undoing on the host what a process that died half way left behind: the
// devices a setup cut short made (found by link group, by kernel identity,
// not by a name or a MAC the holder of an fd can change), and a network
// connection's pool device given its own MAC back. lib/network/ decides which
// connections are dead (lib/network/ledger.ts); the host changes are here.
import type { Connection } from '../network/ledger';
import type { ConnectionUndo } from '../network/store';
import { deleteGroup, deleteLinks, getLink, LinkInfo, listLinks, setLink } from '../sys/link';

/** Which links a setup cut short left behind. */
export interface HalfMadeQuery {
  /** The namespace the links are in (default: this process's). */
  netns?: string | undefined;
  /** The link group the setup created its devices in: only links of that group. */
  group?: number | undefined;
  /**
   * Only macvtaps on this device (by name; none when it does not exist).
   * Without a `group`, those with MAC `mac` (all of them when `mac` is null:
   * a passthrough device carries one guest at a time).
   */
  parent?: string | undefined;
  mac?: string | null | undefined;
  /** Links to leave alone (ifindexes a live XML records). */
  keep?: ReadonlySet<number> | undefined;
}

/**
 * The links of `links` that a setup cut short left behind, as `q` describes
 * them. Pure: the one search both the agent's recovery and a network's
 * reclaim use.
 */
export function halfMadeLinks(links: readonly LinkInfo[], q: HalfMadeQuery): LinkInfo[] {
  let parent: number | undefined;
  if (q.parent !== undefined) {
    const p = links.find((l) => l.name === q.parent);
    if (!p) return [];
    parent = p.index;
  }
  return links.filter((l) => {
    if (q.keep?.has(l.index)) return false;
    if (parent !== undefined && (l.kind !== 'macvtap' || l.parent !== parent)) return false;
    if (q.group !== undefined) return l.group === q.group;
    return parent !== undefined && (q.mac === null || l.mac === q.mac);
  });
}

/**
 * Deletes the links a setup cut short left behind (`halfMadeLinks` over the
 * namespace's links now), together; returns those deleted. Equivalent to
 * `ip link del` of each.
 */
export async function removeHalfMade(q: HalfMadeQuery): Promise<LinkInfo[]> {
  const left = halfMadeLinks(await listLinks({ netns: q.netns }), q);
  if (left.length)
    await deleteLinks(
      left.map((l) => l.index),
      { netns: q.netns },
    );
  return left;
}

/**
 * Deletes every link of link group `group` in `netns`: the devices of one
 * agent domain, found by the group they were made in, whatever name, MAC,
 * owner or persist flag the holder of their fds gave them since. Returns
 * whether there was any.
 */
export async function removeGroup(group: number, netns?: string): Promise<boolean> {
  return deleteGroup(group, { netns });
}

/**
 * Undoes a dead process's network connection: the macvtaps it made on the
 * pool device deleted (with a recorded group, exactly the links made for
 * that domain, whatever their MAC is now; else, as before groups, by MAC),
 * the device's saved MAC restored. What happens, or fails, is a warning.
 */
export async function reclaimConnection(c: Connection, warnings: string[]): Promise<void> {
  try {
    const left = await removeHalfMade({ netns: c.netns, parent: c.dev, group: c.group, mac: c.saved ? null : c.mac });
    warnings.push(
      `reclaimed the connection of ${c.domain} (${c.mac}) on ${c.dev}: process ${c.pid} died before the domain was recorded${left.length ? `; deleted ${left.map((l) => l.name).join(', ')}` : ''}`,
    );
  } catch (e) {
    warnings.push(`reclaiming the connection of ${c.domain} (${c.mac}) on ${c.dev}: ${(e as Error).message}`);
  }
  await restoreMac(c, warnings);
}

/** Gives a passthrough device its saved MAC back (if it still has another); a failure is a warning. */
export async function restoreMac(c: Connection, warnings: string[]): Promise<void> {
  if (!c.saved) return;
  try {
    const l = await getLink(c.dev, { netns: c.netns });
    if (l.mac !== c.saved.mac) await setLink(l.index, { netns: c.netns, mac: c.saved.mac });
  } catch (e) {
    warnings.push(`could not restore MAC ${c.saved.mac} on ${c.dev}: ${(e as Error).message}`);
  }
}

/** The host half of a network's connections, for `NetworkStore`. */
export const connectionUndo: ConnectionUndo = { reclaim: reclaimConnection, restore: restoreMac };
