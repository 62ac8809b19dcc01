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
  kind: 'error' | 'ack' | 'done' | 'link' | 'other';
  error?: number;
  code?: string | null;
  extack?: string;
  extackOffset?: number;
  link?: NativeLink;
}

export interface NativeEncodeArgs {
  seq?: number;
  link?: NativeLinkRef;
  kind?: 'macvtap' | 'macvlan';
  parent?: number;
  mode?: number;
  name?: string;
  mac?: string;
  up?: boolean;
  master?: number;
  group?: number;
}

export type NativeEncodeOp = 'newlink-macvlan' | 'getlink' | 'dumplinks' | 'dellink' | 'delgroup' | 'setlink';

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

/** Readiness bits of a Poller event. */
export const POLL_READABLE = 1;
export const POLL_WRITABLE = 2;
export const POLL_HANGUP = 4;
export const POLL_ERROR = 8;

/** An epoll watcher on its own thread; every watch is one-shot until `arm`. */
export interface NativePoller {
  add(fd: number, events: number, token: number): void;
  arm(fd: number, events: number, token: number): void;
  remove(fd: number): void;
  close(): void;
  ref(): void;
  unref(): void;
}
export type NativePollerClass = new (callback: (fd: number, events: number, token: number) => void) => NativePoller;

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
  linkCreate(o: { netns?: string; kind: 'macvtap' | 'macvlan'; parent: NativeLinkRef; mode: number; name?: string; mac?: string; group?: number }): Promise<NativeLink>;
  /** /sys/PATH as seen from the namespace (a private sysfs mount on a scratch thread). */
  sysfsRead(o: { netns?: string; path: string }): Promise<string>;
  /** `ip link delete group G`: false when no link has it. */
  linkDeleteGroup(o: { netns?: string; group: number }): Promise<boolean>;
  linkDelete(o: { netns?: string; link: NativeLinkRef }): Promise<void>;
  linkDeleteMany(o: { netns?: string; indexes: number[] }): Promise<{ deleted: number; grouped: boolean }>;
  linkSet(o: { netns?: string; link: NativeLinkRef; up?: boolean; mac?: string; master?: NativeLinkRef | null; group?: number }): Promise<void>;
  linkGet(o: { netns?: string; link: NativeLinkRef }): Promise<NativeLink>;
  linkList(o: { netns?: string }): Promise<NativeLink[]>;
  tunFeatures(o: { netns?: string; device?: string }): Promise<number>;
  tapCreate(o: {
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
  macvtapOpen(o: { netns?: string; link: NativeLinkRef; queues?: number; vnetHdr?: boolean; devDir?: string }): Promise<{
    name: string;
    ifindex: number;
    major: number;
    minor: number;
    node: string | null;
    privateNode: boolean;
    fds: number[];
  }>;
  vhostOpen(o: { path: string; count?: number }): Promise<{ fds: number[]; features: bigint | null }>;
  kvmApiVersion(o: { path?: string }): Promise<number>;
  fdSend(sock: number, data: Buffer, fds?: number[], timeoutMs?: number): Promise<number>;
  fdRecv(sock: number, maxBytes: number, maxFds: number, timeoutMs?: number): Promise<{ data: Buffer; fds: number[] }>;
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
  Poller: NativePollerClass;
  // Accounts through NSS (getpwnam_r, getpwuid_r, getgrnam_r, getgrouplist),
  // synchronous: they block for as long as the name service takes. null is
  // "no such account"; a failed lookup throws with code (the errno's name),
  // errno and syscall.
  getpwnam(name: string): NativePasswd | null;
  getpwuid(uid: number): NativePasswd | null;
  getgrnam(name: string): NativeGroup | null;
  /** `gid` and the gids of every group listing `user`; an unknown user gives [gid]. */
  getgrouplist(user: string, gid: number): number[];
  close(fd: number): void;
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
  };
}

const root = path.resolve(__dirname, '..');

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
