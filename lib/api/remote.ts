// The verbs done through the host agent (`--connect SOCKET`), as an ordinary
// user: the agent makes and deletes the devices and sends their fds; qemu
// runs as this user, its QMP socket and pid file in this user's own state
// directory, and this process does the QMP half of a hotplug.
import fs from 'node:fs';
import { NetfdError, suppress } from '../errors';
import { AgentClient } from '../agent/client';
import { clientStateDir, launchedQmp, launchViaAgent } from '../agent/launch';
import type { ProbeReport } from '../host/probe';
import { interfaceByMac, qmpAttach, qmpDetach, QemuNic } from '../qemu/hotplug';
import { readPidInfo } from '../qemu/launch';
import { formatPci } from '../qemu/pci';
import type { NetworkRow } from '../network/store';
import * as v from '../validate';
import { DomainXml, PciAddress } from '../xml/domain';
import type { AttachResult, Backend, BackendOptions, DetachResult, DomainRow, LaunchRequest, NetStarted, ProbeRequest, Running } from './backend';
import { isQemuOf, terminateQemu } from './terminate';

export class RemoteBackend implements Backend {
  /** The agent's socket. */
  readonly socket: string;
  readonly #o: BackendOptions;

  constructor(socket: string, o: BackendOptions = {}) {
    this.socket = socket;
    this.#o = o;
  }

  #warn(message: string): void {
    (this.#o.onWarning ?? ((m: string) => process.emitWarning(m, 'NetfdWarning')))(message);
  }

