// A domain prepared for qemu: what lib/netdev prepared on the host (devices,
// fds, driver decisions) with qemu's command line for it, the fds numbered
// in the spawn slots they take (fdpass.ts); and the same command line
// previewed without changing the host.
import type { PrepareOptions } from '../netdev/connect';
import { prepareHost, PreparedHost, previewInterfaces, PreviewHostOptions } from '../netdev/domain';
import { FleetOptions, prepareHosts } from '../netdev/fleet';
import type { DriverDecision, InterfacePlan, VhostProbe } from '../policy';
import { DomainXml } from '../xml/domain';
import { childFds, domainArgv, NetArgs, netArgv } from './argv';
import { CommandFds, nicFds } from './fdpass';

/** A domain whose interfaces are ready: devices up, fds open, live XML written; and qemu's arguments for them. */
export class PreparedDomain extends PreparedHost {
  /** The interfaces' fds placed on a command line whose slots start at `first`, and their -netdev/-device inputs. */
  #command(first: number): { nets: NetArgs[]; cmd: CommandFds } {
    const cmd = new CommandFds(first);
    const nets = this.interfaces.map((i) => {
      const f = nicFds(i.plan.deviceId, i.fds.fds, i.vhostFds.fds);
      return { plan: i.plan, decision: i.decision, tapFds: f.tap.toCommand(cmd), vhostFds: f.vhost.toCommand(cmd) };
    });
    return { nets, cmd };
  }

  /** The fds qemu needs, in the order of `netArgs()`'s numbering. */
  qemuFds(): number[] {
    return [...this.#command(3).cmd.fds];
  }

  /** -netdev/-device inputs with child fd numbers counted from `first`. */
  netArgs(first = 3): NetArgs[] {
    return this.#command(first).nets;
  }

  /** The qemu command line, fds numbered as `qemuFds()` placed from fd 3 on. */
  argv(o: { qmp?: string | undefined } = {}): string[] {
    return domainArgv(this.xml.def, this.netArgs(), o);
  }
}

/**
 * Prepares every interface of a domain on the host (see `prepareHost`: one
 * transaction, nothing left behind on failure) and gives qemu's arguments
 * for it.
 */
export async function prepareDomain(input: string | DomainXml, o: PrepareOptions = {}): Promise<PreparedDomain> {
  return prepareHost(input, o, PreparedDomain);
}

/**
 * Prepares several domains at once, as ONE transaction: every domain's
 * interfaces are ready and its live XML written, or, on any failure,
 * everything made for any of them is undone (links deleted together, fds
 * closed, state files removed, network connections ended) and the error is
 * rethrown, its message starting with `domain NAME: ` and its `field` the
 * XML field at fault. What a loop of `prepareDomain` calls does once per
 * domain is done once: one listing of the namespace's links for the
 * preflight, the MACs chosen across all (no two guests get the same one; a
 * MAC written in two domains is refused), target dev names checked against
 * each other, an unusable vhost device probed once, the state files fsynced
 * together; and the devices of several domains are made at the same time
 * (`concurrency`). Results are in the order of `inputs`; tear them down
 * together with `teardownHosts` (one group delete for all their links), or
 * each with its `teardown()`.
 */
export async function prepareDomains(inputs: readonly (string | DomainXml)[], o: FleetOptions = {}): Promise<PreparedDomain[]> {
  return prepareHosts(inputs, o, PreparedDomain);
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
export interface PreviewOptions extends PreviewHostOptions {
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
  const { plans, probes, decisions } = await previewInterfaces(xml.def, o);
  const nums = childFds(plans.map((p, n) => ({ tap: p.queues, vhost: decisions[n].vhost ? p.queues : 0 })));
  const nets: NetArgs[] = plans.map((plan, n) => ({ plan, decision: decisions[n], ...nums[n] }));
  const argv = netOnly ? netArgv(nets) : domainArgv(xml.def, nets, { qmp: o.qmp });
  return { xml, plans, probes, decisions, argv };
}
