// The typed loader for the C++ addon: the whole binding is described here,
// once. Nothing else in lib/ touches the raw module.
import path from 'node:path';

/** A link as the kernel describes it (RTM_NEWLINK). Absent values are null. */
export interface NativeLink {
  index: number;
  name: string;
  flags: number;
  up: boolean;
  lowerUp: boolean;
  type: number;
  mtu: number;
  parent: number | null;
  master: number | null;
  group: number | null;
  linkNetnsId: number | null;
  operstate: number | null;
  numTxQueues: number | null;
  numRxQueues: number | null;
  mac: string | null;
  kind: string | null;
  macvlanMode: number | null;
  tun: NativeTunInfo | null;
  /** ifi_family: 0 (AF_UNSPEC), or AF_BRIDGE in bridge dumps. */
  family: number;
  /** kind 'bridge': IFLA_BR_VLAN_FILTERING; null for other kinds. */
  bridgeVlanFiltering: boolean | null;
  /** Entries of an AF_BRIDGE dump (IFLA_PROTINFO, IFLA_AF_SPEC); null otherwise. */
  bridgePort: NativeBridgePort | null;
}

export interface NativeBridgeVlan {
  vid: number;
  flags: number;
  pvid: boolean;
  untagged: boolean;
}

/** IFLA_PROTINFO (IFLA_BRPORT_*) and IFLA_AF_SPEC VLANs of a bridge port. */
export interface NativeBridgePort {
  /** False for the bridge's own entry, which has no IFLA_PROTINFO. */
  protinfo: boolean;
  state: number | null;
  learning: number | null;
  unicastFlood: number | null;
  isolated: number | null;
  vlans: NativeBridgeVlan[];
}

export interface NativeQdisc {
  index: number;
  handle: number;
  parent: number;
  root: boolean;
  kind: string;
}

export interface NativeAddr {
  family: 'inet' | 'inet6' | 'other';
  index: number;
  prefix: number;
  flags: number;
  scope: number;
  address: string | null;
  local: string | null;
  broadcast: string | null;
  label: string | null;
}

export interface NativeRoute {
  family: 'inet' | 'inet6' | 'other';
  dst: string | null;
  dstLen: number;
  gateway: string | null;
  prefsrc: string | null;
  oif: number | null;
  metric: number | null;
  table: number;
  protocol: number;
  scope: number;
  type: number;
}

export interface NativeTunInfo {
  type: number | null;
  pi: number | null;
  vnetHdr: number | null;
  persist: number | null;
  multiQueue: number | null;
  numQueues: number | null;
  numDisabledQueues: number | null;
  owner: number | null;
  group: number | null;
}

/** A link named by ifindex or by name. */
export type NativeLinkRef = number | string;

export interface NativeDecoded {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  kind: 'error' | 'ack' | 'done' | 'link' | 'qdisc' | 'addr' | 'route' | 'other';
  error?: number;
  code?: string | null;
  extack?: string;
  extackOffset?: number;
  link?: NativeLink;
  qdisc?: NativeQdisc;
  addr?: NativeAddr;
  route?: NativeRoute;
}

export interface NativeEncodeArgs {
  seq?: number;
  link?: NativeLinkRef;
  /** 'macvtap' | 'macvlan' for newlink-macvlan; a qdisc kind for replace-root-qdisc. */
  kind?: string;
  parent?: number;
  mode?: number;
  name?: string;
  mac?: string;
  up?: boolean;
  master?: number;
  group?: number;
  mtu?: number;
  isolated?: boolean;
  vid?: number;
  pvid?: boolean;
  untagged?: boolean;
  address?: string;
  prefix?: number;
  peer?: string;
  broadcast?: string;
  gateway?: string;
  metric?: number;
  protocol?: number;
  scope?: number;
  family?: 'inet' | 'inet6';
}

export type NativeEncodeOp =
  | 'newlink-macvlan'
  | 'getlink'
  | 'dumplinks'
  | 'dellink'
  | 'delgroup'
  | 'setlink'
  | 'setbridgeport'
  | 'bridgevlan-add'
  | 'bridgevlan-del'
  | 'dumpbridgeports'
  | 'replace-root-qdisc'
  | 'dumpqdiscs'
  | 'newaddr'
  | 'dumpaddrs'
  | 'newroute'
  | 'dumproutes';

export interface NativeMessage {
  data: Buffer;
  /** Owned by the caller. */
  fds: number[];
  /** The message's real length (more than data.length when truncated). */
  size: number;
  truncated: boolean;
  /** More fds came than maxFds; the kernel closed the rest. */
  ctrunc: boolean;
  eof: boolean;
}

/** An open netlink socket in a namespace (openNetnsHandle); opaque. */
export interface NativeNetnsHandle {
  readonly __netnsHandle: never;
}

