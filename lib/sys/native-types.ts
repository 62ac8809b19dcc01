// The shapes of what the addon takes and returns: links, bridge ports,
// qdiscs, addresses, routes, netlink messages, socket messages, accounts.
// The binding itself (NativeBinding) and its loader are in native.ts.

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
  /** IFLA_NET_NS_FD for newlink-macvlan. */
  netnsFd?: number;
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
