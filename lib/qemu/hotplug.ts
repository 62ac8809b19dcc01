// NIC hotplug on a running domain, as virsh attach-device/detach-interface:
// the interface is prepared on the host, its fds go to qemu over QMP (getfd
// with SCM_RIGHTS), then netdev_add and device_add; the live XML gains it.
// Detach is the reverse. Each operation holds the domain's lock and undoes
// its own steps when one fails.
import { randomBytes } from '../sys/random';
import fs from 'node:fs';
import { NetfdError, suppress } from '../errors';
import type { PrepareOptions } from '../netdev/connect';
import { setInterfaceLinks } from '../netdev/direct';
import { detachHost, InterfaceSetup, prepareInterfaces, PreparedInterface } from '../netdev/domain';
import { liveResult, macTakenBy } from '../netdev/live';
import { allocateFor } from '../netdev/network';
import { liveXmlPath, stateDir } from '../state/dirs';
import { replaceFileAtomic } from '../state/atomic';
import { withDomainLock } from '../state/lock';
import { freshMac, InterfacePlan, planInterface, rootBusOf, runsOnKvm } from '../policy';
import * as v from '../validate';
import { listLinks, netnsOf } from '../sys/link';
import { DomainXml, InterfaceDef, PciAddress } from '../xml/domain';
import { nicFds } from './fdpass';
import { pidPath, readPidInfo } from './launch';
import { queryPciAddresses } from './pci';
import { Qmp } from './qmp/commands';

/** Options of {@link attachInterface} and {@link detachInterface}. */
export interface HotplugOptions extends PrepareOptions {
  /** QMP command and DEVICE_DELETED timeout (default 30 s: the guest must ack an unplug). */
  timeoutMs?: number | undefined;
}

/** What a running domain's state files say. */
export interface RunningDomain {
  name: string;
  live: DomainXml;
  livePath: string;
  qmp: string;
  pid: number;
  /** The namespace the domain's devices live in, as given at launch. */
  netns: string | undefined;
  /** The accelerator given at launch, if it overrode <domain type>. */
  accel: 'tcg' | 'kvm' | undefined;
  /** 'follow': its supervisor keeps the macvtaps in step with the vCPUs (see LaunchOptions.macvtapLinks). */
  links: 'follow' | undefined;
}

function notRunning(name: string, why: string): NetfdError {
  return new NetfdError(`domain ${name} is not running: ${why}`, { code: 'ENOENT', field: 'name', value: name });
}

/** Reads a running domain's live XML and pid file (qmp socket, netns). */
export function runningDomain(name: string, dir: string): RunningDomain {
  const livePath = liveXmlPath(dir, name);
  let text: string;
  try {
    text = fs.readFileSync(livePath, 'utf8');
  } catch (e) {
    throw notRunning(name, `no live state ${livePath} (${(e as NodeJS.ErrnoException).code})`);
  }
  const info = readPidInfo(dir, name);
  if (!info) throw notRunning(name, `it is prepared but no qemu runs it (no valid ${pidPath(dir, name)})`);
  return { name, live: DomainXml.parse(text, { live: true }), livePath, qmp: info.qmp, pid: info.pid, netns: info.netns ?? undefined, accel: info.accel, links: info.links };
}

