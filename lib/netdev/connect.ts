// What the per-type connect functions (ethernet.ts, bridge.ts, direct.ts)
// share: the options of a domain's host side, the steps of setup, the
// context a connect function runs in and what it returns.
import { NetfdError, NetfdErrorCode } from '../errors';
import { FdSet } from '../sys/fds';
import type { LinkInfo, Target } from '../sys/link';
import type { Accel, GuestMac, InterfacePlan } from '../policy';
import { runScript } from './hostconfig';
import type { Tx } from './tx';

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

/** Options of `prepareHost` (and of prepareDomain and launchDomain). */
export interface PrepareOptions extends DomainHostOptions {
  /** Random bytes for generated MACs (default crypto.randomBytes). */
  random?: ((n: number) => Uint8Array) | undefined;
  /** The guest MACs, chosen beforehand (`domainMacs`), e.g. to record them first. */
  macs?: GuestMac[] | undefined;
  /**
   * Create netfd's macvtaps down (IFF_UP off), as libvirt does: a macvtap
   * shares the guest's MAC, so it stays offline until the vCPUs run
   * (`PreparedHost.setRunning(true)`, or `setInterfaceLinks`). Default
   * false: up at once. Taps are up either way, as in libvirt.
   */
  macvtapsDown?: boolean | undefined;
  /**
   * The namespace's links as the caller listed them just before (the agent
   * lists them once for its link group and its preflight alike): preflight
   * uses these instead of a listing of its own. Older than that, a name or
   * MAC taken since would go unseen.
   */
  links?: readonly LinkInfo[] | undefined;
  /**
   * False: no inactive XML (NAME.inactive) is written beside the live XML;
   * the caller keeps the definition itself (the agent's record holds it).
   * Default true.
   */
  inactiveXml?: boolean | undefined;
  /**
   * Called after each step has succeeded; a throw aborts setup and rolls
   * everything back, as a failure of the step itself would. For tests.
   */
  afterStep?: ((step: Step, iface: number) => void | Promise<void>) | undefined;
}

/** What a connect function works with: the transaction it records links in, the options, the links preflight saw. */
export interface ConnectContext {
  tx: Tx;
  netns: string | undefined;
  o: PrepareOptions;
  /** The namespace's links as preflight listed them (empty when none was needed). */
  links: readonly LinkInfo[];
  /** Reports a step done (PrepareOptions.afterStep). */
  step(s: Step, iface: number): Promise<void>;
}

/** An interface's device, connected: its fds are the caller's from here on. */
export interface Connected {
  name: string;
  ifindex: number;
  kind: 'tap' | 'macvtap';
  /** The tap or macvtap queue fds. */
  fds: FdSet;
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

/** Runs `fn` (the steps after fds were opened); on its failure `fds` are closed before the error goes on. */
export async function closingOnError<T>(fds: FdSet, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    try {
      fds.close();
    } catch {
      // the step's own error is the one to report
    }
    throw err;
  }
}

/** <downscript> once the device is gone, as libvirt runs it; a failure is a warning (the device is gone anyway). */
export const downscript = (path: string, dev: string, at: string, warn: (m: string) => void) => () => runScript(path, dev, `${at}/downscript/@path`).catch((e) => warn((e as Error).message));

export const warnOf = (o: DomainHostOptions) => o.onWarning ?? ((m: string) => process.emitWarning(m, 'NetfdWarning'));

export function fieldError(code: NetfdErrorCode, field: string, value: unknown, message: string): NetfdError {
  return new NetfdError(`${field}: ${message}`, { code, field, value });
}

/** A link of the namespace using one of `macs`, among `candidates`. */
export const macUser = (candidates: LinkInfo[], macs: string[]): LinkInfo | undefined => candidates.find((l) => l.mac !== null && macs.includes(l.mac));

/** An interface of the plan given `plan.link`'s exact name (not a template) that already exists: EEXIST. */
export function checkNameFree(p: InterfacePlan, byName: ReadonlyMap<string, LinkInfo>): void {
  const link = p.link;
  if (link.kind !== 'existing' && !link.name.includes('%') && byName.has(link.name))
    throw fieldError('EEXIST', `${p.path}/target/@dev`, link.name, `a link named ${link.name} already exists; choose another target dev or omit it`);
}
