// Host setup for a domain's interfaces, as one transaction: everything is
// created and opened, or nothing is left behind. The driver decision and the
// vhost fds come first (vhost.ts), then one connect function per interface
// type (ethernet.ts, bridge.ts, direct.ts), all recorded in one undo log
// (tx.ts). What is returned is what was prepared — devices, fds, decisions;
// lib/qemu turns it into qemu's arguments.
import { randomBytes } from '../sys/random';
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError, suppress } from '../errors';
import { FdSet } from '../sys/fds';
import { deleteLinks, LinkInfo, listLinks, netnsOf } from '../sys/link';
import type { PciAddress } from '../xml/interface';
import { decideDriver, domainMacs, DriverDecision, InterfacePlan, planDomain, VhostProbe } from '../policy';
import { allocateFor, networksFor, releaseFor } from './network';
import { ActualDirect, DomainDef, DomainXml, InterfaceDef } from '../xml/domain';
import { inactiveXmlPath, liveXmlPath, stateDir } from '../state/dirs';
import { replaceFileAtomic, writeNewFileAtomic } from '../state/atomic';
import { withDomainLock } from '../state/lock';
import { ConnectContext, Connected, DomainHostOptions, downscript, fieldError, PrepareOptions, warnOf } from './connect';
import { checkEthernet, connectEthernet } from './ethernet';
import { checkBridge, connectBridge } from './bridge';
import { checkDirect, connectDirect, followLiveXml } from './direct';
import { KnownLive, liveInterfaces, liveResult, macTakenBy, readLiveInterfaces, recordedLinks, recordPciAddresses } from './live';
import type { TeardownItem } from './teardown';
import { Tx } from './tx';
import { openVhost } from './vhost';

/** One prepared interface: its plan and driver decision, the device, and the fds. */
export interface PreparedInterface {
  readonly plan: InterfacePlan;
  readonly decision: DriverDecision;
  /** The host device: tap or macvtap name and ifindex. */
  readonly name: string;
  readonly ifindex: number;
  readonly kind: 'tap' | 'macvtap';
  /** True when netfd created the device (teardown deletes it). */
  readonly created: boolean;
  /** Queue fds of the tap/macvtap and the vhost fds, owned until released. */
  readonly fds: FdSet;
  readonly vhostFds: FdSet;
}

/** A domain whose interfaces are ready on the host: devices up, fds open, live XML written. */
export class PreparedHost {
  readonly xml: DomainXml;
  readonly interfaces: readonly PreparedInterface[];
  readonly statePath: string;
  readonly netns: string | undefined;
  #liveXml: string;
  #torn = false;
  readonly #hostOptions: DomainHostOptions;

  /**
   * Made by {@link prepareHost}.
   * @internal
   */
  constructor(xml: DomainXml, interfaces: PreparedInterface[], liveXml: string, statePath: string, o: DomainHostOptions) {
    this.xml = xml;
    this.interfaces = interfaces;
    this.#liveXml = liveXml;
    this.statePath = statePath;
    this.netns = netnsOf(o);
    this.#hostOptions = o;
  }

  /** The live (status) XML as last written to `statePath` by this object (PCI addresses once recorded). */
  get liveXml(): string {
    return this.#liveXml;
  }

  /** The domain's `<name>`. */
  get name(): string {
    return this.xml.def.name;
  }

