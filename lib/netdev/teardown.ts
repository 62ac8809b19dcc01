// Tearing domains down from their live XML alone: one (teardownFromLive) or
// several together (teardownDomains). Deleting a link waits out the kernel's
// RCU grace period; links unregistered together (`ip link delete group G`)
// wait it out once, so several domains' links go in one group delete, and
// then each domain's downscripts, files and network connections follow.
import fs from 'node:fs';
import { deleteLinks, LinkInfo, listLinks, netnsOf } from '../sys/link';
import { inactiveXmlPath, liveXmlPath, stateDir } from '../state/dirs';
import { withDomainLock } from '../state/lock';
import { removeFile } from '../state/atomic';
import type { InterfaceDef } from '../xml/domain';
import { DomainHostOptions, downscript, warnOf } from './connect';
import { KnownLive, liveInterfacesOf, recordedIn } from './live';
import { releaseFor } from './network';

/** One domain to tear down: its name and its host options (namespace, scope, link group…). */
export interface TeardownItem {
  name: string;
  o: DomainHostOptions;
  /**
   * When the domain has no live XML: false (default) makes that its error
   * (ENOENT, as teardownFromLive); true deletes the links of `o.group`
   * alone (a domain whose prepare never wrote one) and nothing else.
   */
  liveOptional?: boolean | undefined;
  /**
   * Where the domain's live and inactive XML and its lock are, when not in
   * its scope (`o.scope`, default the state directory): a deletion queue's
   * journal. Network connections are still released as the scope's.
   */
  dir?: string | undefined;
  /**
   * False: no lock is taken, as `dir` is the caller's alone (the agent's
   * deletion queue, whose journal entries no other process uses). Default true.
   */
  lock?: boolean | undefined;
  /**
   * The interfaces of the domain's live XML, when the caller has them as it
   * wrote them (liveInterfaces): its live XML is then not read nor parsed,
   * only removed. Default: read from the live XML.
   */
  interfaces?: readonly InterfaceDef[] | undefined;
  /**
   * The live XML as the caller last wrote it, with its interfaces: when the
   * file still holds that text, it is not parsed again (liveInterfacesOf).
   */
  known?: KnownLive | undefined;
}

/** What became of one domain of {@link teardownDomains}, in the order given. */
export interface TeardownOutcome {
  name: string;
  /** The recorded links deleted (by name), and those left because they are not netfd's any more. */
  deleted: string[];
  skipped: string[];
  /** False when the domain had no live XML (liveOptional). */
  live: boolean;
  /** Set when something of this domain failed; its files stay when its links could not be deleted. */
  error?: Error;
}

/** A domain of a batch, locked, with what was read of it. */
interface Locked {
  item: TeardownItem;
  out: TeardownOutcome;
  netns: string | undefined;
  root: string;
  scope: string;
  dir: string;
  /** The live XML's interfaces; null when it has none (liveOptional). */
  ifaces: readonly InterfaceDef[] | null;
  indexes: number[];
}

/** Holds the lock of `items[k]` and of every later item (nested), then runs `body`; a lock not had is that domain's error. */
async function lockAll(items: { dir: string; name: string; out: TeardownOutcome; lock: boolean }[], k: number, held: number[], body: (held: number[]) => Promise<void>): Promise<void> {
  for (; k < items.length && !items[k].lock; k++) held.push(k);
  if (k === items.length) return body(held);
  const it = items[k];
  let entered = false;
  try {
    await withDomainLock(it.dir, it.name, async () => {
      entered = true;
      held.push(k);
      await lockAll(items, k + 1, held, body);
    });
  } catch (err) {
    if (entered) throw err;
    it.out.error = err as Error;
    await lockAll(items, k + 1, held, body);
  }
}

/**
 * Tears several domains down from their live XML as teardownFromLive does
 * each, with ONE kernel group delete for all their links (per namespace):
 * every domain's lock is held (taken in the order of their lock files; none
 * for an item with `lock: false`), the recorded links of all of them (and
 * with `o.group`, every other link of that group, as a half-made attach
 * leaves) are deleted together, then per
 * domain the downscripts run, the live and inactive XML go and its network
 * connections are released — only after its links are gone, so a pool
 * device is never handed out while its macvtap lives. Never rejects: each
 * domain's outcome says what was deleted or what failed, and one domain's
 * failure does not stop the others (when the group delete fails, each
 * domain's links are deleted on their own instead).
 */
