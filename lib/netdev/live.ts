// A domain's live (status) XML as the host side reads and writes it: what it
// records per interface, which recorded links are still netfd's, and the
// PCI addresses qemu gave.
import fs from 'node:fs';
import path from 'node:path';
import { getLink, LinkInfo } from '../sys/link';
import { tapHostMac } from '../policy';
import { replaceFileAtomic } from '../state/atomic';
import { withDomainLock } from '../state/lock';
import type { PciAddress } from '../xml/interface';
import { DomainXml, InterfaceDef, LiveInterface } from '../xml/domain';
import type { DriverDecision, InterfacePlan } from '../policy';

/**
 * A live XML as this process last wrote it, and its interfaces as teardown
 * reads them (liveInterfaces: the same targets, MACs, kinds and pool
 * devices; PCI addresses recorded since are not in them).
 */
export interface KnownLive {
  text: string;
  interfaces: readonly InterfaceDef[];
}

/**
 * The interfaces of live XML `text` for a teardown: `known`'s without
 * parsing when `text` is still `known.text`, else `text`'s parsed (an
 * attach or a detach since).
 */
export function liveInterfacesOf(text: string, known?: KnownLive): readonly InterfaceDef[] {
  return known && text === known.text ? known.interfaces : DomainXml.parse(text, { live: true }).def.interfaces;
}

/** The text of the live XML at `file`, or null when there is none. */
function liveText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The interfaces of the live XML at `file` for a teardown (liveInterfacesOf), or null when there is none. */
export function readLiveInterfaces(file: string, known?: KnownLive): readonly InterfaceDef[] | null {
  const text = liveText(file);
  return text === null ? null : liveInterfacesOf(text, known);
}

/** The live XML at `file`, or null when there is none. */
export function readLive(file: string): DomainXml | null {
  const text = liveText(file);
  return text === null ? null : DomainXml.parse(text, { live: true });
}

/**
 * Whether a generated guest MAC would meet a link of `links`: as its MAC, or
 * as the host MAC its tap would get (tapHostMac). Preflight refuses such a
 * MAC on the same bridge or parent (EADDRINUSE), so a generated one is drawn
 * again instead (domainMacs' `taken`): with 200 taps a 24-bit draw met one
 * about once in 80,000 prepares.
 */
export function macTakenBy(links: readonly LinkInfo[]): (mac: string) => boolean {
  const inUse = new Set<string>();
  for (const l of links) if (l.mac) inUse.add(l.mac.toLowerCase());
  return (mac) => inUse.has(mac) || inUse.has(tapHostMac(mac));
}

/** What the live XML records for a prepared interface. */
export function liveResult(p: { plan: InterfacePlan; decision: DriverDecision; name: string }): LiveInterface {
  const r: LiveInterface = { driver: p.decision.record, targetDev: p.name, mac: p.plan.mac, alias: p.plan.deviceId };
  if (p.plan.network) r.actual = { dev: p.plan.network.dev, mode: p.plan.network.mode };
  return r;
}

/**
 * The interfaces of the live XML that `results` make of `ifaces` (the
 * definition's, in order), as parsing that live XML gives them in what
 * teardown reads: type, MAC, target (dev, managed), actual, scripts,
 * source. For a caller that keeps them instead of reading the file again.
 */
export function liveInterfaces(ifaces: readonly InterfaceDef[], results: readonly LiveInterface[]): InterfaceDef[] {
  if (ifaces.length !== results.length) throw new Error(`liveInterfaces: ${results.length} results for ${ifaces.length} interfaces`);
  return ifaces.map((i, k) => {
    const r = results[k]!;
    const live: InterfaceDef = { ...i, mac: r.mac, alias: r.alias, target: { dev: r.targetDev, managed: i.target?.managed ?? true } };
    if (r.actual) live.actual = { ...r.actual };
    return live;
  });
}

/** The interfaces of a live XML whose device netfd created (a target dev it manages, a MAC, a pool device chosen). */
const created = (ifaces: readonly InterfaceDef[]) => ifaces.filter((i) => i.target?.dev && i.mac && !(i.type === 'network' && !i.actual) && !(i.target && !i.target.managed));

/**
 * The links of `links` recorded for `ifaces` (from live XML) that netfd
 * created and that are still what it recorded. With `group` (the link group
 * they were created in): a link of that name, kind and group, whatever its
 * MAC now. Without: a macvtap with the guest MAC, a tap with the host MAC
 * derived from it. Others (managed='no', impostors, gone) are skipped.
 */
export function recordedIn(ifaces: readonly InterfaceDef[], links: Iterable<LinkInfo>, group?: number): { indexes: number[]; deleted: string[]; skipped: string[] } {
  const byName = new Map<string, LinkInfo>();
  for (const l of links) byName.set(l.name, l);
  const indexes: number[] = [];
  const deleted: string[] = [];
  const skipped: string[] = [];
  for (const i of created(ifaces)) {
    const dev = i.target!.dev!;
    const l = byName.get(dev);
    const want = i.type === 'direct' || i.type === 'network' ? { kind: 'macvtap', mac: i.mac } : { kind: 'tun', mac: tapHostMac(i.mac!) };
    if (l && l.kind === want.kind && (group !== undefined ? l.group === group : l.mac === want.mac)) {
      indexes.push(l.index);
      deleted.push(dev);
    } else skipped.push(dev);
  }
  return { indexes, deleted, skipped };
}

/** recordedIn over a lookup of each recorded device in `netns` (no listing of the whole namespace). */
export async function recordedLinks(ifaces: readonly InterfaceDef[], netns: string | undefined, group?: number): Promise<{ indexes: number[]; deleted: string[]; skipped: string[] }> {
  const links: LinkInfo[] = [];
  for (const i of created(ifaces)) {
    const l = await getLink(i.target!.dev!, { netns }).catch(() => null);
    if (l) links.push(l);
  }
  return recordedIn(ifaces, links, group);
}

/**
 * Writes qemu's PCI addresses (by device id: the interface's alias, netN or
 * ua-…) into the live XML at `livePath` under the domain lock. Returns the
 * live XML written, or null when the domain is gone.
 */
export async function recordPciAddresses(livePath: string, addresses: ReadonlyMap<string, PciAddress>): Promise<string | null> {
  const before = readLive(livePath);
  if (!before) return null;
  return withDomainLock(path.dirname(livePath), before.def.name, async () => {
    const live = readLive(livePath);
    if (!live) return null;
    const rec = live.recorded().map((r) => {
      const a = addresses.get(r.alias);
      return a ? { ...r, pci: a } : r;
    });
    const text = live.live(rec);
    replaceFileAtomic(livePath, text);
    return text;
  });
}