/** QMP device_add wants typed values: on/off are booleans, counts numbers. */
function typed(value: string): string | number | boolean {
  if (value === 'on' || value === 'off') return value === 'on';
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** device_add arguments for a plan (the -device of argv.ts, as JSON). */
export function deviceAddArgs(plan: InterfacePlan): { driver: string; id: string; [k: string]: unknown } {
  const args: { driver: string; id: string; [k: string]: unknown } = { driver: plan.device, id: plan.deviceId, netdev: plan.netdevId, mac: plan.mac };
  if (plan.vectors !== null) Object.assign(args, { mq: true, vectors: plan.vectors });
  for (const [k, x] of plan.deviceProps) args[k] = typed(x);
  return args;
}

/** netdev_add arguments for an interface whose fds qemu got as `tapNames`/`vhostNames`. */
export function netdevAddArgs(nic: { netdevId: string; vhost: boolean; sndbuf?: number }, tapNames: string[], vhostNames: string[]): { type: string; id: string; [k: string]: unknown } {
  const args: { type: string; id: string; [k: string]: unknown } = { type: 'tap', id: nic.netdevId };
  if (tapNames.length > 1) args.fds = tapNames.join(':');
  else args.fd = tapNames[0];
  args.vhost = nic.vhost;
  if (nic.vhost) {
    if (vhostNames.length > 1) args.vhostfds = vhostNames.join(':');
    else args.vhostfd = vhostNames[0];
  }
  if (nic.sndbuf !== undefined) args.sndbuf = nic.sndbuf;
  return args;
}

/** The first netN id no interface uses, from the new interface's position on. */
function freeAlias(ifaces: readonly InterfaceDef[], from: number): string {
  const used = new Set(ifaces.map((i) => i.alias ?? `net${i.index}`));
  let n = from;
  while (used.has(`net${n}`)) n++;
  return `net${n}`;
}

/** What {@link attachInterface} did. */
export interface Attached {
  /** The qemu device id (netN or the user's ua- alias). */
  alias: string;
  mac: string;
  targetDev: string;
  driver: 'vhost' | 'qemu' | null;
  /** Where qemu put the NIC (query-pci), as recorded in the live XML. */
  pci?: PciAddress;
  liveXml: string;
}

/** The host half of an attach: the device is ready; `undo` removes it, `liveXml` records it. */
export interface HostAttach {
  prepared: PreparedInterface;
  /** The live XML with the new interface recorded. */
  liveXml: string;
  /** The new interface as the live XML records it. */
  iface: InterfaceDef;
  /** `liveXml` with the new interface's PCI address too. */
  liveXmlWith(pci: PciAddress): string;
  /** Deletes the device and gives back its network allocation (the fds are closed). */
  undo(err: unknown): Promise<void>;
}

/**
 * Prepares one interface (its own <interface> document) for the domain whose
 * live XML is `live`: alias and MAC chosen, network device allocated, host
 * device created and opened. Nothing is written; on failure nothing is left.
 */
export async function hostAttach(name: string, live: DomainXml, ifaceXml: string, o: HotplugOptions & { stateDir: string }): Promise<HostAttach> {
  const { xml, iface } = live.withInterface(ifaceXml);
  const others = xml.def.interfaces.slice(0, -1);
  iface.alias ??= freeAlias(others, iface.index);
  let mac = iface.mac;
  const generated = mac === undefined;
  let links = o.links;
  if (mac === undefined) {
    // Not another NIC's of the domain, nor a link's (listed first for that; preflight uses the same listing).
    links ??= await listLinks({ netns: netnsOf(o) });
    const used = new Set(others.map((i) => i.mac));
    const taken = macTakenBy(links);
    mac = freshMac(o.random ?? randomBytes, (m) => used.has(m) || taken(m), 'hostAttach');
  }
  const nets = await allocateFor(name, [iface], [mac], o);
  let setup: InterfaceSetup;
  try {
    setup = await prepareInterfaces([planInterface(iface, mac, generated, nets.actuals[0], runsOnKvm(live.def, o.accel), rootBusOf(live.def))], { ...o, links });
  } catch (err) {
    await rollback(err, () => nets.release());
    throw err;
  }
  const prepared = setup.interfaces[0];
  const liveXml = xml.live([...live.recorded(), liveResult(prepared)]);
  return {
    prepared,
    liveXml,
    iface: DomainXml.parse(liveXml, { live: true }).def.interfaces[others.length],
    liveXmlWith: (pci) => xml.live([...live.recorded(), { ...liveResult(prepared), pci }]),
    undo: async (err) => {
      closeInterfaceFds(prepared);
      await rollback(err, () => setup.undo());
      await rollback(err, () => nets.release());
    },
  };
}

/** What qemu needs to plug a prepared interface in. */
export interface QemuNic {
  deviceId: string;
  netdevId: string;
  /** device_add arguments. */
  device: { driver: string; id: string; [k: string]: unknown };
  vhost: boolean;
  /** -netdev sndbuf= (<tune><sndbuf>). */
  sndbuf?: number;
}

export function qemuNic(p: { plan: InterfacePlan; decision: { vhost: boolean } }): QemuNic {
  const nic: QemuNic = { deviceId: p.plan.deviceId, netdevId: p.plan.netdevId, device: deviceAddArgs(p.plan), vhost: p.decision.vhost };
  if (p.plan.sndbuf !== undefined) nic.sndbuf = p.plan.sndbuf;
  return nic;
}

/** What qemu says after an attach: where the NIC went, and whether the vCPUs run (null: it did not say). */
export interface Placed {
  pci: PciAddress | null;
  running: boolean | null;
}

/**
 * The qemu half of an attach: the fds go over with getfd, then netdev_add and
 * device_add; then query-pci and query-status say where the NIC went and
 * whether the vCPUs run (a failure there leaves those null). On failure what
 * this did in qemu is undone and the error rethrown. The fds stay the caller's.
 */
export async function qmpAttach(qmpPath: string, nic: QemuNic, tapFds: readonly number[], vhostFds: readonly number[], timeoutMs: number): Promise<Placed> {
  const qmp = await Qmp.connect(qmpPath, { timeoutMs });
  const fds = nicFds(nic.deviceId, tapFds, vhostFds);
  let netdev = false;
  let device = false;
  try {
    const tapNames = await fds.tap.toMonitor(qmp);
    const vhostNames = await fds.vhost.toMonitor(qmp);
    await qmp.netdevAdd(netdevAddArgs(nic, tapNames, vhostNames));
    netdev = true;
    // netdev_add took them
    fds.tap.taken();
    fds.vhost.taken();
    await qmp.deviceAdd(nic.device);
    device = true;
    const pci = await queryPciAddresses(qmp, timeoutMs).then(
      (m) => m.get(nic.deviceId) ?? null,
      () => null,
    );
    const running = await qmp.queryStatus({ timeoutMs }).then(
      (st) => st.running,
      () => null,
    );
    return { pci, running };
  } catch (err) {
    await rollback(err, async () => {
      if (device) await qmp.deviceDelAndWait(nic.deviceId, timeoutMs);
      if (netdev) await qmp.netdevDel(nic.netdevId);
      await fds.tap.rollback(qmp);
      await fds.vhost.rollback(qmp);
    });
    throw err;
  } finally {
    await qmp.close();
  }
}

/**
 * Adds an interface (its own <interface> XML document) to a running domain:
 * host device prepared, fds sent with getfd, netdev_add, device_add, live XML
 * updated. On failure, what this call did is undone (device, netdev, fds
 * qemu got, host device) and the error rethrown.
 */
export async function attachInterface(name: string, ifaceXml: string, o: HotplugOptions = {}): Promise<Attached> {
  const dir = stateDir(o.stateDir);
  return withDomainLock(dir, name, async () => {
    const dom = runningDomain(name, dir);
    // With a supervisor following the vCPUs, a macvtap starts down and goes
    // up only if they run (the supervisor waits for this lock to apply a
    // change that came meanwhile). Without one, it is up at once.
    const follow = dom.links === 'follow';
    const netns = o.netns ?? dom.netns;
    const host = await hostAttach(name, dom.live, ifaceXml, { ...o, stateDir: dir, netns, accel: o.accel ?? dom.accel, macvtapsDown: follow });
    const p = host.prepared;
    let liveXml: string;
    let placed: Placed;
    try {
      placed = await qmpAttach(dom.qmp, qemuNic(p), p.fds.fds, p.vhostFds.fds, o.timeoutMs ?? 30_000);
      liveXml = placed.pci ? host.liveXmlWith(placed.pci) : host.liveXml;
      replaceFileAtomic(dom.livePath, liveXml);
    } catch (err) {
      await host.undo(err);
      throw err;
    } finally {
      // qemu holds its own copies now (or none after a rollback).
      closeInterfaceFds(p);
    }
    const warn = o.onWarning ?? ((m: string) => process.emitWarning(m, 'NetfdWarning'));
    if (!placed.pci) warn(`${name}: qemu did not say where ${p.plan.deviceId} went (query-pci); its live XML has no <address>`);
    if (follow && placed.running !== false)
      await setInterfaceLinks([host.iface], true, { netns, group: o.group }).catch((e) => warn(`${name}: ${p.name} is attached but stays down: setting it up failed: ${(e as Error).message}`));
    return { alias: p.plan.deviceId, mac: p.plan.mac, targetDev: p.name, driver: p.decision.record, ...(placed.pci ? { pci: placed.pci } : {}), liveXml };
  });
}

function closeInterfaceFds(p: PreparedInterface): void {
  p.fds.close();
  p.vhostFds.close();
}

/** Runs an undo step; its failure is added to `err`'s message, never thrown. */
async function rollback(err: unknown, step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (e) {
    suppress(err, e, 'rolling back');
  }
}

/** What {@link detachInterface} did. */
export interface Detached {
  alias: string;
  mac: string;
  targetDev: string | undefined;
  /** Host links deleted (netfd's own; managed='no' devices are kept). */
  deleted: string[];
  liveXml: string;
}

/**
 * Removes the interface with MAC `mac` from a running domain: device_del and
 * its DEVICE_DELETED (the guest must release the device), netdev_del (qemu
 * closes its fds), the host device netfd created deleted, the live XML
 * updated. A netdev_del failure puts the device back.
 */
export async function detachInterface(name: string, sel: { mac: string }, o: HotplugOptions = {}): Promise<Detached> {
  const dir = stateDir(o.stateDir);
  const mac = v.mac(sel.mac, 'mac');
  return withDomainLock(dir, name, async () => {
    const dom = runningDomain(name, dir);
    const { iface, plan } = interfaceByMac(name, dom.live, mac, sel.mac);
    await qmpDetach(dom.qmp, plan, o.timeoutMs ?? 30_000);
    return hostDetach(name, dom.live, dom.livePath, iface, { ...o, stateDir: dir, netns: o.netns ?? dom.netns });
  });
}

/** The live interface with MAC `mac` and its plan (ids as qemu knows them); ENODEV naming `given`. */
export function interfaceByMac(name: string, live: DomainXml, mac: string, given: string): { iface: InterfaceDef; plan: InterfacePlan } {
  const iface = live.def.interfaces.find((i) => i.mac === mac);
  if (!iface) {
    const have = live.def.interfaces.map((i) => i.mac).join(', ') || 'none';
    throw new NetfdError(`domain ${name} has no interface with MAC ${mac} (it has: ${have})`, { code: 'ENODEV', field: 'mac', value: given });
  }
  const alias = iface.alias ?? `net${iface.index}`;
  return { iface, plan: planInterface({ ...iface, alias }, mac) };
}

/**
 * The qemu half of a detach: device_del and its DEVICE_DELETED (the guest
 * must release the device), then netdev_del (qemu closes its fds). A
 * netdev_del failure puts the device back.
 */
export async function qmpDetach(qmpPath: string, plan: InterfacePlan, timeoutMs: number): Promise<void> {
  const qmp = await Qmp.connect(qmpPath, { timeoutMs });
  try {
    try {
      await qmp.deviceDelAndWait(plan.deviceId, timeoutMs);
    } catch (err) {
      if ((err as NetfdError).code === 'ETIMEDOUT')
        (err as Error).message = `the guest did not release device ${plan.deviceId} within ${timeoutMs} ms (does it handle ACPI PCI hotplug?); the unplug request stays pending in qemu`;
      throw err;
    }
    try {
      await qmp.netdevDel(plan.netdevId);
    } catch (err) {
      await rollback(err, () => qmp.deviceAdd(deviceAddArgs(plan)));
      throw err;
    }
  } finally {
    await qmp.close();
  }
}

/**
 * The host half of a detach: the device netfd created deleted (when it is
 * still the one recorded), the live XML at `livePath` rewritten without the
 * interface, its network connection ended.
 */
export async function hostDetach(name: string, live: DomainXml, livePath: string, iface: InterfaceDef, o: HotplugOptions & { stateDir: string }): Promise<Detached> {
  const { deleted, liveXml } = await detachHost(name, live, livePath, iface, o);
  return { alias: iface.alias ?? `net${iface.index}`, mac: iface.mac as string, targetDev: iface.target?.dev, deleted, liveXml };
}
