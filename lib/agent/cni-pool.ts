// CNI attachments of type='network' (cni.ts): a device of the network's
// pool, allocated in its ledger as any domain's connection is, for a macvtap
// in the pod in the network's forward mode. The ledger's owner is a domain
// named after the attachment (`cni-` and the 12 hex digits of hostTapName's
// hash) in the caller's CNI directory, whose live XML records the
// connection (<actual type='direct'>), as a domain's does; so the
// connection holds while that file does, after the agent is gone too, and a
// net-destroy is refused while it does. Steps, each recorded before the
// next: the record names the owner and the MAC; the ledger entry (held
// while this agent runs); the live XML; then the macvtap. Removal undoes
// them in the reverse order, and DEL finds what a crash left at any step.
import fs from 'node:fs';
import { Networks } from '../netdev/networks';
import { liveXmlPath } from '../state/dirs';
import { replaceFileAtomic } from '../state/atomic';
import { pickDevice } from '../policy/pool';
import { attachmentHash } from './cni-device';
import type { CniRecord, CniStore } from './cni-store';
import type { Context } from './context';
import type { AgentLogger } from './options';

/** The ledger's owner of an attachment's connection: its domain name and scope (the caller's CNI directory). */
export function poolOwner(store: CniStore, uid: number, containerId: string, ifname: string): { domain: string; scope: string } {
  return { domain: `cni-${attachmentHash(uid, containerId, ifname)}`, scope: store.scope(uid) };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;');

/** The live XML that records the connection (what refsOf reads: the domain's name, the interface's network, MAC and actual device). */
export function poolLiveXml(domain: string, network: string, mac: string, dev: string, mode: string): string {
  return (
    `<domain type='kvm'>\n  <name>${esc(domain)}</name>\n  <memory unit='MiB'>0</memory>\n  <devices>\n` +
    `    <interface type='network'>\n      <mac address='${esc(mac)}'/>\n      <source network='${esc(network)}'/>\n` +
    `      <actual type='direct'>\n        <source dev='${esc(dev)}' mode='${esc(mode)}'/>\n      </actual>\n    </interface>\n  </devices>\n</domain>\n`
  );
}

/** The networks as the agent's domains see them. */
const networks = (ctx: Pick<Context, 'records'>) => new Networks(ctx.records.host());

/**
 * A device of the record's network for its MAC: the ledger entry, then the
 * live XML; the record updated with the device and the mode (its parent).
 */
export async function allocatePool(ctx: Pick<Context, 'records'>, store: CniStore, r: CniRecord, log: AgentLogger): Promise<{ dev: string; mode: string }> {
  const p = r.pool as NonNullable<CniRecord['pool']>;
  const a = await networks(ctx).allocate(p.network, { ...p.owner, mac: p.mac, netns: ctx.records.host().netns });
  for (const w of a.warnings) log.warn({ network: p.network, warning: w }, 'CNI network allocation');
  replaceFileAtomic(liveXmlPath(p.owner.scope, p.owner.domain), poolLiveXml(p.owner.domain, p.network, p.mac, a.dev, a.mode));
  r.parent = a.dev;
  r.mode = a.mode;
  store.update(r);
  return { dev: a.dev, mode: a.mode };
}

/** Gives the record's pool device back (a passthrough device's MAC restored) and removes the live XML; nothing allocated is fine. */
export async function releasePool(ctx: Pick<Context, 'records'>, r: CniRecord, log: AgentLogger): Promise<void> {
  const p = r.pool;
  if (!p) return;
  const { warnings } = await networks(ctx).release(p.network, { ...p.owner, mac: p.mac });
  for (const w of warnings) log.warn({ network: p.network, warning: w }, 'CNI network release');
  fs.rmSync(liveXmlPath(p.owner.scope, p.owner.domain), { force: true });
}

/** STATUS of a network attachment: the network is active and one more connection would get a device (else NO_DEVICE or NETWORK_INACTIVE, naming it). */
export async function poolStatus(ctx: Pick<Context, 'records'>, network: string): Promise<void> {
  const s = await networks(ctx).status(network);
  pickDevice(
    network,
    s.xml.def.mode,
    s.pool.filter((d) => !d.outside),
  );
}
