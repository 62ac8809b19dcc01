// The verbs netfd offers both on this host and through the agent, as one
// interface: a Backend. local.ts does them here (netdev, qemu, network,
// host); remote.ts asks the agent (`--connect SOCKET`) and does the qemu
// half in this process. The CLI writes each verb once, against a Backend
// (libvirt's driver table: src/driver-hypervisor.h, filled by the qemu and
// the remote driver alike).
import type { ProbeReport, CheckId } from '../host/probe';
import type { Exit } from '../qemu/launch';
import type { RunState } from '../qemu/runstate';
import type { NetworkRow } from '../network/store';
import type { DomainXml } from '../xml/domain';

/** Options every backend takes when it is made. */
export interface BackendOptions {
  /** --state-dir: the live state (local), or this user's own directory for QMP sockets and pid files (remote). */
  stateDir?: string | undefined;
  /** --netns NAME|PATH (local). */
  netns?: string | undefined;
  /** --vhost-device PATH (local). */
  vhostDevice?: string | undefined;
  /** Library warnings (a reclaimed connection, a missing PCI address). */
  onWarning?: ((message: string) => void) | undefined;
}

/** One domain in `list`: the same row here and through the agent (virsh list's Id/Name/State, and the devices). */
export interface DomainRow {
  name: string;
  /** qemu's pid; null: none known (prepared only, or not launched by this user). */
  pid: number | null;
  /**
   * Here: running, prepared, or stale (qemu gone). Through the agent, the agent's word: held (by the
   * asking connection), held elsewhere (by another of this user's), unclaimed (in the grace period).
   */
  state: string;
  /** The live XML's interfaces (none while it is being prepared or released). */
  interfaces: { dev?: string | undefined; mac?: string | undefined; type: string; source: unknown }[];
}

/** What `launch` options a backend takes. */
export interface LaunchRequest {
  qemu?: string | undefined;
  accel?: 'tcg' | 'kvm' | undefined;
  /** Arguments for qemu after netfd's. */
  extraArgs?: string[] | undefined;
}

/** A qemu this process runs, on fds a backend prepared. */
export interface Running {
  name: string;
  pid: number;
  qmp: string;
  /** The vCPUs' state, which the macvtaps follow; null when not followed. */
  runState: RunState | null;
  /** The live XML's path (local); null through the agent, which keeps it. */
  live: string | null;
  /** The agent's socket (remote); null here. */
  agent: string | null;
  /** How qemu ended, after the domain was torn down (local) or released (remote; releaseError if that failed). */
  exited: Promise<Exit & { releaseError?: Error | undefined }>;
  /** SIGTERM to qemu (SIGKILL later); resolves after `exited`. */
  stop(): Promise<unknown>;
  /** Lets go of what the backend holds for it (the agent connection), after `exited`. */
  close(): void;
}

/** What `destroy` did. */
export interface Destroyed {
  /** Links deleted by a teardown from the live XML here (no supervisor did it); null when none was needed. */
  tornDown: { deleted: string[]; skipped: string[] } | null;
}

/** What `attach-interface` did. */
export interface AttachResult {
  alias: string;
  mac: string;
  targetDev: string;
  driver: 'vhost' | 'qemu' | null;
  /** Where qemu put the NIC (bus:slot.function), when it said. */
  pci?: string;
}

/** What `detach-interface` did. */
export interface DetachResult {
  alias: string;
  mac: string;
  targetDev?: string | undefined;
  /** Host links deleted. */
  deleted: string[];
}

/** What `probe` checks. */
export interface ProbeRequest {
  only?: CheckId[] | undefined;
  /** Local only: qemu binaries to try, and other roots for /dev, /proc, /boot. */
  qemu?: string[] | undefined;
  devRoot?: string | undefined;
  procRoot?: string | undefined;
  bootRoot?: string | undefined;
}

/** A started network's pool (each device with its connections). */
export interface NetStarted {
  pool: { dev: string; connections: number }[];
  warnings: string[];
}

/** The verbs, once. Every method is a CLI verb; both backends have all of them. */
export interface Backend {
  /** Prepares the domain's interfaces and runs qemu with their fds, in this process. */
  launch(xml: DomainXml, o: LaunchRequest): Promise<Running>;
  /**
   * Several domains launched at once, their interfaces prepared together
   * (one transaction), each running its own qemu in this process; all or
   * nothing. Here only: through the agent, which prepares one domain per
   * request, it is refused (NOT_SUPPORTED).
   */
  launchMany(xmls: DomainXml[], o: LaunchRequest): Promise<Running[]>;
  list(): Promise<DomainRow[]>;
  /** Stops qemu (SIGTERM, SIGKILL after `graceMs`) and tears the domain down (or has the agent release it). */
  destroy(name: string, o: { graceMs: number }): Promise<Destroyed>;
  dumpxml(name: string, o: { inactive: boolean }): Promise<string>;
  attachInterface(name: string, ifaceXml: string, o: { timeoutMs: number }): Promise<AttachResult>;
  detachInterface(name: string, mac: string, o: { timeoutMs: number }): Promise<DetachResult>;
  probe(o: ProbeRequest): Promise<ProbeReport>;
  netDefine(xml: string): Promise<{ name: string; uuid?: string | undefined; redefined: boolean }>;
  netUndefine(name: string): Promise<{ active: boolean }>;
  netStart(name: string): Promise<NetStarted>;
  netDestroy(name: string): Promise<{ warnings: string[] }>;
  /** Every network this caller may see, active or not, and what could not be read. */
  netList(): Promise<{ rows: NetworkRow[]; warnings: string[] }>;
  netDumpxml(name: string, o: { inactive: boolean }): Promise<string>;
  netAutostart(name: string, enable: boolean): Promise<void>;
}

/** The verbs' names: what test/unit/api checks both backends have, each written once in lib/cli/verbs. */
export const BACKEND_VERBS = [
  'launch',
  'launchMany',
  'list',
  'destroy',
  'dumpxml',
  'attachInterface',
  'detachInterface',
  'probe',
  'netDefine',
  'netUndefine',
  'netStart',
  'netDestroy',
  'netList',
  'netDumpxml',
  'netAutostart',
] as const satisfies readonly (keyof Backend)[];

export type BackendVerb = (typeof BACKEND_VERBS)[number];
