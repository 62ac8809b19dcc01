// The typed loader for the C++ addon: the whole binding is described here,
// once. Nothing else in lib/ touches the raw module.
import path from 'node:path';
import type {
  NativeLink,
  NativeQdisc,
  NativeAddr,
  NativeRoute,
  NativeLinkRef,
  NativeDecoded,
  NativeEncodeArgs,
  NativeEncodeOp,
  NativeMessage,
  NativeNetnsHandle,
  NativeWhere,
  NativeUnixSocketClass,
  NativePasswd,
  NativeGroup,
} from './native-types';

export type {
  NativeLink,
  NativeBridgeVlan,
  NativeBridgePort,
  NativeQdisc,
  NativeAddr,
  NativeRoute,
  NativeTunInfo,
  NativeLinkRef,
  NativeDecoded,
  NativeEncodeArgs,
  NativeEncodeOp,
  NativeMessage,
  NativeNetnsHandle,
  NativeWhere,
  NativeUnixSocketEvents,
  NativeUnixSocket,
  NativeUnixSocketClass,
  NativePasswd,
  NativeGroup,
} from './native-types';

/** The addon's functions, as the loader returns them. */
export interface NativeBinding {
  createMacvtap(o: NativeWhere & { kind: 'macvtap' | 'macvlan'; parent: NativeLinkRef; mode: number; name?: string; mac?: string; group?: number; into?: string }): Promise<NativeLink>;
  /** /sys/PATH as seen from the namespace (a private sysfs mount on a scratch thread). */
  readSysfs(o: { netns?: string; path: string }): Promise<string>;
  /** `ip link delete group G`: false when no link has it. */
  deleteGroup(o: NativeWhere & { group: number }): Promise<boolean>;
  deleteLink(o: NativeWhere & { link: NativeLinkRef }): Promise<void>;
  deleteLinks(o: NativeWhere & { indexes: number[]; via?: number }): Promise<{ deleted: number; grouped: boolean }>;
  setLink(o: NativeWhere & { link: NativeLinkRef; up?: boolean; mac?: string; master?: NativeLinkRef | null; group?: number; mtu?: number }): Promise<void>;
  getLink(o: NativeWhere & { link: NativeLinkRef }): Promise<NativeLink>;
  listLinks(o: NativeWhere): Promise<NativeLink[]>;
  /** The link group of every link (each once): listLinks' groups without the rest. */
  linkGroups(o: NativeWhere): Promise<number[]>;
  /** `bridge link set dev LINK isolated on|off` (RTM_SETLINK, AF_BRIDGE, IFLA_PROTINFO). */
  setBridgePort(o: { netns?: string; link: NativeLinkRef; isolated?: boolean }): Promise<void>;
  /** Every AF_BRIDGE entry of the namespace (RTM_GETLINK dump, RTEXT_FILTER_BRVLAN). */
  listBridgePorts(o: { netns?: string }): Promise<NativeLink[]>;
  /** `bridge vlan add dev LINK vid VID [pvid] [untagged]`; vid 0..4095 (the kernel judges 0 and 4095). */
  addBridgeVlan(o: { netns?: string; link: NativeLinkRef; vid: number; pvid?: boolean; untagged?: boolean }): Promise<void>;
  /** `bridge vlan del dev LINK vid VID` */
  deleteBridgeVlan(o: { netns?: string; link: NativeLinkRef; vid: number }): Promise<void>;
  /** `tc qdisc replace dev LINK root KIND` */
  setRootQdisc(o: { netns?: string; link: NativeLinkRef; kind: string }): Promise<void>;
  /** `tc qdisc show` (RTM_GETQDISC dump) */
  listQdiscs(o: { netns?: string }): Promise<NativeQdisc[]>;
  /** `ethtool -c LINK` (SIOCETHTOOL ETHTOOL_GCOALESCE) */
  getCoalesce(o: { netns?: string; link: NativeLinkRef }): Promise<{ rxMaxFrames: number }>;
  /** `ethtool -C LINK rx-frames N` (GCOALESCE, SCOALESCE, GCOALESCE): what the driver kept. */
  setCoalesce(o: { netns?: string; link: NativeLinkRef; rxMaxFrames?: number }): Promise<{ rxMaxFrames: number }>;
  /** `ip addr add ADDRESS/PREFIX [peer PEER] [broadcast BRD] dev LINK` */
  addAddress(o: { netns?: string; link: NativeLinkRef; address: string; prefix: number; peer?: string; broadcast?: string }): Promise<void>;
  /** `ip addr show` (RTM_GETADDR dump) */
  listAddresses(o: { netns?: string; family?: 'inet' | 'inet6' }): Promise<NativeAddr[]>;
  /** `ip route add ADDRESS/PREFIX [via GATEWAY] dev LINK proto P [metric M]` (table main) */
  addRoute(o: { netns?: string; link: NativeLinkRef; address: string; prefix: number; gateway?: string; metric?: number; protocol: number }): Promise<void>;
  /** `ip route show table all` (RTM_GETROUTE dump) */
  listRoutes(o: { netns?: string; family?: 'inet' | 'inet6' }): Promise<NativeRoute[]>;
  tunFeatures(o: { netns?: string; device?: string }): Promise<number>;
  createTap(o: {
    netns?: string;
    device?: string;
    name?: string;
    vnetHdr?: boolean;
    queues?: number;
    multiQueue?: boolean;
    exclusive?: boolean;
    persist?: boolean;
    owner?: number;
    group?: number;
    /**
     * Set on the new tap in the same job: the root qdisc `qdisc` (a kind
     * without options) while it is down, a failure reported as qdiscError;
     * then the rest in one RTM_SETLINK, a failure deleting the tap.
     */
    setup?: { qdisc?: string; up?: boolean; mac?: string; master?: NativeLinkRef; group?: number; mtu?: number };
  }): Promise<{ name: string; ifindex: number; features: number; fds: number[]; qdiscError?: string }>;
  openMacvtap(o: { netns?: string; link: NativeLinkRef; queues?: number; vnetHdr?: boolean; devDir?: string }): Promise<{
    name: string;
    ifindex: number;
    major: number;
    minor: number;
    node: string | null;
    privateNode: boolean;
    fds: number[];
  }>;
  openVhost(o: { path: string; count?: number }): Promise<{ fds: number[]; features: bigint | null }>;
  kvmApiVersion(o: { path?: string }): Promise<number>;
  peerCred(sock: number): { pid: number; uid: number; gid: number };
  socketPair(type?: 'seqpacket' | 'stream'): [number, number];
  /** A listening AF_UNIX SOCK_SEQPACKET socket at `path` (O_CLOEXEC, O_NONBLOCK). */
  unixListen(path: string, backlog?: number): number;
  /**
   * A listening AF_UNIX SOCK_STREAM socket at `path` for a child to take
   * (O_CLOEXEC, blocking), its file made with `mode` less the umask.
   */
  unixStreamListen(path: string, backlog: number, mode: number): number;
  /** A SOCK_SEQPACKET socket connected to `path` (O_CLOEXEC). */
  unixConnect(path: string): Promise<number>;
  /** accept4 (O_CLOEXEC, O_NONBLOCK); -1 when no connection waits. */
  acceptNow(fd: number): number;
  /** One message without waiting; null when none waits. */
  recvNow(fd: number, maxBytes: number, maxFds: number): NativeMessage | null;
  /** One message without waiting; -1 when the socket has no room now. */
  sendNow(fd: number, data: Buffer, fds?: number[]): number;
  socketInfo(fd: number): { family: 'unix' | 'inet' | 'inet6' | 'other'; type: 'seqpacket' | 'stream' | 'dgram' | 'other'; listening: boolean };
  setNonblock(fd: number): void;
  UnixSocket: NativeUnixSocketClass;
  // Accounts through NSS (getpwnam_r, getpwuid_r, getgrnam_r, getgrouplist),
  // synchronous: they block for as long as the name service takes. null is
  // "no such account"; a failed lookup throws with code (the errno's name),
  // errno and syscall.
  getpwnam(name: string): NativePasswd | null;
  getpwuid(uid: number): NativePasswd | null;
  getgrnam(name: string): NativeGroup | null;
  /** `gid` and the gids of every group listing `user`; an unknown user gives [gid]. */
  getgrouplist(user: string, gid: number): number[];
  /** close(2). (The TS wrapper is closeFd; lib/agent and lib/qemu call this name directly.) */
  close(fd: number): void;
  /** A NETLINK_ROUTE socket made inside `netns` once (the worker enters it and comes back), for `handle`. */
  openNetnsHandle(o: { netns: string }): Promise<NativeNetnsHandle>;
  /** Closes the handle's socket (after the operation under way); later operations with it are EBADF. */
  closeNetnsHandle(h: NativeNetnsHandle): void;
  /**
   * Closes the idle sockets of the netlink socket cache now; returns how many. Operations without
   * a handle keep their NETLINK_ROUTE socket for the next one in the same namespace (at most 8 idle
   * per namespace, each closed after 1 s unused): call this before counting the process's fds or
   * to let a namespace just removed go at once.
   */
  closeNetlinkCache(): number;
  /** Idle sockets in the netlink socket cache now. */
  netlinkCacheSize(): number;
  /** flock(fd, LOCK_EX | LOCK_NB), (LOCK_SH | LOCK_NB) or LOCK_UN: false when another open file holds a conflicting lock. */
  flock(fd: number, op: 'exclusive' | 'shared' | 'unlock'): boolean;
  /**
   * Opens `path` (O_CREAT, O_CLOEXEC, O_NOFOLLOW, 0644) and takes flock on it, waiting up to
   * timeoutMs (default -1: forever) on a thread of its own: the fd, or null when the time ran out.
   * The lock is on the file at `path` when it is taken (one its holder removed is opened anew).
   * `note` (exclusive only): the file's new text once the lock is taken (who holds it).
   */
  lockFile(o: { path: string; shared?: boolean; timeoutMs?: number; note?: string }): Promise<number | null>;
  /**
   * lockFile without waiting, on the calling thread (flock LOCK_NB): the fd, or null when another
   * open file holds a conflicting lock. `note` (exclusive only): the file's new text once locked.
   */
  tryLockFile(o: { path: string; shared?: boolean; note?: string }): number | null;
  /** Removes `path` when `fd` is its only holder (still holding it; `exclusive`: known to be), then closes `fd`. */
  unlockFile(fd: number, path: string, exclusive?: boolean): void;
  /** FD_CLOEXEC on every fd >= from (close_range CLOSE_RANGE_CLOEXEC). */
  cloexecFrom(from: number): void;
  nlEncode(op: NativeEncodeOp, args?: NativeEncodeArgs): Buffer;
  nlDecode(data: Buffer): NativeDecoded[];
  nlRequest(o: { netns?: string; request: Buffer }): Promise<Buffer[]>;
  constants: {
    macvlanModes: { private: number; vepa: number; bridge: number; passthru: number; source: number };
    tunFeatures: { IFF_TUN: number; IFF_TAP: number; IFF_NO_PI: number; IFF_VNET_HDR: number; IFF_MULTI_QUEUE: number; IFF_NAPI: number };
    vnetHdrSize: number;
    ifNameSize: number;
    routeProtocols: { kernel: number; boot: number; static: number };
    routeScopes: { universe: number; link: number; host: number };
    rtTableMain: number;
    rtnUnicast: number;
    bridgePortStates: { disabled: number; listening: number; learning: number; forwarding: number; blocking: number };
  };
}

const root = path.resolve(__dirname, '..', '..');

/** Where the addon is looked for: NETFD_NATIVE, then node-gyp's and cmake-js's outputs. */
export function nativeCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const list = [path.join(root, 'build', 'Release', 'netfd.node'), path.join(root, 'build-cmake', 'Release', 'netfd.node')];
  return env.NETFD_NATIVE ? [path.resolve(env.NETFD_NATIVE)] : list;
}

let cached: NativeBinding | undefined;

/** Loads the addon once. Throws an error that says how to build it. */
export function native(): NativeBinding {
  if (cached) return cached;
  const tried: string[] = [];
  for (const file of nativeCandidates()) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known only at run time
      cached = require(file) as NativeBinding;
      return cached;
    } catch (err) {
      tried.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const e = new Error(`netfd: the native addon is not built (run \`npm install\` or \`npm run build:cmake\`); tried ${tried.join('; ')}`);
  (e as NodeJS.ErrnoException).code = 'NATIVE_MISSING';
  throw e;
}