  /**
   * Brings the domain's macvtaps up (`running`: the vCPUs run) or down (they
   * are paused or stopped), as libvirt does around starting and stopping
   * the vCPUs: every macvtap netfd made that the live XML records now, so
   * interfaces attached since follow too. See `setInterfaceLinks`.
   */
  async setRunning(running: boolean): Promise<void> {
    await followLiveXml(this.statePath, running, this.#hostOptions);
  }

  /**
   * Records where qemu put each NIC (by qemu device id, from query-pci) in
   * the live XML as <address type='pci'>; interfaces without one keep what
   * they had. Returns the live XML written.
   */
  async recordAddresses(addresses: ReadonlyMap<string, PciAddress>): Promise<string> {
    const text = await recordPciAddresses(this.statePath, addresses);
    if (text !== null) this.#liveXml = text;
    return this.#liveXml;
  }

  /** Closes the fds netfd still owns (after qemu has its copies). */
  closeFds(): void {
    for (const i of this.interfaces) {
      i.fds.close();
      i.vhostFds.close();
    }
  }

  /**
   * Hands the domain's teardown to a batch (`teardownHosts`): what
   * `teardownDomains` needs of it, and the ifindexes of the links it created
   * (for when its live XML is gone); null when it was torn down already.
   * Its own `teardown()` does nothing from then on.
   * @internal
   */
  forBatch(): { item: TeardownItem; created: number[] } | null {
    if (this.#torn) return null;
    this.#torn = true;
    return { item: { name: this.name, o: this.#hostOptions, liveOptional: true, known: this.#known() }, created: this.interfaces.filter((i) => i.created).map((i) => i.ifindex) };
  }

  /** The live XML this object last wrote and its interfaces as teardown reads them: a teardown that finds the file unchanged does not parse it. */
  #known(): KnownLive {
    return { text: this.#liveXml, interfaces: liveInterfaces(this.xml.def.interfaces, this.interfaces.map(liveResult)) };
  }

  /**
   * Removes what setup created and nothing else: the created links (deleted
   * together), the fds still owned, the live XML. Devices given with
   * managed='no' are left as they were. The live XML decides what is still
   * there: interfaces detached since are skipped, interfaces attached since
   * are removed too (when still of the recorded kind and MAC). Safe to call
   * twice.
   */
  async teardown(): Promise<void> {
    if (this.#torn) return;
    this.#torn = true;
    const dir = path.dirname(this.statePath);
    await withDomainLock(dir, this.name, async () => {
      const tx = new Tx(this.netns);
      const live = readLiveInterfaces(this.statePath, this.#known());
      const liveDevs = live ? new Set(live.map((i) => i.target?.dev)) : null;
      for (const i of this.interfaces) {
        if (i.created && (!liveDevs || liveDevs.has(i.name))) tx.link(i.ifindex);
        tx.fds(i.fds, i.vhostFds);
      }
      if (live) {
        const mine = new Set(this.interfaces.map((i) => i.name));
        const found = await recordedLinks(
          live.filter((i) => !mine.has(i.target?.dev ?? '')),
          this.netns,
          this.#hostOptions.group,
        );
        for (const index of found.indexes) tx.link(index);
      }
      tx.file(this.statePath);
      tx.file(inactiveXmlPath(dir, this.name));
      for (const i of this.interfaces) if (i.created && i.plan.host.downscript) tx.after(downscript(i.plan.host.downscript, i.name, i.plan.path, warnOf(this.#hostOptions)));
      const errors = await tx.undo();
      // The connections end once the domain's live XML is gone (see lib/network/store.ts).
      const ifaces = live ?? this.interfaces.map((i) => ({ type: i.plan.network ? ('network' as const) : ('direct' as const), source: { network: i.plan.network?.name }, mac: i.plan.mac }));
      await releaseFor(this.name, ifaces, { ...this.#hostOptions, scope: dir }).catch((e) => errors.push(e));
      if (errors.length) throw errors[0];
    });
  }
}

/** A class made from what `prepareHost` or `prepareHosts` prepared (PreparedHost, or one extending it). */
export type PreparedHostClass<T extends PreparedHost> = new (...args: ConstructorParameters<typeof PreparedHost>) => T;

/**
 * Prepares every interface of a domain: vhost fds (per the driver policy),
 * tap or macvtap created (or an existing one opened), attached, up, queue fds
 * open; then writes the live XML atomically. On any failure everything done
 * so far is undone and the error is rethrown. `Kind` is the class of the
 * result (lib/qemu's PreparedDomain adds qemu's arguments).
 */
export async function prepareHost<T extends PreparedHost = PreparedHost>(
  input: string | DomainXml,
  o: PrepareOptions = {},
  Kind: PreparedHostClass<T> = PreparedHost as PreparedHostClass<T>,
): Promise<T> {
  const xml = typeof input === 'string' ? DomainXml.parse(input) : input;
  const def = xml.def;
  const netns = netnsOf(o);
  const root = stateDir(o.stateDir);
  const dir = o.scope ?? root;
  const statePath = liveXmlPath(dir, def.name);
  if (fs.existsSync(statePath)) throw fieldError('EEXIST', 'name', def.name, `domain ${def.name} is already prepared (live state ${statePath}); tear it down first`);
  // Generated MACs avoid the links' (listed first for that; preflight uses the same listing).
  let links = o.links;
  if (!o.macs && def.interfaces.some((i) => !i.mac)) links ??= await listLinks({ netns });
  const macs = o.macs ?? domainMacs(def, o.random ?? randomBytes, links && macTakenBy(links));
  const nets = await allocateFor(
    def.name,
    def.interfaces,
    macs.map((m) => m.mac),
    { ...o, stateDir: root, scope: dir },
  );
  let setup: InterfaceSetup;
  try {
    setup = await prepareInterfaces(planDomain(def, macs, nets.actuals, o.accel), { ...o, netns, links });
  } catch (err) {
    await nets.release().catch((e) => {
      suppress(err, e, 'releasing network devices');
    });
    throw err;
  }
  const tx = new Tx(netns);
  try {
    const prepared = setup.interfaces;
    const liveXml = xml.live(prepared.map(liveResult));
    // The live file marks the domain active (created exclusively); once it is
    // ours, the inactive copy beside it is too (a stale one is replaced).
    writeNewFileAtomic(statePath, liveXml);
    tx.file(statePath);
    if (o.inactiveXml !== false) {
      const inactivePath = inactiveXmlPath(dir, def.name);
      tx.file(inactivePath);
      replaceFileAtomic(inactivePath, xml.text);
    }
    await o.afterStep?.('state', -1);
    return new Kind(xml, prepared, liveXml, statePath, { ...o, stateDir: root, scope: dir });
  } catch (err) {
    const errors = await tx.undo();
    await setup.undo().catch((e) => errors.push(e));
    await nets.release().catch((e) => errors.push(e));
    if (errors.length) suppress(err, errors[0], 'undoing setup');
    throw err;
  }
}

/** Interfaces set up on the host, and how to undo exactly that. */
export interface InterfaceSetup {
  interfaces: PreparedInterface[];
  /** Deletes the links created, closes the fds still open. */
  undo(): Promise<void>;
}

/**
 * Looks at the host before changing anything, per interface type: names, bridges, parents, MACs. Returns the managed='no' devices by interface index.
 * @internal
 */
export function preflight(plans: InterfacePlan[], links: readonly LinkInfo[]): Map<number, LinkInfo> {
  const byName = new Map(links.map((l) => [l.name, l]));
  const existing = new Map<number, LinkInfo>();
  for (const p of plans) {
    if (p.link.kind === 'macvtap') checkDirect(p, byName, links);
    else if (p.link.kind === 'tap' && p.link.bridge !== undefined) checkBridge(p, byName, links);
    else {
      const l = checkEthernet(p, byName);
      if (l) existing.set(p.index, l);
    }
  }
  return existing;
}

/**
 * True when preflight must see the namespace's links: every plan but a new tap off any bridge with a template name.
 * @internal
 */
export const needsLinks = (plans: readonly InterfacePlan[]): boolean => plans.some((p) => p.link.kind !== 'tap' || p.link.bridge !== undefined || !p.link.name.includes('%'));

/**
 * The connect function of the interface's type.
 * @internal
 */
export function connect(plan: InterfacePlan, ctx: ConnectContext, existing: ReadonlyMap<number, LinkInfo>): Promise<Connected> {
  if (plan.link.kind === 'macvtap') return connectDirect(plan, ctx);
  if (plan.link.kind === 'tap' && plan.link.bridge !== undefined) return connectBridge(plan, ctx);
  return connectEthernet(plan, ctx, existing.get(plan.index));
}

/**
 * Sets up interfaces on the host (vhost probe and driver decision for all,
 * then per interface: device created or opened, configured, queue fds open),
 * after the preflight checks. On failure everything done is undone.
 */
export async function prepareInterfaces(plans: InterfacePlan[], o: PrepareOptions): Promise<InterfaceSetup> {
  const netns = netnsOf(o);
  const links = needsLinks(plans) ? (o.links ?? (await listLinks({ netns }))) : [];
  const existing = preflight(plans, links);

  const tx = new Tx(netns);
  const ctx: ConnectContext = { tx, netns, o, links, step: async (s, iface) => o.afterStep?.(s, iface) };
  try {
    // Phase 1: the driver decision for every interface, before any link exists.
    const decided: { plan: InterfacePlan; decision: DriverDecision; vhost: FdSet }[] = [];
    for (const plan of plans) {
      const { probe, fds } = await openVhost(plan, o.vhostDevice);
      tx.fds(fds);
      decided.push({ plan, decision: decideDriver(plan, probe), vhost: fds });
      await ctx.step('vhost', plan.index);
    }

    // Phase 2: the devices, one interface at a time.
    const prepared: PreparedInterface[] = [];
    for (const { plan, decision, vhost } of decided) {
      const c = await connect(plan, ctx, existing);
      tx.fds(c.fds);
      prepared.push({ plan, decision, name: c.name, ifindex: c.ifindex, kind: c.kind, created: plan.link.kind !== 'existing', fds: c.fds, vhostFds: vhost });
    }
    return {
      interfaces: prepared,
      undo: async () => {
        const errors = await tx.undo();
        if (errors.length) throw errors[0];
      },
    };
  } catch (err) {
    const errors = await tx.undo();
    if (errors.length) suppress(err, errors[0], 'undoing setup');
    throw err;
  }
}

/** A domain's interfaces as they would be on this host, with no change made. */
export interface InterfacesPreview {
  plans: InterfacePlan[];
  /** The vhost probe per interface (undefined where vhost was not wanted). */
  probes: (VhostProbe | undefined)[];
  decisions: DriverDecision[];
}

/** Options of `previewInterfaces` (and of previewDomain). */
export interface PreviewHostOptions extends DomainHostOptions {
  /** Random bytes for generated MACs (default crypto.randomBytes). */
  random?: ((n: number) => Uint8Array) | undefined;
}

/**
 * What `prepareInterfaces` would decide for a domain's interfaces, without
 * creating anything: a network's device is the one an allocation would give
 * now (nothing recorded); vhost is probed by opening and closing the device.
 */
export async function previewInterfaces(def: DomainDef, o: PreviewHostOptions = {}): Promise<InterfacesPreview> {
  const actuals: (ActualDirect | undefined)[] = [];
  for (const i of def.interfaces) actuals.push(i.type === 'network' ? await networksFor(o).peek(i.source.network as string) : undefined);
  const plans = planDomain(def, o.random ?? randomBytes, actuals, o.accel);
  const probes: (VhostProbe | undefined)[] = [];
  const decisions: DriverDecision[] = [];
  for (const plan of plans) {
    const { probe, fds } = await openVhost(plan, o.vhostDevice);
    fds.close();
    probes.push(probe);
    decisions.push(decideDriver(plan, probe));
  }
  return { plans, probes, decisions };
}

/**
 * The host half of detaching `iface` from a running domain whose live XML
 * (`live`, at `livePath`) records it: the device netfd created deleted (when
 * it is still the one recorded; qemu closed its fds, so a tap may be gone
 * already), the live XML rewritten without the interface, its network
 * connection ended. Returns the links deleted and the live XML written.
 */
export async function detachHost(name: string, live: DomainXml, livePath: string, iface: InterfaceDef, o: DomainHostOptions & { stateDir: string }): Promise<{ deleted: string[]; liveXml: string }> {
  const netns = netnsOf(o);
  const found = await recordedLinks([iface], netns, o.group);
  if (found.indexes.length)
    await deleteLinks(found.indexes, { netns }).catch((e) => {
      if ((e as NetfdError).code !== 'ENODEV') throw e;
    });
  const liveXml = live.withoutInterface(iface.index);
  replaceFileAtomic(livePath, liveXml);
  await releaseFor(name, [iface], o);
  return { deleted: found.deleted, liveXml };
}
