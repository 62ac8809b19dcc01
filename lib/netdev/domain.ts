// Host setup for a domain's interfaces, as one transaction: everything is
// created and opened, or nothing is left behind. This is the only module that
// changes the host for a domain.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError, NetfdErrorCode } from '../errors';
import { FdSet } from '../sys/fds';
import { deleteGroup, deleteLinks, getLink, LinkInfo, listLinks, netnsOf, setLink, Target } from '../sys/link';
import type { PciAddress } from '../xml/interface';
import { createMacvtap, MacvtapFds } from '../sys/macvtap';
import { Accel, decideDriver, domainMacs, DriverDecision, GuestMac, InterfacePlan, planDomain, tapHostMac, VhostProbe } from '../policy';
import { allocateFor, Networks, releaseFor } from './network';
import { childFds, domainArgv, NetArgs, netArgv } from '../qemu/argv';
import { Tap } from '../sys/tap';
import { checkVhost } from '../host/vhost';
import { ActualDirect, DomainXml, InterfaceDef, LiveInterface } from '../xml/domain';
import { applyHostConfig, mtuFor, runScript } from './hostconfig';
import { inactiveXmlPath, liveXmlPath, stateDir } from '../state/dirs';
import { replaceFileAtomic, writeNewFileAtomic } from '../state/atomic';
import { withDomainLock } from '../state/lock';

/** The steps of setup, in order, per interface ('state' once at the end). */
export type Step = 'vhost' | 'create' | 'configure' | 'open' | 'state';
/** The steps of setup, in order. */
export const STEPS: readonly Step[] = ['vhost', 'create', 'configure', 'open', 'state'];

/** Where a domain's host side lives: namespace, state and config directories, sysfs, vhost device, accelerator. */
export interface DomainHostOptions extends Target {
  /** Live state directory (default NETFD_STATE_DIR or /run/netfd/qemu); networks keep theirs in its networks/. */
  stateDir?: string | undefined;
  /**
   * The directory for this domain's own files (live and inactive XML, lock);
   * default the state directory. The host agent gives each user one.
   */
  scope?: string | undefined;
  /**
   * The link group every device made for the domain is created in (macvtaps
   * at creation, taps before anyone else has their fd): a kernel identity
   * the holder of a device's fd cannot change, unlike its MAC.
   */
  group?: number | undefined;
  /** Network definitions, for type='network' (default NETFD_CONFIG_DIR or /etc/netfd/networks). */
  configDir?: string | undefined;
  /** sysfs, for networks with a <pf> pool (default NETFD_SYSFS_ROOT or /sys). */
  sysfsRoot?: string | undefined;
  /** Where warnings go (default process.emitWarning). */
  onWarning?: ((message: string) => void) | undefined;
  /** The vhost-net device (default NETFD_VHOST_DEVICE or /dev/vhost-net); <backend vhost> wins. */
  vhostDevice?: string | undefined;
  /** The accelerator the guest will run on, over <domain type>: without KVM, vhost-net is never opened. */
  accel?: Accel | undefined;
  /** The tc program that applies <bandwidth> (default NETFD_TC, else /usr/sbin/tc or /sbin/tc). */
  tc?: string | undefined;
}

/** Options of {@link prepareDomain}. */
export interface PrepareOptions extends DomainHostOptions {
  /** Random bytes for generated MACs (default crypto.randomBytes). */
  random?: ((n: number) => Uint8Array) | undefined;
  /** The guest MACs, chosen beforehand (`domainMacs`), e.g. to record them first. */
  macs?: GuestMac[] | undefined;
  /**
   * Create netfd's macvtaps down (IFF_UP off), as libvirt does: a macvtap
   * shares the guest's MAC, so it stays offline until the vCPUs run
   * (`PreparedDomain.setRunning(true)`, or `setInterfaceLinks`). Default
   * false: up at once. Taps are up either way, as in libvirt.
   */
  macvtapsDown?: boolean | undefined;
  /**
   * Called after each step has succeeded; a throw aborts setup and rolls
   * everything back, as a failure of the step itself would. For tests.
   */
  afterStep?: ((step: Step, iface: number) => void | Promise<void>) | undefined;
}

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