  /** Runs `body` with a connection to the agent, closed afterwards. */
  async #with<T>(body: (c: AgentClient) => Promise<T>): Promise<T> {
    const c = await AgentClient.connect(this.socket);
    try {
      return await body(c);
    } finally {
      c.close();
    }
  }

  async #ask<T>(op: Parameters<AgentClient['request']>[0], args: Record<string, unknown> = {}): Promise<T> {
    return (await this.#with((c) => c.request<T>(op, args))).result;
  }

  /** The pid of domain `name`'s qemu when this user launched it (the pid file in its own state directory) and it runs. */
  #qemuPid(name: string): number | null {
    const pid = readPidInfo(clientStateDir(this.#o.stateDir), name)?.pid;
    return pid !== undefined && isQemuOf(pid, name) ? pid : null;
  }

  /** qemu runs as this user; the agent releases the domain when qemu exits. */
  async launch(xml: DomainXml, o: LaunchRequest): Promise<Running> {
    const client = await AgentClient.connect(this.socket);
    let l;
    try {
      l = await launchViaAgent(client, xml.text, { stateDir: this.#o.stateDir, qemu: o.qemu, accel: o.accel, extraArgs: o.extraArgs });
    } catch (err) {
      client.close();
      throw err;
    }
    const launched = l;
    return { name: l.name, pid: l.pid, qmp: l.qmp, runState: l.runState, live: null, agent: this.socket, exited: l.exited, stop: () => launched.stop(), close: () => launched.close() };
  }

  /** Refused: the agent prepares one domain per request, so there is nothing to prepare together; launch each domain on its own. */
  async launchMany(xmls: DomainXml[]): Promise<Running[]> {
    throw new NetfdError(
      `launching several domains at once (${xmls.map((x) => x.def.name).join(', ')}) is not available through the agent at ${this.socket}: it prepares one domain per request; launch each domain on its own`,
      { code: 'NOT_SUPPORTED', field: 'connect', value: this.socket },
    );
  }

  async list(): Promise<DomainRow[]> {
    const rows = await this.#ask<{ name: string; state: string; interfaces: DomainRow['interfaces'] }[]>('list');
    return rows.map((r) => ({ name: r.name, pid: this.#qemuPid(r.name), state: r.state, interfaces: r.interfaces }));
  }

  /** This user's qemu is stopped (when it runs from here), then the agent releases the domain. */
  async destroy(name: string, o: { graceMs: number }) {
    let qmp: string | undefined;
    try {
      qmp = launchedQmp(name, this.#o.stateDir);
    } catch {
      // prepared only, or launched elsewhere: the agent still releases it
    }
    const pidFile = qmp?.replace(/\.qmp$/, '.pid');
    const pid = pidFile && fs.existsSync(pidFile) ? (JSON.parse(fs.readFileSync(pidFile, 'utf8')) as { pid: number }).pid : undefined;
    // The launching netfd releases the domain once qemu is gone.
    if (pid !== undefined && isQemuOf(pid, name)) await terminateQemu(pid, name, o.graceMs, () => !isQemuOf(pid, name) && !fs.existsSync(pidFile as string));
    await this.#ask('release', { name }).catch((e) => {
      // The launching process released it when qemu went.
      if ((e as NetfdError).code !== 'ENOENT' || pid === undefined) throw e;
    });
    return { tornDown: null };
  }

  async dumpxml(name: string, o: { inactive: boolean }): Promise<string> {
    return (await this.#ask<{ xml: string }>('dumpxml', { name, ...(o.inactive ? { inactive: true } : {}) })).xml;
  }

  async attachInterface(name: string, ifaceXml: string, o: { timeoutMs: number }): Promise<AttachResult> {
    const qmp = launchedQmp(name, this.#o.stateDir);
    type R = { alias: string; mac: string; targetDev: string; driver: 'vhost' | 'qemu' | null; nic: QemuNic; tapFds: number; vhostFds: number };
    return this.#with(async (c) => {
      const { result: r, fds } = await c.request<R>('attach', { name, xml: ifaceXml });
      let pci: PciAddress | null;
      try {
        pci = (await qmpAttach(qmp, r.nic, fds.slice(0, r.tapFds), fds.slice(r.tapFds), o.timeoutMs)).pci;
      } catch (err) {
        await c.request('detach', { name, mac: r.mac }).catch((e) => {
          suppress(err, e, 'giving the device back to the agent');
        });
        throw err;
      } finally {
        for (const fd of fds) fs.closeSync(fd);
      }
      // The agent keeps the live XML: it records where qemu put the NIC.
      if (pci) await c.request('record-pci', { name, addresses: [`${r.alias}=${formatPci(pci)}`] }).catch((e) => this.#warn(`${r.alias}'s PCI address was not recorded: ${(e as Error).message}`));
      else this.#warn(`qemu did not say where ${r.alias} went (query-pci); the live XML has no <address> for it`);
      return { alias: r.alias, mac: r.mac, targetDev: r.targetDev, driver: r.driver, ...(pci ? { pci: formatPci(pci) } : {}) };
    });
  }

  async detachInterface(name: string, given: string, o: { timeoutMs: number }): Promise<DetachResult> {
    const mac = v.mac(given, 'mac');
    const qmp = launchedQmp(name, this.#o.stateDir);
    return this.#with(async (c) => {
      const live = DomainXml.parse((await c.request<{ xml: string }>('dumpxml', { name })).result.xml, { live: true });
      const { plan } = interfaceByMac(name, live, mac, given);
      await qmpDetach(qmp, plan, o.timeoutMs);
      const { result: d } = await c.request<DetachResult>('detach', { name, mac });
      return { alias: d.alias, mac: d.mac, targetDev: d.targetDev, deleted: d.deleted };
    });
  }

  /** The agent's probe (qemu from the agent's PATH): only the checks can be chosen. */
  async probe(o: ProbeRequest): Promise<ProbeReport> {
    const { only, ...local } = o;
    const given = Object.entries(local).find(([, x]) => x !== undefined);
    if (given)
      throw new NetfdError(`probe ${given[0]} is not sent to the agent: it probes with its own; run netfd probe without --connect`, { code: 'NOT_SUPPORTED', field: given[0], value: given[1] });
    return this.#ask<ProbeReport>('probe', only ? { only } : {});
  }

  netDefine(xml: string) {
    return this.#ask<{ name: string; uuid?: string; redefined: boolean }>('net-define', { xml });
  }

  netUndefine(name: string) {
    return this.#ask<{ active: boolean }>('net-undefine', { name });
  }

  netStart(name: string) {
    return this.#ask<NetStarted>('net-start', { name });
  }

  netDestroy(name: string) {
    return this.#ask<{ warnings: string[] }>('net-destroy', { name });
  }

  netList() {
    return this.#ask<{ rows: NetworkRow[]; warnings: string[] }>('net-list', { all: true });
  }

  async netDumpxml(name: string, o: { inactive: boolean }): Promise<string> {
    return (await this.#ask<{ xml: string }>('net-dumpxml', { name, ...(o.inactive ? { inactive: true } : {}) })).xml;
  }

  async netAutostart(name: string, enable: boolean): Promise<void> {
    await this.#ask('net-autostart', { name, enable });
  }
}