export async function teardownDomains(items: readonly TeardownItem[]): Promise<TeardownOutcome[]> {
  const all = items.map((item) => {
    const root = stateDir(item.o.stateDir);
    const scope = item.o.scope ?? root;
    const dir = item.dir ?? scope;
    const out: TeardownOutcome = { name: item.name, deleted: [], skipped: [], live: true };
    return { item, out, root, scope, dir, name: item.name, netns: netnsOf(item.o), lock: item.lock !== false };
  });
  const order = [...all].sort((a, b) => (a.dir === b.dir ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.dir < b.dir ? -1 : 1));
  await lockAll(order, 0, [], async (held) => {
    const locked: Locked[] = [];
    for (const k of held) {
      const d = order[k];
      try {
        locked.push({ ...d, ifaces: d.item.interfaces ?? readLiveXml(d.item, liveXmlPath(d.dir, d.name)), indexes: [] });
      } catch (err) {
        d.out.error = err as Error;
      }
    }
    const byNetns = new Map<string | undefined, Locked[]>();
    for (const l of locked) byNetns.set(l.netns, [...(byNetns.get(l.netns) ?? []), l]);
    for (const [netns, group] of byNetns) await deleteTogether(netns, group);
    for (const l of locked) if (!l.out.error) await finish(l);
  });
  return all.map((d) => d.out);
}

/** The interfaces of a domain's live XML; null when there is none and that is allowed (else ENOENT). */
function readLiveXml(item: TeardownItem, file: string): readonly InterfaceDef[] | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (item.liveOptional && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return liveInterfacesOf(text, item.known);
}

/** Deletes the links of every domain of `batch` (one namespace) in one group delete; on failure, each domain's on its own. */
async function deleteTogether(netns: string | undefined, batch: Locked[]): Promise<void> {
  let links: LinkInfo[];
  try {
    links = await listLinks({ netns });
  } catch (err) {
    for (const l of batch) l.out.error = err as Error;
    return;
  }
  for (const l of batch) {
    const group = l.item.o.group;
    if (l.ifaces) {
      const found = recordedIn(l.ifaces, links, group);
      l.indexes = found.indexes;
      l.out.deleted = found.deleted;
      l.out.skipped = found.skipped;
    } else l.out.live = false;
    // Anything else of the domain's group (a half-made attach) goes too.
    if (group !== undefined) for (const x of links) if (x.group === group && !l.indexes.includes(x.index)) l.indexes.push(x.index);
  }
  const indexes = [...new Set(batch.flatMap((l) => l.indexes))];
  if (!indexes.length) return;
  // The links go through the group of a domain of the batch (all of its links
  // are among them): killed between the move and the delete, they are left in
  // a group that domain's next teardown deletes (its record or queue entry
  // stays until its links are gone), never in one nobody looks in.
  const via = batch.find((l) => l.item.o.group)?.item.o.group;
  try {
    await deleteLinks(indexes, { netns, via });
    return;
  } catch {
    // One domain's link may be what failed: each domain alone, so the others still go.
  }
  for (const l of batch) {
    if (!l.indexes.length) continue;
    try {
      await deleteLinks(l.indexes, { netns, via: l.item.o.group || undefined });
    } catch (err) {
      l.out.error = err as Error;
    }
  }
}

/** What follows a domain's links: its downscripts, its files, its network connections. */
async function finish(l: Locked): Promise<void> {
  const { item, out, ifaces } = l;
  if (!ifaces) return;
  try {
    for (const i of ifaces) if (i.downscript && i.target?.dev && i.target.managed) await downscript(i.downscript, i.target.dev, i.path, warnOf(item.o))();
    removeFile(liveXmlPath(l.dir, item.name));
    removeFile(inactiveXmlPath(l.dir, item.name));
    await releaseFor(item.name, ifaces, { ...item.o, stateDir: l.root, scope: l.scope });
  } catch (err) {
    out.error = err as Error;
  }
}

/**
 * Tears a domain down from its live XML alone (after a restart): deletes the
 * devices netfd created for it, when they are still the ones it recorded (same
 * kind and MAC; with `o.group`, same kind and group, and every other link of
 * the group too), and removes the live XML. Returns the links deleted.
 */
export async function teardownFromLive(name: string, o: DomainHostOptions = {}): Promise<{ deleted: string[]; skipped: string[] }> {
  const [r] = await teardownDomains([{ name, o }]);
  if (r.error) throw r.error;
  return { deleted: r.deleted, skipped: r.skipped };
}