const TEMPLATE_RETRIES = 8;

/** Runs `create`; when a template name met EEXIST (a race), tries again. */
export async function withNameRetry<T>(name: string, create: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await create();
    } catch (err) {
      if (!name.includes('%') || (err as NetfdError).code !== 'EEXIST' || attempt >= TEMPLATE_RETRIES) throw err;
    }
  }
}

/** <downscript> once the device is gone, as libvirt runs it; a failure is a warning (the device is gone anyway). */
const downscript = (path: string, dev: string, at: string, warn: (m: string) => void) => () => runScript(path, dev, `${at}/downscript/@path`).catch((e) => warn((e as Error).message));

const warnOf = (o: DomainHostOptions) => o.onWarning ?? ((m: string) => process.emitWarning(m, 'NetfdWarning'));

function fieldError(code: NetfdErrorCode, field: string, value: unknown, message: string): NetfdError {
  return new NetfdError(`${field}: ${message}`, { code, field, value });
}

/** What a transaction has made so far, and how to undo it. */
class Undo {
  readonly links: number[] = [];
  readonly fds: FdSet[] = [];
  readonly files: string[] = [];
  /** Run last: the <downscript> of a device whose <script> ran. */
  readonly after: (() => Promise<void>)[] = [];

  /** Deletes links (together: one kernel grace period), closes fds, removes files. */
  async run(netns: string | undefined): Promise<unknown[]> {
    const errors: unknown[] = [];
    if (this.links.length) await deleteLinks(this.links.splice(0), { netns }).catch((e) => errors.push(e));
    for (const s of this.fds.splice(0)) {
      try {
        s.close();
      } catch (e) {
        errors.push(e);
      }
    }
    for (const f of this.files.splice(0)) {
      try {
        fs.rmSync(f, { force: true });
      } catch (e) {
        errors.push(e);
      }
    }
    for (const fn of this.after.splice(0)) await fn().catch((e) => errors.push(e));
    return errors;
  }
}