/** Where a link operation runs: namespace `netns` (a socket per call), or an open `handle`. */
export interface NativeWhere {
  netns?: string | undefined;
  handle?: NativeNetnsHandle | undefined;
}

/**
 * The events of a {@link NativeUnixSocket}, called on Node's loop like Node's
 * own callbacks: one that throws goes to 'uncaughtException' (and the fds of
 * a message it was given are closed, as it did not take them).
 */
export interface NativeUnixSocketEvents {
  /** A message (seqpacket), some bytes (stream), or the end (`eof`); the fds are the callee's once it returns. */
  message?: (m: NativeMessage) => void;
  /** An accepted connection (O_CLOEXEC, O_NONBLOCK), the callee's once it returns. */
  connection?: (fd: number) => void;
  /** A connect finished: null, or why it failed. */
  connect?: (err: Error | null) => void;
  /** There is room to send again (after waitWritable). */
  writable?: () => void;
  /** recvmsg or accept4 failed; reading (accepting) stopped until started again. */
  error?: (err: Error) => void;
}

/** One non-blocking unix socket watched by uv_poll on Node's own loop (native/uvsock.h). */
export interface NativeUnixSocket {
  /** The fd, or -1 once closed (or before one is set). */
  readonly fd: number;
  /** Watches an fd; owned, close() closes it; borrowed, close() gives back its O_NONBLOCK flag. */
  adopt(fd: number, own: boolean): void;
  /** bind + listen at `path` (which must not exist). */
  listen(path: string, type: 'stream' | 'seqpacket', backlog: number): void;
  /** Throws what fails at once (ENOENT, ECONNREFUSED, EAGAIN: the backlog is full); else events.connect follows. */
  connect(path: string, type: 'stream' | 'seqpacket'): void;
  readStart(maxBytes: number, maxFds: number): void;
  readStop(): void;
  acceptStart(): void;
  acceptStop(): void;
  /** One sendmsg with `fds` (they stay the caller's): bytes sent, or -1 when there is no room. */
  send(data: Buffer, fds?: number[]): number;
  /** events.writable once the socket has room. */
  waitWritable(): void;
  /** SO_PEERCRED */
  peerCred(): { pid: number; uid: number; gid: number };
  ref(): void;
  unref(): void;
  /** Once; no event follows. */
  close(): void;
}
export type NativeUnixSocketClass = new (events: NativeUnixSocketEvents) => NativeUnixSocket;

/** A passwd entry from the name service switch. */
export interface NativePasswd {
  name: string;
  uid: number;
  gid: number;
}

/** A group entry from the name service switch (members are not returned). */
export interface NativeGroup {
  name: string;
  gid: number;
}

export interface NativeBinding {
  createMacvtap(o: NativeWhere & { kind: 'macvtap' | 'macvlan'; parent: NativeLinkRef; mode: number; name?: string; mac?: string; group?: number }): Promise<NativeLink>;
  /** /sys/PATH as seen from the namespace (a private sysfs mount on a scratch thread). */
  readSysfs(o: { netns?: string; path: string }): Promise<string>;
  /** `ip link delete group G`: false when no link has it. */
  deleteGroup(o: NativeWhere & { group: number }): Promise<boolean>;
  deleteLink(o: NativeWhere & { link: NativeLinkRef }): Promise<void>;
  deleteLinks(o: NativeWhere & { indexes: number[] }): Promise<{ deleted: number; grouped: boolean }>;
  setLink(o: NativeWhere & { link: NativeLinkRef; up?: boolean; mac?: string; master?: NativeLinkRef | null; group?: number; mtu?: number }): Promise<void>;
  getLink(o: NativeWhere & { link: NativeLinkRef }): Promise<NativeLink>;
  listLinks(o: NativeWhere): Promise<NativeLink[]>;
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
  }): Promise<{ name: string; ifindex: number; features: number; fds: number[] }>;
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
  /** flock(fd, LOCK_EX | LOCK_NB), (LOCK_SH | LOCK_NB) or LOCK_UN: false when another open file holds a conflicting lock. */
  flock(fd: number, op: 'exclusive' | 'shared' | 'unlock'): boolean;
  /**
   * Opens `path` (O_CREAT, O_CLOEXEC, O_NOFOLLOW, 0644) and takes flock on it, waiting up to
   * timeoutMs (default -1: forever) on a thread of its own: the fd, or null when the time ran out.
   * The lock is on the file at `path` when it is taken (one its holder removed is opened anew).
   */
  lockFile(o: { path: string; shared?: boolean; timeoutMs?: number }): Promise<number | null>;
  /** Removes `path` when `fd` is its only holder (still holding it), then closes `fd`. */
  unlockFile(fd: number, path: string): void;
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
