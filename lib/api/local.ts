// The verbs done on this host, as root: the devices through netdev/, qemu
// through qemu/, networks through network/, the probe through host/.
import fs from 'node:fs';
import { NetfdError } from '../errors';
import type { ProbeReport } from '../host/probe';
import type { Networks } from '../netdev/networks';
import { inactiveXmlPath, liveXmlPath, objectNames, stateDir } from '../state/dirs';
import { pidAlive } from '../state/pidfile';
import type { DomainXml } from '../xml/domain';
import type { AttachResult, Backend, BackendOptions, DetachResult, DomainRow, LaunchRequest, NetStarted, ProbeRequest, Running } from './backend';

// The layers below are loaded by the verbs that use them (a CLI call runs one verb).
const networks = async (): Promise<Networks> => new (await import('../netdev/networks')).Networks();

/** A live XML's interfaces, as `list` shows them (none when it cannot be read). */
export function listedInterfaces(file: string): DomainRow['interfaces'] {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when there is a domain to list
    const { DomainXml } = require('../xml/domain') as typeof import('../xml/domain');
    return DomainXml.parse(fs.readFileSync(file, 'utf8'), { live: true }).def.interfaces.map((i) => ({ dev: i.target?.dev, mac: i.mac, type: i.type, source: i.source }));
  } catch {
    return []; // being prepared or torn down
  }
}

export class LocalBackend implements Backend {
  readonly #o: BackendOptions;

  constructor(o: BackendOptions = {}) {
    this.#o = o;
  }

  #dir(): string {
    return stateDir(this.#o.stateDir);
  }

  /** The live XML of domain `name`; ENOENT when there is none. */
  #live(name: string): string {
    const dir = this.#dir();
    const live = liveXmlPath(dir, name);
    if (!fs.existsSync(live)) throw new NetfdError(`no domain named ${name} in ${dir}`, { code: 'ENOENT', field: 'name', value: name });
    return live;
  }

  async launch(xml: DomainXml, o: LaunchRequest): Promise<Running> {
    const { netns, stateDir: dir, vhostDevice, onWarning } = this.#o;
    const { launchDomain } = await import('../qemu/launch');
    const l = await launchDomain(xml, { netns, stateDir: dir, vhostDevice, onWarning, qemu: o.qemu, accel: o.accel, extraArgs: o.extraArgs });
    return { name: l.domain.name, pid: l.pid, qmp: l.qmp, runState: l.runState, live: l.domain.statePath, agent: null, exited: l.exited, stop: () => l.stop(), close: () => undefined };
  }

  async launchMany(xmls: DomainXml[], o: LaunchRequest): Promise<Running[]> {
    const { netns, stateDir: dir, vhostDevice, onWarning } = this.#o;
    const { launchDomains } = await import('../qemu/fleet');
    const ls = await launchDomains(xmls, { netns, stateDir: dir, vhostDevice, onWarning, qemu: o.qemu, accel: o.accel, extraArgs: o.extraArgs });
    return ls.map((l) => ({
      name: l.domain.name,
      pid: l.pid,
      qmp: l.qmp,
      runState: l.runState,
      live: l.domain.statePath,
      agent: null,
      exited: l.exited,
      stop: () => l.stop(),
      close: () => undefined,
    }));
  }

  async list(): Promise<DomainRow[]> {
    const dir = this.#dir();
    const names = objectNames(dir);
    if (!names.length) return [];
    const { readPidInfo } = await import('../qemu/launch');
    return names.map((name) => {
      const pid = readPidInfo(dir, name)?.pid ?? null; // null: prepared, not launched
      return { name, pid, state: pid === null ? 'prepared' : pidAlive(pid) ? 'running' : 'stale', interfaces: listedInterfaces(liveXmlPath(dir, name)) };
    });
  }

  async destroy(name: string, o: { graceMs: number }) {
    const dir = this.#dir();
    const live = this.#live(name);
    const [{ pidPath, qmpPath, readPidInfo }, { isQemuOf, terminateQemu }, { teardownFromLive }] = await Promise.all([import('../qemu/launch'), import('./terminate'), import('../netdev/teardown')]);
    const info = readPidInfo(dir, name); // null: prepared only
    const pid = info && isQemuOf(info.pid, name) ? info.pid : null;
    if (pid !== null) await terminateQemu(pid, name, o.graceMs, () => !fs.existsSync(live) && !isQemuOf(pid, name));
    if (!fs.existsSync(live)) return { tornDown: null };
    // No supervisor did it (it was killed, or the domain was only prepared).
    const tornDown = await teardownFromLive(name, { stateDir: dir, netns: this.#o.netns ?? info?.netns ?? undefined, onWarning: this.#o.onWarning });
    for (const f of [pidPath(dir, name), qmpPath(dir, name)]) fs.rmSync(f, { force: true });
    return { tornDown };
  }

  async dumpxml(name: string, o: { inactive: boolean }): Promise<string> {
    this.#live(name);
    const file = o.inactive ? inactiveXmlPath(this.#dir(), name) : liveXmlPath(this.#dir(), name);
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new NetfdError(`cannot read ${file}: ${e.message}`, { code: (e.code ?? 'EIO') as 'EIO', errno: e.errno, syscall: e.syscall });
    }
  }

  async attachInterface(name: string, ifaceXml: string, o: { timeoutMs: number }): Promise<AttachResult> {
    const { netns, stateDir: dir, vhostDevice, onWarning } = this.#o;
    const [{ attachInterface }, { formatPci }] = await Promise.all([import('../qemu/hotplug'), import('../qemu/pci')]);
    const { liveXml: _, pci, ...r } = await attachInterface(name, ifaceXml, { netns, stateDir: dir, vhostDevice, timeoutMs: o.timeoutMs, onWarning });
    return { ...r, ...(pci ? { pci: formatPci(pci) } : {}) };
  }

  async detachInterface(name: string, mac: string, o: { timeoutMs: number }): Promise<DetachResult> {
    const { netns, stateDir: dir, onWarning } = this.#o;
    const { detachInterface } = await import('../qemu/hotplug');
    const { liveXml: _, ...r } = await detachInterface(name, { mac }, { netns, stateDir: dir, timeoutMs: o.timeoutMs, onWarning });
    return r;
  }

  async probe(o: ProbeRequest): Promise<ProbeReport> {
    return (await import('../host/probe')).probeHost({ ...o, vhostDevice: this.#o.vhostDevice });
  }

  async netDefine(xml: string) {
    return (await networks()).define(xml);
  }

  async netUndefine(name: string) {
    return (await networks()).undefine(name);
  }

  async netStart(name: string): Promise<NetStarted> {
    const s = await (await networks()).start(name);
    return { pool: s.pool, warnings: s.warnings };
  }

  async netDestroy(name: string) {
    return (await networks()).destroy(name);
  }

  async netList() {
    return (await networks()).list();
  }

  async netDumpxml(name: string, o: { inactive: boolean }): Promise<string> {
    return (await networks()).dumpxml(name, o);
  }

  async netAutostart(name: string, enable: boolean): Promise<void> {
    (await networks()).setAutostart(name, enable);
  }
}