/** Looks at the host before changing anything: names, bridges, parents, MACs. */
function preflight(plans: InterfacePlan[], links: LinkInfo[]): Map<number, LinkInfo> {
  const byName = new Map(links.map((l) => [l.name, l]));
  const existing = new Map<number, LinkInfo>();
  const macUser = (candidates: LinkInfo[], macs: string[]) => candidates.find((l) => l.mac !== null && macs.includes(l.mac));
  for (const p of plans) {
    const dev = `${p.path}/target/@dev`;
    const link = p.link;
    if (link.kind !== 'existing' && !link.name.includes('%') && byName.has(link.name))
      throw fieldError('EEXIST', dev, link.name, `a link named ${link.name} already exists; choose another target dev or omit it`);
    if (link.kind === 'tap' && link.bridge !== undefined) {
      const field = `${p.path}/source/@bridge`;
      const br = byName.get(link.bridge);
      if (!br) throw fieldError('ENODEV', field, link.bridge, `bridge ${link.bridge} does not exist (ip link add ${link.bridge} type bridge)`);
      if (br.kind !== 'bridge') throw fieldError('INVALID_ARGUMENT', field, link.bridge, `${link.bridge} is a ${br.kind ?? 'plain'} link, not a bridge`);
      const user = macUser([br, ...links.filter((l) => l.master === br.index)], [p.mac, link.hostMac]);
      if (user) throw fieldError('EADDRINUSE', `${p.path}/mac/@address`, p.mac, `MAC ${user.mac} is already used by ${user.name} on bridge ${br.name}; give the interface another <mac address>`);
      if (p.host.vlan && !br.bridge?.vlanFiltering)
        throw fieldError('NOT_SUPPORTED', `${p.path}/vlan`, link.bridge, `bridge ${br.name} does not filter VLANs (ip link set ${br.name} type bridge vlan_filtering 1; this kernel may lack CONFIG_BRIDGE_VLAN_FILTERING), so <vlan> cannot be applied`);
    } else if (link.kind === 'macvtap') {
      const field = `${p.path}/source/@dev`;
      const parent = byName.get(link.parent);
      if (!parent) throw fieldError('ENODEV', field, link.parent, `device ${link.parent} does not exist`);
      const siblings = links.filter((l) => l.parent === parent.index && (l.kind === 'macvtap' || l.kind === 'macvlan'));
      if (link.mode === 'passthru') {
        if (siblings.length) throw fieldError('EBUSY', field, link.parent, `passthrough mode needs ${link.parent} to itself, but ${siblings.map((l) => l.name).join(', ')} already use it`);
      } else {
        const user = macUser([parent, ...siblings], [p.mac]);
        if (user) throw fieldError('EADDRINUSE', `${p.path}/mac/@address`, p.mac, `MAC ${p.mac} is already used by ${user.name} on ${parent.name}; give the interface another <mac address>`);
      }
    } else if (link.kind === 'existing') {
      const l = byName.get(link.name);
      if (!l) throw fieldError('ENODEV', dev, link.name, `managed='no' but there is no link named ${link.name}; create the tap or macvtap first`);
      const isTap = l.kind === 'tun' && l.tun?.type === 'tap';
      if (!isTap && l.kind !== 'macvtap') throw fieldError('INVALID_ARGUMENT', dev, link.name, `${link.name} is a ${l.kind === 'tun' ? 'tun (layer 3) device' : (l.kind ?? 'plain link')}; managed='no' needs an existing tap or macvtap`);
      if (isTap && p.queues > 1 && !l.tun?.multiQueue) throw fieldError('INVALID_ARGUMENT', dev, link.name, `tap ${link.name} is not multi_queue, so it cannot give ${p.queues} queues; recreate it with multi_queue or drop <driver queues>`);
      existing.set(p.index, l);
    }
  }
  return existing;
}

/**
 * Opens the vhost device once per queue; a failure is a probe result, not a
 * throw. The fds (none unless usable) are recorded in `undo` and returned.
 */
async function probeVhost(plan: InterfacePlan, device: string | undefined, undo: Undo): Promise<{ probe: VhostProbe | undefined; fds: FdSet }> {
  const fds = new FdSet([]);
  if (plan.vhost === 'off') return { probe: undefined, fds };
  // The same check as `netfd probe`: on failure, the true reason.
  const c = await checkVhost({ device: plan.vhostDevice ?? device, count: plan.queues });
  if (!c.usable) return { probe: { usable: false, code: c.code, message: `${c.error.message.split(' — ')[0]}: ${c.why}` }, fds };
  const opened = new FdSet(c.fds.releaseFds());
  undo.fds.push(opened);
  return { probe: { usable: true }, fds: opened };
}

/** A domain whose interfaces are ready: devices up, fds open, live XML written. */
export class PreparedDomain {
  readonly xml: DomainXml;
  readonly interfaces: readonly PreparedInterface[];
  readonly statePath: string;
  readonly netns: string | undefined;
  #liveXml: string;
  #torn = false;
  readonly #hostOptions: DomainHostOptions;

/**
 * Made by {@link prepareDomain}.
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

/** The domain's `<name>`. */
  get name(): string {
    return this.xml.def.name;
  }

  /** The fds qemu needs, in the order of `netArgs()`'s numbering. */
  qemuFds(): number[] {
    return this.interfaces.flatMap((i) => [...i.fds.fds, ...i.vhostFds.fds]);
  }

  /** -netdev/-device inputs with child fd numbers counted from `first`. */
  netArgs(first = 3): NetArgs[] {
    const nums = childFds(this.interfaces.map((i) => ({ tap: i.fds.fds.length, vhost: i.vhostFds.fds.length })), first);
    return this.interfaces.map((i, n) => ({ plan: i.plan, decision: i.decision, ...nums[n] }));
  }

  /** The qemu command line, fds numbered as `qemuFds()` placed from fd 3 on. */
  argv(o: { qmp?: string | undefined } = {}): string[] {
    return domainArgv(this.xml.def, this.netArgs(), o);
  }

  /** Closes the fds netfd still owns (after qemu has its copies). */
  closeFds(): void {
    for (const i of this.interfaces) {
      i.fds.close();
      i.vhostFds.close();
    }
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
      const undo = new Undo();
      const live = readLive(this.statePath);
      const liveDevs = live ? new Set(live.def.interfaces.map((i) => i.target?.dev)) : null;
      for (const i of this.interfaces) {
        if (i.created && (!liveDevs || liveDevs.has(i.name))) undo.links.push(i.ifindex);
        undo.fds.push(i.fds, i.vhostFds);
      }
      if (live) {
        const mine = new Set(this.interfaces.map((i) => i.name));
        const found = await recordedLinks(live.def.interfaces.filter((i) => !mine.has(i.target?.dev ?? '')), this.netns, this.#hostOptions.group);
        undo.links.push(...found.indexes);
      }
      undo.files.push(this.statePath, inactiveXmlPath(dir, this.name));
      for (const i of this.interfaces) if (i.created && i.plan.host.downscript) undo.after.push(downscript(i.plan.host.downscript, i.name, i.plan.path, warnOf(this.#hostOptions)));
      const errors = await undo.run(this.netns);
      // The connections end once the domain's live XML is gone (see lib/network/store.ts).
      const ifaces = live ? live.def.interfaces : this.interfaces.map((i) => ({ type: i.plan.network ? ('network' as const) : ('direct' as const), source: { network: i.plan.network?.name }, mac: i.plan.mac }));
      await releaseFor(this.name, ifaces, { ...this.#hostOptions, scope: dir }).catch((e) => errors.push(e));
      if (errors.length) throw errors[0];
    });
  }
}

/** The live XML at `file`, or null when there is none. */
function readLive(file: string): DomainXml | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return DomainXml.parse(text, { live: true });
}

/**
 * The links recorded for `ifaces` (from live XML) that netfd created and that
 * are still what it recorded. With `group` (the link group they were created
 * in): a link of that name, kind and group, whatever its MAC now. Without: a
 * macvtap with the guest MAC, a tap with the host MAC derived from it.
 * Others (managed='no', impostors, gone) are skipped.
 */
export async function recordedLinks(ifaces: readonly InterfaceDef[], netns: string | undefined, group?: number): Promise<{ indexes: number[]; deleted: string[]; skipped: string[] }> {
  const indexes: number[] = [];
  const deleted: string[] = [];
  const skipped: string[] = [];
  for (const i of ifaces) {
    const dev = i.target?.dev;
    if (!dev || !i.mac || (i.type === 'network' && !i.actual) || (i.target && !i.target.managed)) continue;
    const l = await getLink(dev, { netns }).catch(() => null);
    const want = i.type === 'direct' || i.type === 'network' ? { kind: 'macvtap', mac: i.mac } : { kind: 'tun', mac: tapHostMac(i.mac) };
    if (l && l.kind === want.kind && (group !== undefined ? l.group === group : l.mac === want.mac)) {
      indexes.push(l.index);
      deleted.push(dev);
    } else skipped.push(dev);
  }
  return { indexes, deleted, skipped };
}

export interface LinkFollowOptions extends DomainHostOptions {
  /** Which parent devices a start may set up: 'all' (default, as libvirt) or only a passthrough macvtap's own. */
  parents?: 'all' | 'passthrough' | undefined;
}

/** The macvtap netfd made for a live interface, and the device it sits on (passthru: its own to take down). */
function macvtapOf(i: InterfaceDef): { dev: string; parent: string; passthru: boolean } | null {
  const dev = i.target?.dev;
  if (!dev || !i.target?.managed) return null;
  if (i.type === 'direct' && i.source.dev) return { dev, parent: i.source.dev, passthru: i.source.mode === 'passthrough' };
  if (i.type === 'network' && i.actual) return { dev, parent: i.actual.dev, passthru: i.actual.mode === 'passthrough' };
  return null;
}

const gone = (e: unknown) => (e as NetfdError).code === 'ENODEV' || (e as NetfdError).code === 'ENOENT';

/**
 * libvirt's qemuInterfaceStartDevices / qemuInterfaceStopDevices for the
 * macvtaps netfd made (type='direct', and type='network' on a pool device):
 * `running` sets the parent device up when it is down, then the macvtap up;
 * otherwise the macvtap goes down, and in passthrough mode its parent too
 * (it carries the guest's MAC). Only links still recorded as netfd's (same
 * kind, and group or MAC) are touched; taps, managed='no' devices and links
 * gone meanwhile are left alone. With `parents: 'passthrough'` (the agent,
 * acting for a user) a shared parent that is down is left down: only a
 * passthrough macvtap's own device is set. Returns the macvtaps set.
 */
export async function setInterfaceLinks(ifaces: readonly InterfaceDef[], running: boolean, o: LinkFollowOptions = {}): Promise<string[]> {
  const netns = netnsOf(o);
  const mine = ifaces.filter((i) => macvtapOf(i) !== null);
  const found = await recordedLinks(mine, netns, o.group);
  const done: string[] = [];
  for (const i of mine) {
    const m = macvtapOf(i) as { dev: string; parent: string; passthru: boolean };
    const index = found.indexes[found.deleted.indexOf(m.dev)];
    if (index === undefined) continue;
    try {
      if (running) {
        // Not when it is up already: a needless change can blip the device.
        const parent = m.passthru || o.parents !== 'passthrough' ? await getLink(m.parent, { netns }).catch((e) => (gone(e) ? null : Promise.reject(e))) : null;
        if (parent && !parent.up) await setLink(parent.index, { netns, up: true });
        await setLink(index, { netns, up: true });
      } else {
        await setLink(index, { netns, up: false });
        if (m.passthru) await setLink(m.parent, { netns, up: false });
      }
      done.push(m.dev);
    } catch (e) {
      if (!gone(e)) throw e; // detached meanwhile
    }
  }
  return done;
}

/**
 * setInterfaceLinks over the live XML at `livePath`: at once (a lock holder,
 * such as a detach waiting for the guest, must not hold back a paused
 * guest's links), then again under the domain lock for what an attach
 * running meanwhile added. Nothing when the domain is gone.
 */
export async function followLiveXml(livePath: string, running: boolean, o: LinkFollowOptions): Promise<void> {
  const first = readLive(livePath);
  if (!first) return;
  const done = new Set(await setInterfaceLinks(first.def.interfaces, running, o));
  await withDomainLock(path.dirname(livePath), first.def.name, async () => {
    const now = readLive(livePath);
    if (now) await setInterfaceLinks(now.def.interfaces.filter((i) => !done.has(i.target?.dev ?? '')), running, o);
  });
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

/**
 * Prepares every interface of a domain: vhost fds (per the driver policy),
 * tap or macvtap created (or an existing one opened), attached, up, queue fds
 * open; then writes the live XML atomically. On any failure everything done
 * so far is undone and the error is rethrown.
 */
export async function prepareDomain(input: string | DomainXml, o: PrepareOptions = {}): Promise<PreparedDomain> {
  const xml = typeof input === 'string' ? DomainXml.parse(input) : input;
  const def = xml.def;
  const netns = netnsOf(o);
  const root = stateDir(o.stateDir);
  const dir = o.scope ?? root;
  const statePath = liveXmlPath(dir, def.name);
  if (fs.existsSync(statePath)) throw fieldError('EEXIST', 'name', def.name, `domain ${def.name} is already prepared (live state ${statePath}); tear it down first`);
  const macs = o.macs ?? domainMacs(def, o.random ?? randomBytes);
  const nets = await allocateFor(def.name, def.interfaces, macs.map((m) => m.mac), { ...o, stateDir: root, scope: dir });
  let setup: InterfaceSetup;
  try {
    setup = await prepareInterfaces(planDomain(def, macs, nets.actuals, o.accel), { ...o, netns });
  } catch (err) {
    await nets.release().catch((e) => {
      if (err instanceof Error) err.message += ` (releasing network devices also failed: ${(e as Error).message})`;
    });
    throw err;
  }
  const undo = new Undo();
  try {
    const prepared = setup.interfaces;
    const liveXml = xml.live(prepared.map(liveResult));
    // The live file marks the domain active (created exclusively); once it is
    // ours, the inactive copy beside it is too (a stale one is replaced).
    writeNewFileAtomic(statePath, liveXml);
    undo.files.push(statePath);
    const inactivePath = inactiveXmlPath(dir, def.name);
    undo.files.push(inactivePath);
    fs.rmSync(inactivePath, { force: true });
    writeNewFileAtomic(inactivePath, xml.text);
    await o.afterStep?.('state', -1);
    return new PreparedDomain(xml, prepared, liveXml, statePath, { ...o, stateDir: root, scope: dir });
  } catch (err) {
    const errors = await undo.run(netns);
    await setup.undo().catch((e) => errors.push(e));
    await nets.release().catch((e) => errors.push(e));
    if (errors.length && err instanceof Error) err.message += ` (undoing setup also failed: ${(errors[0] as Error).message})`;
    throw err;
  }
}

/** What the live XML records for a prepared interface. */
export function liveResult(p: PreparedInterface): LiveInterface {
  const r: LiveInterface = { driver: p.decision.record, targetDev: p.name, mac: p.plan.mac, alias: p.plan.deviceId };
  if (p.plan.network) r.actual = { dev: p.plan.network.dev, mode: p.plan.network.mode };
  return r;
}

/** Interfaces set up on the host, and how to undo exactly that. */
export interface InterfaceSetup {
  interfaces: PreparedInterface[];
  /** Deletes the links created, closes the fds still open. */
  undo(): Promise<void>;
}

/**
 * Sets up interfaces on the host (vhost probe and driver decision for all,
 * then per interface: device created or opened, configured, queue fds open),
 * after the preflight checks. On failure everything done is undone.
 */
export async function prepareInterfaces(plans: InterfacePlan[], o: PrepareOptions): Promise<InterfaceSetup> {
  const netns = netnsOf(o);
  const links = plans.some((p) => p.link.kind !== 'tap' || p.link.bridge !== undefined || !p.link.name.includes('%')) ? await listLinks({ netns }) : [];
  const existing = preflight(plans, links);

  const undo = new Undo();
  const step = async (s: Step, iface: number) => o.afterStep?.(s, iface);
  try {
    // Phase 1: the driver decision for every interface, before any link exists.
    const decided: { plan: InterfacePlan; decision: DriverDecision; vhost: FdSet }[] = [];
    for (const plan of plans) {
      const { probe, fds } = await probeVhost(plan, o.vhostDevice, undo);
      decided.push({ plan, decision: decideDriver(plan, probe), vhost: fds });
      await step('vhost', plan.index);
    }

    // Phase 2: the devices, one interface at a time.
    const prepared: PreparedInterface[] = [];
    for (const { plan, decision, vhost } of decided) {
      const link = plan.link;
      let name: string;
      let ifindex: number;
      let kind: 'tap' | 'macvtap';
      let fds: FdSet | undefined;
      if (link.kind === 'tap') {
        const tap = await withNameRetry(link.name, () =>
          Tap.create({ netns, ...(link.name.includes('%') ? { template: link.name } : { name: link.name }), queues: plan.queues, vnetHdr: plan.vnetHdr, exclusive: true, device: link.tunDevice }),
        );
        fds = new FdSet(tap.releaseFds());
        undo.fds.push(fds);
        undo.links.push(tap.ifindex);
        ({ name, ifindex } = tap);
        kind = 'tap';
        await step('create', plan.index);
        const mtu = mtuFor(plan, link.bridge !== undefined ? links.find((l) => l.name === link.bridge) : undefined);
        await setLink(ifindex, { netns, mac: link.hostMac, ...(mtu !== undefined ? { mtu } : {}), ...(link.bridge !== undefined ? { master: link.bridge } : {}), ...(o.group !== undefined ? { group: o.group } : {}), up: true });
        await applyHostConfig(plan, { index: ifindex, name }, netns, warnOf(o), o.tc);
        if (plan.host.script && plan.host.downscript) undo.after.push(downscript(plan.host.downscript, name, plan.path, warnOf(o)));
        await step('configure', plan.index);
        await step('open', plan.index);
      } else if (link.kind === 'macvtap') {
        const passthru = link.mode === 'passthru';
        const info = await withNameRetry(link.name, () =>
          createMacvtap({ netns, link: link.parent, mode: link.mode, ...(link.name.includes('%') ? { template: link.name } : { name: link.name }), ...(passthru ? {} : { mac: plan.mac }), ...(o.group !== undefined ? { group: o.group } : {}) }),
        );
        undo.links.push(info.index);
        ({ name, index: ifindex } = info);
        kind = 'macvtap';
        await step('create', plan.index);
        // passthru: the macvtap takes the parent's MAC; setting the guest MAC
        // sets the parent's, and the kernel restores it when the macvtap goes.
        // Down until the vCPUs run when asked (libvirt creates it so: the
        // host would otherwise send from the guest's MAC before the guest runs).
        await setLink(ifindex, { netns, up: o.macvtapsDown !== true, ...(passthru ? { mac: plan.mac } : {}), ...(plan.host.mtu !== undefined ? { mtu: plan.host.mtu } : {}) });
        await applyHostConfig(plan, { index: ifindex, name }, netns, warnOf(o), o.tc);
        await step('configure', plan.index);
        const m = await MacvtapFds.open(ifindex, { netns, queues: plan.queues, vnetHdr: plan.vnetHdr });
        fds = new FdSet(m.releaseFds());
        undo.fds.push(fds);
        await step('open', plan.index);
      } else {
        const l = existing.get(plan.index) as LinkInfo;
        ({ name, index: ifindex } = l);
        await step('create', plan.index);
        await step('configure', plan.index);
        if (l.kind === 'macvtap') {
          if (plan.macGenerated) plan.mac = l.mac ?? plan.mac;
          else if (l.mac !== plan.mac)
            throw fieldError('INVALID_ARGUMENT', `${plan.path}/mac/@address`, plan.mac, `macvtap ${l.name} has MAC ${l.mac}; the guest MAC must equal it or replies never reach the guest`);
          const m = await MacvtapFds.open(ifindex, { netns, queues: plan.queues, vnetHdr: plan.vnetHdr });
          fds = new FdSet(m.releaseFds());
          undo.fds.push(fds);
          kind = 'macvtap';
        } else {
          const tap = await Tap.create({ netns, name: l.name, queues: plan.queues, multiQueue: l.tun?.multiQueue ?? false, vnetHdr: plan.vnetHdr, device: link.tunDevice });
          fds = new FdSet(tap.releaseFds());
          undo.fds.push(fds);
          // Opening by name would create a tap had the old one vanished since.
          if (tap.ifindex !== l.index) {
            undo.links.push(tap.ifindex);
            throw fieldError('ENODEV', `${plan.path}/target/@dev`, l.name, `tap ${l.name} disappeared while netfd opened it`);
          }
          kind = 'tap';
        }
        await step('open', plan.index);
      }
      prepared.push({ plan, decision, name, ifindex, kind, created: link.kind !== 'existing', fds: fds as FdSet, vhostFds: vhost });
    }
    return {
      interfaces: prepared,
      undo: async () => {
        const errors = await undo.run(netns);
        if (errors.length) throw errors[0];
      },
    };
  } catch (err) {
    const errors = await undo.run(netns);
    if (errors.length && err instanceof Error) err.message += ` (undoing setup also failed: ${(errors[0] as Error).message})`;
    throw err;
  }
}

/** A domain's interfaces as they would be on this host, with no change made. */
export interface DomainPreview {
  xml: DomainXml;
  plans: InterfacePlan[];
  /** The vhost probe per interface (undefined where vhost was not wanted). */
  probes: (VhostProbe | undefined)[];
  decisions: DriverDecision[];
  /** The whole qemu command line; with `netOnly`, only the interfaces' -netdev/-device arguments. */
  argv: string[];
}

/** Options of {@link previewDomain}. */
export interface PreviewOptions extends DomainHostOptions {
  /** Random bytes for generated MACs (default crypto.randomBytes). */
  random?: ((n: number) => Uint8Array) | undefined;
  /** The QMP socket path to put in the argv. */
  qmp?: string | undefined;
  /**
   * Only the interfaces' -netdev/-device arguments (fds numbered from 3), for
   * a VM manager that builds the rest of the command line: a string is parsed
   * with `{ netOnly: true }`, so devices netfd does not run do not matter;
   * the interfaces are still fully validated.
   */
  netOnly?: boolean | undefined;
}

/**
 * What `prepareDomain` would decide and the qemu argv it would give, without
 * creating anything: vhost is probed by opening and closing the device.
 */
export async function previewDomain(input: string | DomainXml, o: PreviewOptions = {}): Promise<DomainPreview> {
  const xml = typeof input === 'string' ? DomainXml.parse(input, { netOnly: o.netOnly }) : input;
  const netOnly = o.netOnly === true || xml.def.netOnly === true;
  // A network's device: the one an allocation would give now (nothing recorded).
  const actuals: (ActualDirect | undefined)[] = [];
  for (const i of xml.def.interfaces) actuals.push(i.type === 'network' ? await new Networks(o).peek(i.source.network as string) : undefined);
  const plans = planDomain(xml.def, o.random ?? randomBytes, actuals, o.accel);
  const probes: (VhostProbe | undefined)[] = [];
  const decisions: DriverDecision[] = [];
  for (const plan of plans) {
    const undo = new Undo();
    try {
      probes.push((await probeVhost(plan, o.vhostDevice, undo)).probe);
    } finally {
      await undo.run(undefined);
    }
    decisions.push(decideDriver(plan, probes[probes.length - 1]));
  }
  const nums = childFds(plans.map((p, n) => ({ tap: p.queues, vhost: decisions[n].vhost ? p.queues : 0 })));
  const nets: NetArgs[] = plans.map((plan, n) => ({ plan, decision: decisions[n], ...nums[n] }));
  const argv = netOnly ? netArgv(nets) : domainArgv(xml.def, nets, { qmp: o.qmp });
  return { xml, plans, probes, decisions, argv };
}

/**
 * Tears a domain down from its live XML alone (after a restart): deletes the
 * devices netfd created for it, when they are still the ones it recorded (same
 * kind and MAC; with `o.group`, same kind and group, and every other link of
 * the group too), and removes the live XML. Returns the links deleted.
 */
export async function teardownFromLive(name: string, o: DomainHostOptions = {}): Promise<{ deleted: string[]; skipped: string[] }> {
  const netns = netnsOf(o);
  const root = stateDir(o.stateDir);
  const dir = o.scope ?? root;
  const file = liveXmlPath(dir, name);
  return withDomainLock(dir, name, async () => {
    const xml = DomainXml.parse(fs.readFileSync(file, 'utf8'), { live: true });
    const { indexes, deleted, skipped } = await recordedLinks(xml.def.interfaces, netns, o.group);
    if (indexes.length) await deleteLinks(indexes, { netns });
    // Anything else of the domain's group (a half-made attach) goes too.
    if (o.group !== undefined) await deleteGroup(o.group, { netns });
    for (const i of xml.def.interfaces) if (i.downscript && i.target?.dev && i.target.managed) await downscript(i.downscript, i.target.dev, i.path, warnOf(o))();
    fs.rmSync(file, { force: true });
    fs.rmSync(inactiveXmlPath(dir, name), { force: true });
    await releaseFor(name, xml.def.interfaces, { ...o, stateDir: root, scope: dir });
    return { deleted, skipped };
  });
}
