// The host agent: a privileged daemon that prepares guest NICs for
// unprivileged VM managers. Callers are known by SO_PEERCRED and every
// request is decided by the ACL. Each user's domains live in a scope of
// their own (STATE/agent/UID/NAME.{json,xml,inactive,lock}): users can
// neither squat nor see each other's names. Every domain is recorded in
// NAME.json before the host changes, with the link group all its devices are
// created in, so after a crash (even SIGKILL) a restarted agent finds
// exactly what it made, by kernel identity rather than by a MAC or an owner
// the holder of an fd can change: finished domains are kept for their owner
// to claim, half-made ones are removed. Interfaces of a client that went
// away are released after a grace period. Each user is bounded (connections,
// requests in flight and per second, domains, interfaces, bytes of state),
// with connections kept back for root.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { NetfdError, NetfdErrorCode } from '../errors';
import { deleteGroup, deleteLinks, listLinks } from '../sys/link';
import { native, NativeMessage } from '../sys/native';
import { peerCred } from '../sys/fdpass';
import { teardownFromLive } from '../netdev/domain';
import { followLiveXml, setInterfaceLinks } from '../netdev/direct';
import { recordedLinks, recordPciAddresses } from '../netdev/live';
import { prepareDomain } from '../qemu/domain';
import { agentScope, inactiveXmlPath, liveXmlPath, objectFile, objectOf, stateDir as stateDirOf } from '../state/dirs';
import { replaceFileAtomic, writeNewFileAtomic } from '../state/atomic';
import { withDomainLock } from '../state/lock';
import { Networks } from '../netdev/network';
import { Accel, domainMacs, generateMac, GuestMac } from '../policy';
import { probeHost, CHECK_IDS, CheckId } from '../host/probe';
import { hostAttach, hostDetach, interfaceByMac, qemuNic } from '../qemu/hotplug';
import { parsePci } from '../qemu/pci';
import * as v from '../validate';
import { isObjectName } from '../xml/dom';
import { DomainXml, InterfaceDef, PciAddress } from '../xml/domain';
import { Acl, AclObject, Accounts, Caller, decide, decideAll, describe, formatSize, globMatch, limitFor, LimitKind, loadAcl, mayAskAnything, unknownNames } from './acl';
import { nssAccounts } from './accounts';
import { FairQueue } from './fair';
import { aclObjects } from './objects';
import { AclParser } from './parser';
import { Conn, Listener } from './conn';
import { DEFAULT_SOCKET, errorReply, idOf, MAX_REQUEST, okReply, Op, parseRequest, Request } from './protocol';

/** A domain or network name from a request (INVALID_ARGUMENT naming `field`). */
function objectName(name: string, field: string): string {
  if (typeof name !== 'string' || !isObjectName(name)) throw new NetfdError(`invalid ${field} ${JSON.stringify(name)}: 1-200 bytes, no whitespace or /`, { code: 'INVALID_ARGUMENT', field, value: name });
  return name;
}

/** The largest reply sent: one seqpacket message must fit the default socket buffer (about 208 KiB). */
const MAX_SEND = 200 * 1024;

export { DEFAULT_SOCKET };
/** Where the agent reads its ACL unless told otherwise. */
export const DEFAULT_ACL = '/etc/netfd/acl.conf';
/** How long `stop()` (SIGTERM) waits for requests in flight by default. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/**
 * What each user may have when no `limit` line of the ACL says otherwise
 * (null: no bound). Interfaces are bounded only by `limit ... interfaces`.
 */
export const USER_LIMITS: Readonly<Record<LimitKind, number | null>> = { interfaces: null, domains: 64, state: 4 * 1024 * 1024, connections: 32, requests: 16 };

/** How an {@link Agent} listens, decides and keeps state; every field has a default. */
export interface AgentOptions {
  /** The socket path to create (default /run/netfd/agent.sock); ignored with `listenFd`. */
  socket?: string | undefined;
  /** An inherited listening socket (systemd socket activation). */
  listenFd?: number | undefined;
  /** Permissions of a created socket (default 0o660). */
  socketMode?: number | undefined;
  /** Group of a created socket (name or gid). */
  socketGroup?: string | number | undefined;
  /** The ACL file (default /etc/netfd/acl.conf); a missing file denies everything. */
  acl?: string | undefined;
  /** Live state directory (default NETFD_STATE_DIR or /run/netfd/qemu). */
  stateDir?: string | undefined;
  configDir?: string | undefined;
  sysfsRoot?: string | undefined;
  netns?: string | undefined;
  vhostDevice?: string | undefined;
  /** How long a departed client's domains wait to be claimed (default 30 s). */
  graceMs?: number | undefined;
  /** Connections at once, all users together (default 1024). */
  maxClients?: number | undefined;
  /** Connections of those kept for root: other users get at most maxClients - this (default 16). */
  reservedForRoot?: number | undefined;
  /**
   * How long SIGTERM waits for requests in flight and their replies (default
   * 10 s); then every connection is closed, whatever it has not read.
   */
  stopTimeoutMs?: number | undefined;
  /** Requests one connection may have in flight (default 8). */
  maxInFlight?: number | undefined;
  /** Requests per second per user, and the burst (default 200 and 400). */
  rate?: { perSecond: number; burst: number } | undefined;
  /** Per-user bounds where the ACL has no `limit` line (default USER_LIMITS). */
  userLimits?: Partial<Record<LimitKind, number | null>> | undefined;
  /** User and group lookups (default: the system's name service switch, nssAccounts). */
  accounts?: Accounts | undefined;
  /** Where the agent logs (default: pino JSON lines on stderr). A pino logger fits. */
  logger?: AgentLogger | undefined;
}

/**
 * What the agent logs through: pino's `Logger` fits, and so does anything
 * with these methods. Typed here, not as pino's, so that a program compiling
 * against `netfd/agent` does not need pino's typings and their compiler options.
 */
export interface AgentLogger {
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): AgentLogger;
  /** Failures the agent recovers from. */
  error(obj: object | string, msg?: string): void;
  /** Refusals, and what an operator should look at. */
  warn(obj: object | string, msg?: string): void;
  /** One line per request, and the agent's life cycle. */
  info(obj: object | string, msg?: string): void;
  /** Connections coming and going. */
  debug(obj: object | string, msg?: string): void;
}

/** A device the agent made, by kernel identity in the agent's namespace. */
export interface DeviceRecord {
  ifindex: number;
  kind: 'tap' | 'macvtap';
  name: string;
}

/** STATE/agent/UID/NAME.json: who owns a domain and what the agent was doing to it. */
export interface DomainRecord {
  name: string;
  uid: number;
  gid: number;
  /** The client process that asked. */
  pid: number;
  /** preparing: host changes may be half made; ready: prepared; releasing: being removed. */
  state: 'preparing' | 'ready' | 'releasing';
  /** The config XML, and the guest MACs chosen before anything was made. */
  xml: string;
  macs: GuestMac[];
  /**
   * The link group every device of the domain is created in, chosen before
   * anything is made: release and recovery delete the links of this group
   * (and only those), whatever their MAC, owner or persist flag is by then.
   */
  group: number;
  /** The devices made so far (prepared plus attached minus detached). */
  devices: DeviceRecord[];
  /** Interfaces the domain has now (prepared plus attached minus detached). */
  interfaces: number;
  /** An interface being attached: its XML and MAC. */
  attaching?: { xml: string; mac: string };
  /** The accelerator the client said the guest runs on (over <domain type>), for attach's driver decisions. */
  accel?: Accel;
  /**
   * Whether the guest's vCPUs run, as its owner last said (prepare's
   * `running`, then set-running): the macvtaps are up only while they do,
   * and an attached one starts so. Absent: the owner does not say; macvtaps
   * are up from the start.
   */
  running?: boolean;
  since: string;
}

/** What one user has at the agent now (all connections together). */
interface UserState {
  connections: number;
  inFlight: number;
  tokens: number;
  refilled: number;
}

interface Client {
  conn: Conn;
  caller: Caller;
  user: string;
  inFlight: number;
  /** Keys (#key) of the domains this connection holds. */
  domains: Set<string>;
}

interface Held {
  record: DomainRecord;
  client: Client | null;
  /** Bytes of state the domain keeps on disk (record, live and inactive XML). */
  bytes: number;
  timer?: NodeJS.Timeout;
}

/** What a request reserves against the caller's limits while it runs. */
interface Reservation {
  interfaces: number;
  domains: number;
  bytes: number;
}

type Result = { result: unknown; fds?: number[]; after?: () => void };

function denied(message: string, rule: string | null, field: string, value: unknown, code: NetfdErrorCode = 'ACCESS_DENIED'): NetfdError {
  const e = new NetfdError(message, { code, field, value }) as NetfdError & { rule?: string };
  if (rule) e.rule = rule;
  return e;
}

export { aclObjects };

/** The accelerator a client names in `prepare` (INVALID_ARGUMENT otherwise). */
function accelArg(x: unknown): Accel | undefined {
  if (x === undefined) return undefined;
  if (x !== 'kvm' && x !== 'tcg') throw new NetfdError(`invalid args.accel ${JSON.stringify(x)}: kvm or tcg`, { code: 'INVALID_ARGUMENT', field: 'args.accel', value: x });
  return x;
}

const bytesOf = (...texts: string[]): number => texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
const recordText = (r: DomainRecord): string => `${JSON.stringify(r, null, 1)}\n`;

/**
 * The privileged host agent: makes host devices for unprivileged callers under an ACL and hands them
 * the fds (`netfd agent` is this class). `start()` recovers its records and listens; `stop()` ends it.
 */
export class Agent {
  readonly o: AgentOptions;
  readonly log: AgentLogger;
  readonly dir: string;
  readonly recordsDir: string;
  #acl: Acl;
  readonly #accounts: Accounts;
  #listener: Listener | undefined;
  readonly #clients = new Set<Client>();
  readonly #users = new Map<number, UserState>();
  /** Domains by #key(uid, name). */
  readonly #held = new Map<string, Held>();
  readonly #busy = new Set<string>();
  /** What requests still running have reserved, per uid (counted against limits before it is recorded). */
  readonly #pending = new Map<number, Reservation>();
  readonly #inFlight = new Set<Promise<void>>();
  /** XML parsed for the ACL off the event loop, users taking turns. */
  readonly #parser = new AclParser();
  /** Parses on the event loop (only of requests the ACL allowed), users taking turns. */
  readonly #heavy = new FairQueue(1);
  #nextReq = 1;
  #stopping = false;
  #createdSocket: string | undefined;

/** Reads the ACL (a broken one throws ACL_INVALID); nothing listens until `start()`. */
  constructor(o: AgentOptions = {}) {
    this.o = o;
    this.log = o.logger ?? pino({ base: { component: 'netfd-agent', pid: process.pid } });
    this.dir = stateDirOf(o.stateDir);
    this.recordsDir = path.join(this.dir, 'agent');
    this.#accounts = o.accounts ?? nssAccounts();
    this.#acl = this.#loadAcl();
  }

  #loadAcl(): Acl {
    const file = this.o.acl ?? DEFAULT_ACL;
    if (!fs.existsSync(file)) {
      this.log.warn({ acl: file }, `ACL file ${file} does not exist: every request is refused`);
      return { rules: [], limits: [], files: [] };
    }
    const acl = loadAcl(file);
    const unknown = unknownNames(acl, this.#accounts);
    if (unknown.length) this.log.warn({ acl: file, unknown }, `ACL names users or groups that cannot be resolved: ${unknown.join(', ')} (deny rules naming them refuse everyone they cover, allow rules naming them grant nothing, limits naming them apply to everyone)`);
    this.log.info({ acl: acl.files, rules: acl.rules.length, limits: acl.limits.length }, 'ACL loaded');
    return acl;
  }

  /** Reads the ACL again (SIGHUP); on error the old one stays. */
  reloadAcl(): void {
    try {
      this.#acl = this.#loadAcl();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'ACL reload failed; the previous ACL stays in force');
      return;
    }
    void this.checkBridges();
  }

  get #rate(): { perSecond: number; burst: number } {
    return this.o.rate ?? { perSecond: 200, burst: 400 };
  }

/** The socket path the agent listens on (or would, under socket activation). */
  get socketPath(): string {
    return this.o.socket ?? DEFAULT_SOCKET;
  }

  /** Recovers from the records, starts autostart networks, then listens. */
  async start(): Promise<void> {
    await this.recover();
    await this.#autostart();
    await this.checkBridges();
    if (this.#stopping) return; // stopped while recovering: never listen
    let fd: number;
    if (this.o.listenFd !== undefined) {
      const info = native().socketInfo(this.o.listenFd);
      if (info.family !== 'unix' || info.type !== 'seqpacket' || !info.listening)
        throw new NetfdError(`inherited fd ${this.o.listenFd} is a ${info.family} ${info.type} socket${info.listening ? '' : ' not listening'}; the agent needs a listening unix seqpacket socket (ListenSequentialPacket=)`, { code: 'INVALID_ARGUMENT', field: 'listenFd', value: this.o.listenFd });
      fd = this.o.listenFd;
    } else {
      const file = this.socketPath;
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
      await this.#removeStaleSocket(file);
      fd = native().unixListen(file, 512);
      this.#createdSocket = file;
      fs.chmodSync(file, this.o.socketMode ?? 0o660);
      if (this.o.socketGroup !== undefined) {
        const gid = typeof this.o.socketGroup === 'number' ? this.o.socketGroup : this.#accounts.gidOf(this.o.socketGroup);
        if (gid === undefined) throw new NetfdError(`no group ${this.o.socketGroup} for --socket-group`, { code: 'INVALID_ARGUMENT', field: 'socketGroup', value: this.o.socketGroup });
        fs.chownSync(file, process.getuid?.() ?? 0, gid);
      }
    }
    await this.#parser.warm();
    this.#listener = new Listener(fd, (c) => this.#accept(c), (e) => this.log.error({ err: e.message }, 'accepting a connection failed; trying again'));
    this.log.info({ socket: this.o.listenFd !== undefined ? `fd ${this.o.listenFd}` : this.socketPath, held: this.#held.size }, 'listening');
  }

  /** A socket file left by a dead agent is removed; one a live agent answers on is EADDRINUSE. */
  async #removeStaleSocket(file: string): Promise<void> {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch {
      return;
    }
    if (!st.isSocket()) throw new NetfdError(`${file} exists and is not a socket; remove it or choose another --socket`, { code: 'EEXIST', field: 'socket', value: file });
    const fd = await native().unixConnect(file).catch(() => -1);
    if (fd >= 0) {
      native().close(fd);
      throw new NetfdError(`another agent is listening on ${file}`, { code: 'EADDRINUSE', field: 'socket', value: file });
    }
    fs.rmSync(file, { force: true });
  }

  /**
   * SIGTERM: stop accepting, give requests in flight up to `stopTimeoutMs`
   * to finish and have their replies read, then disconnect everyone. Domains
   * stay recorded (a prepare cut short is undone at the next start). Resolves
   * false when the timeout cut work short (logged), else true.
   */
  async stop(): Promise<boolean> {
    if (this.#stopping) return true;
    this.#stopping = true;
    this.#listener?.close();
    if (this.#createdSocket) fs.rmSync(this.#createdSocket, { force: true });
    const ms = this.o.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([Promise.allSettled([...this.#inFlight]).then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    if (!finished) {
      const connections = [...this.#clients].filter((c) => c.inFlight || c.conn.queued).map((c) => ({ uid: c.caller.uid, clientPid: c.caller.pid, requests: c.inFlight, unreadReplies: c.conn.queued }));
      this.log.warn({ stopTimeoutMs: ms, unfinished: this.#inFlight.size, connections }, `stop timeout: ${this.#inFlight.size} operation(s) cut short after ${ms} ms (${connections.length} connection(s) with requests in flight or replies not read); records stay for the next start`);
    }
    for (const c of [...this.#clients]) c.conn.close('the agent is stopping');
    for (const h of this.#held.values()) clearTimeout(h.timer);
    this.#parser.close();
    this.log.info({ held: this.#held.size }, 'stopped; prepared domains stay recorded for the next start');
    return finished;
  }

  // ---- records ------------------------------------------------------------

  #key(uid: number, name: string): string {
    return `${uid}/${name}`;
  }

  /** The directory of a user's domains (made on first use, root's alone). */
  #scope(uid: number): string {
    return agentScope(this.dir, uid);
  }

  #recordPath(uid: number, name: string): string {
    return objectFile(this.#scope(uid), name, 'json');
  }

  #writeRecord(r: DomainRecord, create = false): void {
    const text = recordText(r);
    if (create) {
      fs.mkdirSync(this.recordsDir, { recursive: true, mode: 0o700 });
      fs.mkdirSync(this.#scope(r.uid), { recursive: true, mode: 0o700 });
      writeNewFileAtomic(this.#recordPath(r.uid, r.name), text);
    } else replaceFileAtomic(this.#recordPath(r.uid, r.name), text);
  }

  #dropRecord(r: DomainRecord): void {
    fs.rmSync(this.#recordPath(r.uid, r.name), { force: true });
    const key = this.#key(r.uid, r.name);
    const h = this.#held.get(key);
    if (h) {
      clearTimeout(h.timer);
      h.client?.domains.delete(key);
      this.#held.delete(key);
    }
  }

  /** Bytes a held domain keeps on disk now. */
  #stateBytes(r: DomainRecord): number {
    let n = bytesOf(recordText(r));
    for (const f of [liveXmlPath(this.#scope(r.uid), r.name), inactiveXmlPath(this.#scope(r.uid), r.name)]) n += fs.statSync(f, { throwIfNoEntry: false })?.size ?? 0;
    return n;
  }

  /**
   * After a restart: every record is finished or undone. Prepared domains
   * are held for their owner to claim (released after the grace period);
   * half-made ones lose the devices of their link group; releases finish.
   * Files that are no record (a domain's XML, a lock, a temporary file) are
   * classified; anything else is logged and left alone.
   */
  async recover(): Promise<void> {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(this.recordsDir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const file = path.join(this.recordsDir, e.name);
      if (e.isDirectory() && /^\d+$/.test(e.name)) await this.#recoverScope(Number(e.name));
      else this.log.error({ file }, `${file} is not a user's directory of this agent (STATE/agent/UID/); left alone`);
    }
  }

  async #recoverScope(uid: number): Promise<void> {
    const scope = this.#scope(uid);
    const files = fs.readdirSync(scope);
    const records = new Set<string>();
    for (const f of files) {
      const file = path.join(scope, f);
      const name = objectOf(f, 'json');
      if (name === null) continue;
      records.add(name);
      let r: DomainRecord;
      try {
        r = JSON.parse(fs.readFileSync(file, 'utf8')) as DomainRecord;
        if (r.name !== name || r.uid !== uid || !Array.isArray(r.macs) || !Number.isInteger(r.group) || !Array.isArray(r.devices)) throw new Error('not an agent record');
      } catch (err) {
        this.log.error({ file, err: (err as Error).message }, `unreadable record ${file} left alone`);
        continue;
      }
      try {
        await this.#recoverOne(r);
      } catch (err) {
        this.log.error({ domain: r.name, uid, err: (err as Error).message }, `recovering ${r.name} failed; its record stays for the next start`);
      }
    }
    // What is left: parts of recorded domains, temporaries of a write cut short, or unknown.
    for (const f of fs.readdirSync(scope)) {
      const file = path.join(scope, f);
      const dot = f.lastIndexOf('.');
      const ext = f.slice(dot + 1);
      const name = f.slice(0, Math.max(dot, 0));
      if (ext === 'json') continue;
      if (f.startsWith('.') && (ext === 'tmp' || /^\d+$/.test(ext))) {
        fs.rmSync(file, { force: true });
        this.log.info({ file }, 'removed a temporary file of a write cut short');
      } else if (!['xml', 'inactive', 'lock'].includes(ext) || dot <= 0) this.log.error({ file }, `cannot classify ${file}; left alone`);
      else if (!records.has(name)) this.log.error({ file, uid }, `${file} belongs to no record; left alone`);
    }
  }

  async #recoverOne(r: DomainRecord): Promise<void> {
    const o = this.#hostOptions(r);
    const live = liveXmlPath(this.#scope(r.uid), r.name);
    const hasLive = fs.existsSync(live);
    if (r.state === 'releasing' || (r.state === 'preparing' && !hasLive)) {
      if (hasLive) await teardownFromLive(r.name, o);
      else await this.#removeHalfMade(r, DomainXml.parse(r.xml).def.interfaces);
      this.#dropRecord(r);
      this.log.info({ domain: r.name, uid: r.uid, was: r.state }, r.state === 'releasing' ? 'finished an interrupted release' : 'removed a half-prepared domain');
      return;
    }
    if (r.attaching) {
      const xml = DomainXml.parse(fs.readFileSync(live, 'utf8'), { live: true });
      if (!xml.def.interfaces.some((i) => i.mac === r.attaching?.mac)) {
        const iface = xml.withInterface(r.attaching.xml).iface;
        // The links of the group that the live XML does not record are the attach's.
        const keep = new Set((await recordedLinks(xml.def.interfaces, o.netns, r.group)).indexes);
        const extra = (await listLinks({ netns: o.netns })).filter((l) => l.group === r.group && !keep.has(l.index));
        if (extra.length) await deleteLinks(extra.map((l) => l.index), { netns: o.netns });
        await this.#reclaimNetworks(r, [iface]);
        r.interfaces = xml.def.interfaces.length;
        r.devices = r.devices.filter((d) => keep.has(d.ifindex));
      }
      delete r.attaching;
    }
    r.state = 'ready';
    this.#writeRecord(r);
    const h: Held = { record: r, client: null, bytes: this.#stateBytes(r) };
    this.#held.set(this.#key(r.uid, r.name), h);
    this.#orphan(h);
    this.log.info({ domain: r.name, uid: r.uid, graceMs: this.#grace() }, 'holding a prepared domain for its owner to claim');
  }

  /**
   * Deletes what a prepare cut short may have made: every link of the
   * record's group (nothing found by MAC or name: those the fd's holder could
   * change). Taps are not persistent and went with the agent's fds unless
   * the user made them persistent; in the group either way. Network
   * connections are reclaimed by their networks (by group too).
   */
  async #removeHalfMade(r: DomainRecord, ifaces: InterfaceDef[]): Promise<void> {
    const o = this.#hostOptions(r);
    if (await deleteGroup(r.group, { netns: o.netns })) this.log.info({ domain: r.name, uid: r.uid, group: r.group }, 'deleted devices of an interrupted setup');
    await this.#reclaimNetworks(r, ifaces);
  }

  async #reclaimNetworks(r: DomainRecord, ifaces: InterfaceDef[]): Promise<void> {
    for (const i of ifaces) {
      if (i.type !== 'network' || !i.source.network) continue;
      await new Networks(this.#hostOptions(r)).reclaim(i.source.network).catch((e) => this.log.warn({ network: i.source.network, err: (e as Error).message }, 'reclaiming a network connection failed'));
    }
  }

  async #autostart(): Promise<void> {
    const nets = new Networks(this.#hostOptions());
    let rows;
    try {
      rows = nets.list().rows;
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot list networks for autostart');
      return;
    }
    for (const row of rows.filter((x) => x.autostart && !x.active)) {
      try {
        await nets.start(row.name);
        this.log.info({ network: row.name }, 'autostarted network');
      } catch (e) {
        this.log.error({ network: row.name, err: (e as Error).message }, `autostart of network ${row.name} failed`);
      }
    }
  }

  /**
   * Bridges the ACL lets users attach taps to whose MAC is not fixed: the
   * kernel gives such a bridge the lowest MAC of its ports, so a guest tap
   * could become its address. Logged at start and reload; `probe` reports them.
   */
  async checkBridges(): Promise<string[]> {
    const globs = this.#acl.rules.filter((r) => r.action === 'allow' && r.object.kind === 'bridge').map((r) => r.object.value as string);
    if (!globs.length) return [];
    const warnings: string[] = [];
    try {
      const links = await listLinks({ netns: this.o.netns });
      for (const l of links) {
        if (l.kind !== 'bridge' || !globs.some((g) => globMatch(g, l.name))) continue;
        const type = await native()
          .readSysfs({ netns: this.o.netns, path: `class/net/${l.name}/addr_assign_type` })
          .catch(() => null);
        if (type !== null && type.trim() !== '3')
          warnings.push(`bridge ${l.name} has no fixed MAC (addr_assign_type ${type.trim()}): the kernel gives it the lowest MAC of its ports, so a guest's tap can become its address; give it one (ip link set ${l.name} address ${l.mac ?? 'MAC'})`);
      }
    } catch (e) {
      warnings.push(`cannot check the bridges the ACL names: ${(e as Error).message}`);
    }
    for (const w of warnings) this.log.warn(w);
    return warnings;
  }

  /** Host options for a domain's operations: its owner's scope and its link group. */
  #hostOptions(r?: { uid: number; group: number }) {
    return { stateDir: this.dir, configDir: this.o.configDir, sysfsRoot: this.o.sysfsRoot, netns: this.o.netns, vhostDevice: this.o.vhostDevice, onWarning: (m: string) => this.log.warn(m), ...(r ? { scope: this.#scope(r.uid), group: r.group } : {}) };
  }

  #grace(): number {
    return this.o.graceMs ?? 30_000;
  }

  /** The domain has no client: released after the grace period unless claimed. */
  #orphan(h: Held): void {
    const key = this.#key(h.record.uid, h.record.name);
    h.client?.domains.delete(key);
    h.client = null;
    clearTimeout(h.timer);
    h.timer = setTimeout(() => {
      h.timer = undefined;
      if (h.client || this.#stopping) return;
      const release = this.#exclusive(key, () => this.#releaseDomainLocked(h, 'its client went away and nobody claimed it')).catch((e) => {
        if ((e as NetfdError).code === 'EBUSY' && !h.client) this.#orphan(h);
        else this.log.error({ domain: h.record.name, uid: h.record.uid, err: (e as Error).message }, 'releasing an unclaimed domain failed');
      });
      void this.#track(release);
    }, this.#grace());
  }

  #track(p: Promise<void>): Promise<void> {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
    return p;
  }

  // ---- connections --------------------------------------------------------

  /** The caller's bound of kind `what`: its ACL limit, else the agent's default. */
  #limit(caller: Caller, what: LimitKind): { value: number; rule: string | null } | null {
    const l = limitFor(this.#acl, caller, what, this.#accounts);
    if (l) return { value: l.value, rule: describe(l) };
    const d = this.o.userLimits?.[what] !== undefined ? this.o.userLimits[what] : USER_LIMITS[what];
    return d === null || d === undefined ? null : { value: d, rule: null };
  }

  #user(uid: number): UserState {
    let u = this.#users.get(uid);
    if (!u) {
      u = { connections: 0, inFlight: 0, tokens: this.#rate.burst, refilled: Date.now() };
      this.#users.set(uid, u);
    }
    return u;
  }

  #refuseConnection(fd: number, err: NetfdError): void {
    try {
      native().sendNow(fd, errorReply(null, err));
      // A request already waiting would make the client's read fail with
      // ECONNRESET before it sees why: drop it first.
      for (let i = 0; i < 16 && native().recvNow(fd, 0, 0); i++);
    } catch {
      // the refusal is best effort
    }
    native().close(fd);
  }

  #accept(fd: number): void {
    const max = this.o.maxClients ?? 1024;
    if (this.#stopping || this.#clients.size >= max) {
      this.#refuseConnection(fd, new NetfdError(this.#stopping ? 'the agent is stopping' : `the agent serves at most ${max} connections`, { code: 'EAGAIN' }));
      return;
    }
    let cred: { pid: number; uid: number; gid: number };
    try {
      cred = peerCred(fd);
    } catch (e) {
      native().close(fd);
      this.log.error({ err: (e as Error).message }, 'SO_PEERCRED failed; connection dropped');
      return;
    }
    const caller: Caller = { uid: cred.uid, gid: cred.gid, pid: cred.pid };
    const reserved = Math.min(this.o.reservedForRoot ?? 16, max);
    const u = this.#user(cred.uid);
    const cap = this.#limit(caller, 'connections');
    let refusal: NetfdError | undefined;
    if (cred.uid !== 0 && this.#clients.size >= max - reserved) refusal = new NetfdError(`the agent serves at most ${max} connections and keeps the last ${reserved} for root`, { code: 'EAGAIN' });
    else if (cap && u.connections >= cap.value)
      refusal = denied(`uid ${cred.uid} has ${u.connections} connections to the agent, its limit (${cap.rule ?? 'the agent default'}); close one first`, cap.rule, 'connections', u.connections + 1, 'LIMIT_EXCEEDED');
    if (refusal) {
      this.log.warn({ uid: cred.uid, clientPid: cred.pid, code: refusal.code, err: refusal.message }, 'connection refused');
      if (u.connections === 0 && u.inFlight === 0) this.#users.delete(cred.uid);
      this.#refuseConnection(fd, refusal);
      return;
    }
    u.connections++;
    const conn = new Conn(fd, {
      maxBytes: MAX_REQUEST,
      maxFds: 0,
      maxQueue: 64,
      keepAlive: true,
      onMessage: (m) => this.#message(client, m),
      onClose: (why) => this.#closed(client, why),
    });
    const client: Client = {
      conn,
      caller,
      user: this.#accounts.userName(cred.uid) ?? `uid ${cred.uid}`,
      inFlight: 0,
      domains: new Set(),
    };
    this.#clients.add(client);
    this.log.debug({ uid: cred.uid, clientPid: cred.pid }, 'client connected');
  }

  #closed(client: Client, why: string): void {
    this.#clients.delete(client);
    const u = this.#user(client.caller.uid);
    u.connections--;
    if (u.connections <= 0 && u.inFlight <= 0) this.#users.delete(client.caller.uid);
    for (const key of [...client.domains]) {
      const h = this.#held.get(key);
      if (h && h.client === client) this.#orphan(h);
    }
    if (!this.#stopping && client.domains.size === 0) this.log.debug({ uid: client.caller.uid, clientPid: client.caller.pid, why }, 'client disconnected');
  }

  #reply(client: Client, data: Buffer, fds: number[] = []): Promise<void> {
    return client.conn.send(data, fds);
  }

  /** Admission, cheapest first: size, stray fds, the user's rate, the user's and the connection's requests in flight. */
  #admit(client: Client, m: NativeMessage): NetfdError | undefined {
    if (m.truncated) return new NetfdError(`the request is ${m.size} bytes; the agent reads at most ${MAX_REQUEST}`, { code: 'REQUEST_TOO_LARGE', field: 'request', value: m.size });
    if (m.ctrunc || m.fds.length) return new NetfdError('the request carried file descriptors; no request takes any (they were closed)', { code: 'BAD_REQUEST', field: 'fds', value: m.fds.length || 'some' });
    const u = this.#user(client.caller.uid);
    const rate = this.#rate;
    const now = Date.now();
    u.tokens = Math.min(rate.burst, u.tokens + ((now - u.refilled) * rate.perSecond) / 1000);
    u.refilled = now;
    if (u.tokens < 1) return new NetfdError(`more than ${rate.perSecond} requests a second from uid ${client.caller.uid}; slow down`, { code: 'RATE_LIMITED' });
    u.tokens -= 1;
    const perConn = this.o.maxInFlight ?? 8;
    if (client.inFlight >= perConn) return new NetfdError(`${client.inFlight} requests are already in flight on this connection (at most ${perConn}); wait for their replies`, { code: 'EBUSY' });
    const cap = this.#limit(client.caller, 'requests');
    if (cap && u.inFlight >= cap.value) return denied(`uid ${client.caller.uid} has ${u.inFlight} requests in flight over all its connections, its limit (${cap.rule ?? 'the agent default'}); wait for their replies`, cap.rule, 'requests', u.inFlight + 1, 'EBUSY');
    return undefined;
  }

  #message(client: Client, m: NativeMessage): void {
    const reqId = this.#nextReq++;
    const log = this.log.child({ req: reqId, uid: client.caller.uid, clientPid: client.caller.pid });
    let refusal = this.#admit(client, m);
    for (const fd of m.fds) native().close(fd);
    let req: Request | undefined;
    if (!refusal) {
      try {
        req = parseRequest(m.data);
      } catch (e) {
        refusal = e as NetfdError;
      }
    }
    if (refusal || !req) {
      log.warn({ code: refusal?.code, err: refusal?.message }, 'request refused');
      void this.#reply(client, errorReply(idOf(m.data), refusal)).catch(() => undefined);
      return;
    }
    const r = req;
    const u = this.#user(client.caller.uid);
    client.inFlight++;
    u.inFlight++;
    const started = process.hrtime.bigint();
    const work = (async () => {
      try {
        const out = this.#stopping ? Promise.reject(new NetfdError('the agent is stopping', { code: 'EAGAIN' })) : this.#dispatch(client, r, log);
        const res = await out;
        try {
          const reply = okReply(r.id, res.result, res.fds?.length ?? 0);
          if (reply.length > MAX_SEND) {
            const big = new NetfdError(`the reply to ${r.op} is ${reply.length} bytes, more than the ${MAX_SEND} one message can carry; the operation itself succeeded`, { code: 'REPLY_TOO_LARGE' });
            log.error({ op: r.op, bytes: reply.length }, big.message);
            await this.#reply(client, errorReply(r.id, big));
          } else await this.#reply(client, reply, res.fds ?? []);
          log.info({ op: r.op, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'ok');
        } catch (e) {
          log.warn({ op: r.op, err: (e as Error).message }, 'the reply could not be delivered');
        } finally {
          res.after?.();
        }
      } catch (e) {
        const err = e as NetfdError & { rule?: string };
        const level = err.code === 'ACCESS_DENIED' || err.code === 'LIMIT_EXCEEDED' ? 'warn' : 'info';
        log[level]({ op: r.op, code: err.code, rule: err.rule, err: err.message }, err.code === 'ACCESS_DENIED' ? 'refused by the ACL' : 'failed');
        await this.#reply(client, errorReply(r.id, err)).catch(() => undefined);
      } finally {
        client.inFlight--;
        u.inFlight--;
        if (u.connections <= 0 && u.inFlight <= 0) this.#users.delete(client.caller.uid);
      }
    })();
    void this.#track(work);
  }

  // ---- operations ---------------------------------------------------------

  #check(client: Client, objects: AclObject[], field: string, value: unknown): void {
    const d = objects.length === 1 ? decide(this.#acl, client.caller, objects[0], this.#accounts) : decideAll(this.#acl, client.caller, objects, this.#accounts);
    if (!d.allowed) throw denied(`access denied: ${d.reason}`, d.rule ? describe(d.rule) : 'default deny', field, value);
  }

  /** Refuses, before any XML is read, a caller whom no allow rule covers (or a deny rule for all does). */
  #mayAsk(client: Client, field: string): void {
    const d = mayAskAnything(this.#acl, client.caller, this.#accounts);
    if (!d.allowed) throw denied(`access denied: ${d.reason}`, d.rule ? describe(d.rule) : 'default deny', field, null);
  }

  /** The caller's domain `name` (another user's looks like none: ENOENT). */
  #own(client: Client, name: unknown): Held {
    const n = objectName(name as string, 'args.name');
    const h = this.#held.get(this.#key(client.caller.uid, n));
    if (!h) throw new NetfdError(`${client.user} has no domain ${n} on this agent (list shows yours)`, { code: 'ENOENT', field: 'args.name', value: n });
    return h;
  }

  #files(h: Held): { live: string; inactive: string } {
    const scope = this.#scope(h.record.uid);
    return { live: liveXmlPath(scope, h.record.name), inactive: inactiveXmlPath(scope, h.record.name) };
  }

  async #dispatch(client: Client, req: Request, log: AgentLogger): Promise<Result> {
    const a = req.args;
    const op: Op = req.op;
    switch (op) {
      case 'hello':
        return { result: { version: 1, uid: client.caller.uid, gid: client.caller.gid, user: client.user, graceMs: this.#grace() } };
      case 'prepare':
        return this.#prepare(client, a.xml as string, a.qmp as string | undefined, accelArg(a.accel), a.running as boolean | undefined, log);
      case 'set-running': {
        // The owner's word on its guest's vCPUs; it can do no more than
        // set its own domain's macvtaps (and a passthrough one's device) up or down.
        const h = this.#own(client, a.name);
        const r = h.record;
        r.running = a.running as boolean;
        this.#writeRecord(r);
        // A shared parent an administrator set down stays down.
        await followLiveXml(this.#files(h).live, r.running, { ...this.#hostOptions(r), parents: 'passthrough' });
        log.info({ domain: r.name, running: r.running }, r.running ? 'vCPUs run: macvtaps up' : 'vCPUs paused: macvtaps down');
        return { result: { name: r.name, running: r.running } };
      }
      case 'record-pci': {
        const h = this.#own(client, a.name);
        const livePath = this.#files(h).live;
        const aliases = new Set(DomainXml.parse(fs.readFileSync(livePath, 'utf8'), { live: true }).def.interfaces.map((i) => i.alias ?? `net${i.index}`));
        const addresses = new Map<string, PciAddress>();
        (a.addresses as string[]).forEach((x, k) => {
          const eq = x.indexOf('=');
          const pci = eq > 0 ? parsePci(x.slice(eq + 1)) : null;
          if (!pci) throw new NetfdError(`args.addresses[${k}] must be ALIAS=BB:SS.F (hex, e.g. net0=00:03.0), not ${JSON.stringify(x)}`, { code: 'INVALID_ARGUMENT', field: `args.addresses[${k}]`, value: x });
          const alias = x.slice(0, eq);
          if (!aliases.has(alias)) throw new NetfdError(`domain ${h.record.name} has no interface ${alias} (it has: ${[...aliases].join(', ') || 'none'})`, { code: 'ENODEV', field: `args.addresses[${k}]`, value: x });
          addresses.set(alias, pci);
        });
        const liveXml = await recordPciAddresses(livePath, addresses);
        return { result: { name: h.record.name, liveXml } };
      }
      case 'release': {
        const h = this.#own(client, a.name);
        await this.#exclusive(this.#key(h.record.uid, h.record.name), () => this.#releaseDomainLocked(h, 'its owner released it'));
        return { result: { name: h.record.name } };
      }
      case 'claim': {
        const h = this.#own(client, a.name);
        const key = this.#key(h.record.uid, h.record.name);
        clearTimeout(h.timer);
        h.timer = undefined;
        h.client?.domains.delete(key);
        h.client = client;
        client.domains.add(key);
        log.info({ domain: h.record.name }, 'claimed');
        return { result: { name: h.record.name, liveXml: fs.readFileSync(this.#files(h).live, 'utf8') } };
      }
      case 'list':
        return { result: [...this.#held.values()].filter((h) => h.record.uid === client.caller.uid).map((h) => this.#listed(h, client)).sort((x, y) => x.name.localeCompare(y.name)) };
      case 'dumpxml': {
        const h = this.#own(client, a.name);
        return { result: { xml: fs.readFileSync(a.inactive ? this.#files(h).inactive : this.#files(h).live, 'utf8') } };
      }
      case 'attach':
        return this.#attach(client, this.#own(client, a.name), a.xml as string, log);
      case 'detach': {
        const h = this.#own(client, a.name);
        const mac = v.mac(a.mac as string, 'args.mac');
        const scope = this.#scope(h.record.uid);
        return this.#exclusive(this.#key(h.record.uid, h.record.name), async () => {
          const livePath = this.#files(h).live;
          const live = DomainXml.parse(fs.readFileSync(livePath, 'utf8'), { live: true });
          const { iface } = interfaceByMac(h.record.name, live, mac, a.mac as string);
          const d = await withDomainLock(scope, h.record.name, () => hostDetach(h.record.name, live, livePath, iface, this.#hostOptions(h.record)));
          h.record.interfaces = Math.max(0, h.record.interfaces - 1);
          h.record.devices = h.record.devices.filter((x) => x.name !== iface.target?.dev);
          this.#writeRecord(h.record);
          h.bytes = this.#stateBytes(h.record);
          return { result: d };
        });
      }
      case 'probe': {
        // It makes root create scratch namespaces and devices and run qemu.
        this.#check(client, [{ kind: 'all' }], 'op', op);
        const only = a.only as string[] | undefined;
        for (const id of only ?? []) if (!(CHECK_IDS as readonly string[]).includes(id)) throw new NetfdError(`unknown probe check ${JSON.stringify(id)}; known: ${CHECK_IDS.join(', ')}`, { code: 'INVALID_ARGUMENT', field: 'args.only', value: id });
        const report = await probeHost({ only: only as CheckId[] | undefined, vhostDevice: this.o.vhostDevice, sysfsRoot: this.o.sysfsRoot });
        return { result: { ...report, agentWarnings: await this.checkBridges() } };
      }
      case 'net-list': {
        const { rows, warnings } = new Networks(this.#hostOptions()).list();
        const mine = rows.filter((r) => (a.all || r.active) && decide(this.#acl, client.caller, { kind: 'network', value: r.name }, this.#accounts).allowed);
        return { result: { rows: mine, warnings } };
      }
      case 'net-dumpxml': {
        const name = objectName(a.name as string, 'args.name');
        this.#check(client, [{ kind: 'network', value: name }], 'args.name', name);
        return { result: { xml: new Networks(this.#hostOptions()).dumpxml(name, { inactive: a.inactive as boolean | undefined }) } };
      }
      default:
        return this.#netAdmin(client, op, a);
    }
  }

  async #netAdmin(client: Client, op: Op, a: Record<string, unknown>): Promise<Result> {
    const nets = new Networks(this.#hostOptions());
    const name = op === 'net-define' ? undefined : objectName(a.name as string, 'args.name');
    this.#check(client, [{ kind: 'all' }], 'op', op);
    switch (op) {
      case 'net-define':
        return { result: await nets.define(a.xml as string) };
      case 'net-undefine':
        return { result: await nets.undefine(name as string) };
      case 'net-start': {
        const st = await nets.start(name as string);
        return { result: { name, pool: st.pool, connections: st.connections.length, warnings: st.warnings } };
      }
      case 'net-destroy':
        return { result: await nets.destroy(name as string) };
      case 'net-autostart':
        nets.setAutostart(name as string, a.enable as boolean);
        return { result: { name, autostart: a.enable } };
      default:
        throw new NetfdError(`operation ${op} is not implemented`, { code: 'UNKNOWN_OP', field: 'op', value: op });
    }
  }

  #listed(h: Held, client: Client) {
    let interfaces: { dev?: string; mac?: string; type: string; source: unknown }[] = [];
    try {
      interfaces = DomainXml.parse(fs.readFileSync(this.#files(h).live, 'utf8'), { live: true }).def.interfaces.map((i) => ({ dev: i.target?.dev, mac: i.mac, type: i.type, source: i.source }));
    } catch {
      // being prepared or released: no live XML right now
    }
    return { name: h.record.name, state: h.client === client ? 'held' : h.client ? 'held elsewhere' : 'unclaimed', since: h.record.since, interfaces };
  }

  /** Runs `body` as the only operation on the domain `key` (EBUSY otherwise). */
  async #exclusive<T>(key: string, body: () => Promise<T>): Promise<T> {
    if (this.#busy.has(key)) throw new NetfdError(`domain ${key.slice(key.indexOf('/') + 1)} is busy with another request; try again`, { code: 'EBUSY', field: 'args.name', value: key.slice(key.indexOf('/') + 1) });
    this.#busy.add(key);
    try {
      return await body();
    } finally {
      this.#busy.delete(key);
    }
  }

  /** Deletes the domain's devices (its whole link group), its network connections and files, then its record. */
  async #releaseDomainLocked(h: Held, why: string): Promise<void> {
    const r = h.record;
    r.state = 'releasing';
    this.#writeRecord(r);
    const o = this.#hostOptions(r);
    if (fs.existsSync(this.#files(h).live)) await teardownFromLive(r.name, o);
    else await deleteGroup(r.group, { netns: o.netns });
    this.#dropRecord(r);
    this.log.info({ domain: r.name, uid: r.uid }, `released ${r.name}: ${why}`);
  }

  /** What the caller holds now, every domain of theirs counted (held, orphaned, being prepared). */
  #holding(uid: number): Reservation {
    const n: Reservation = { interfaces: 0, domains: 0, bytes: 0 };
    for (const h of this.#held.values()) {
      if (h.record.uid !== uid) continue;
      n.interfaces += h.record.interfaces;
      n.domains++;
      n.bytes += h.bytes;
    }
    const p = this.#pending.get(uid);
    if (p) {
      n.interfaces += p.interfaces;
      n.domains += p.domains;
      n.bytes += p.bytes;
    }
    return n;
  }

  /** Checks the caller's limits and reserves `adding` while `body` runs (concurrent requests count too). */
  async #withinLimits<T>(client: Client, adding: Reservation, body: () => Promise<T>): Promise<T> {
    const uid = client.caller.uid;
    const have = this.#holding(uid);
    for (const what of ['interfaces', 'domains', 'state'] as const) {
      const key = what === 'state' ? 'bytes' : what;
      const l = this.#limit(client.caller, what);
      if (!l || have[key] + adding[key] <= l.value) continue;
      const show = (n: number) => (what === 'state' ? `${formatSize(n)} bytes of state` : `${n} ${what}`);
      throw denied(`${client.user} may hold at most ${show(l.value)} (${l.rule ?? 'the agent default'}) and holds ${show(have[key])}; this request needs ${show(adding[key])} more`, l.rule, what, have[key] + adding[key], 'LIMIT_EXCEEDED');
    }
    const p = this.#pending.get(uid) ?? { interfaces: 0, domains: 0, bytes: 0 };
    p.interfaces += adding.interfaces;
    p.domains += adding.domains;
    p.bytes += adding.bytes;
    this.#pending.set(uid, p);
    try {
      return await body();
    } finally {
      p.interfaces -= adding.interfaces;
      p.domains -= adding.domains;
      p.bytes -= adding.bytes;
      if (p.interfaces <= 0 && p.domains <= 0 && p.bytes <= 0) this.#pending.delete(uid);
    }
  }

  /** A link group no link in the agent's namespace and no record uses. */
  async #freeGroup(): Promise<number> {
    const used = new Set<number | null>((await listLinks({ netns: this.o.netns })).map((l) => l.group));
    for (const h of this.#held.values()) used.add(h.record.group);
    for (;;) {
      const g = randomBytes(4).readUInt32BE(0);
      if (g >= 0x1000000 && !used.has(g)) return g;
    }
  }

  async #prepare(client: Client, text: string, qmp: string | undefined, accel: Accel | undefined, running: boolean | undefined, log: AgentLogger): Promise<Result> {
    if (qmp !== undefined && !path.isAbsolute(qmp)) throw new NetfdError(`args.qmp must be an absolute socket path, not ${JSON.stringify(qmp)}`, { code: 'INVALID_ARGUMENT', field: 'args.qmp', value: qmp });
    const uid = client.caller.uid;
    // The ACL before the expensive work: who may ask at all, then what the
    // interfaces touch (parsed off the event loop), then the full parse.
    this.#mayAsk(client, 'args.xml');
    const pre = await this.#parser.domain(uid, text);
    if (!pre.interfaces.length)
      throw new NetfdError(`domain ${pre.name} has no <interface>: the agent prepares interfaces, so there is nothing to ask it for (run qemu without it)`, { code: 'INVALID_ARGUMENT', field: '/domain/devices/interface', value: 0 });
    for (const i of pre.interfaces) this.#check(client, i.objects, i.path, i.value);
    const xml = await this.#heavy.run(uid, () => DomainXml.parse(text));
    const def = xml.def;
    const key = this.#key(uid, def.name);
    return this.#exclusive(key, async () => {
      if (this.#held.has(key) || fs.existsSync(this.#recordPath(uid, def.name))) throw new NetfdError(`domain ${def.name} is already prepared by this agent; release it first`, { code: 'EEXIST', field: 'name', value: def.name });
      // The record holds the XML, and the live and inactive XML hold it again.
      const estimate = 3 * bytesOf(text) + 4096;
      return this.#withinLimits(client, { interfaces: def.interfaces.length, domains: 1, bytes: estimate }, async () => {
        const macs = domainMacs(def, randomBytes);
        const record: DomainRecord = { name: def.name, uid, gid: client.caller.gid, pid: client.caller.pid ?? 0, state: 'preparing', xml: text, macs, group: await this.#freeGroup(), devices: [], interfaces: def.interfaces.length, ...(accel ? { accel } : {}), ...(running !== undefined ? { running } : {}), since: new Date().toISOString() };
        this.#writeRecord(record, true);
        let prepared;
        try {
          prepared = await prepareDomain(xml, { ...this.#hostOptions(record), macs, accel, macvtapsDown: running === false });
        } catch (err) {
          fs.rmSync(this.#recordPath(uid, def.name), { force: true });
          throw err;
        }
        record.state = 'ready';
        record.devices = prepared.interfaces.filter((i) => i.created).map((i) => ({ ifindex: i.ifindex, kind: i.kind, name: i.name }));
        this.#writeRecord(record);
        const h: Held = { record, client, bytes: this.#stateBytes(record) };
        this.#held.set(key, h);
        if (client.conn.closed) this.#orphan(h);
        else client.domains.add(key);
        log.info({ domain: def.name, devices: prepared.interfaces.map((i) => i.name), group: record.group }, 'prepared');
        const interfaces = prepared.interfaces.map((i) => ({ dev: i.name, mac: i.plan.mac, alias: i.plan.deviceId, driver: i.decision.record, tapFds: i.fds.fds.length, vhostFds: i.vhostFds.fds.length }));
        return { result: { name: def.name, liveXml: prepared.liveXml, argv: prepared.argv(qmp ? { qmp } : {}), interfaces }, fds: prepared.qemuFds(), after: () => prepared.closeFds() };
      });
    });
  }

  async #attach(client: Client, h: Held, ifaceXml: string, log: AgentLogger): Promise<Result> {
    const r = h.record;
    const name = r.name;
    const scope = this.#scope(r.uid);
    this.#mayAsk(client, 'args.xml');
    const livePath = this.#files(h).live;
    const pre = await this.#parser.interface(r.uid, fs.readFileSync(livePath, 'utf8'), ifaceXml);
    for (const i of pre.interfaces) this.#check(client, i.objects, i.path, i.value);
    return this.#exclusive(this.#key(r.uid, name), async () => {
      return withDomainLock(scope, name, async () => {
        const live = await this.#heavy.run(r.uid, () => DomainXml.parse(fs.readFileSync(livePath, 'utf8'), { live: true }));
        const probe = live.withInterface(ifaceXml).iface;
        return this.#withinLimits(client, { interfaces: 1, domains: 0, bytes: 2 * bytesOf(ifaceXml) + 1024 }, async () => {
          // The MAC is chosen (and recorded) before anything is made.
          const used = new Set(live.def.interfaces.map((i) => i.mac));
          let bytes = randomBytes(3);
          while (!probe.mac && used.has(generateMac(bytes))) bytes = randomBytes(3);
          const mac = probe.mac ?? generateMac(bytes);
          r.attaching = { xml: ifaceXml, mac };
          this.#writeRecord(r);
          let host;
          try {
            host = await hostAttach(name, live, ifaceXml, { ...this.#hostOptions(r), random: () => bytes, accel: r.accel, macvtapsDown: r.running !== undefined });
          } catch (err) {
            delete r.attaching;
            this.#writeRecord(r);
            throw err;
          }
          const p = host.prepared;
          try {
            replaceFileAtomic(livePath, host.liveXml);
          } catch (err) {
            await host.undo(err);
            throw err;
          }
          // Following the owner's word on the vCPUs (set-running waits for
          // this domain lock, so a change said meanwhile is applied after).
          if (r.running === true) await setInterfaceLinks([host.iface], true, { ...this.#hostOptions(r), parents: 'passthrough' }).catch((e) => log.warn({ domain: name, dev: p.name, err: (e as Error).message }, 'setting an attached macvtap up failed'));
          delete r.attaching;
          r.interfaces++;
          if (p.created) r.devices.push({ ifindex: p.ifindex, kind: p.kind, name: p.name });
          this.#writeRecord(r);
          h.bytes = this.#stateBytes(r);
          log.info({ domain: name, dev: p.name, mac: p.plan.mac }, 'attached');
          return {
            result: { alias: p.plan.deviceId, mac: p.plan.mac, targetDev: p.name, driver: p.decision.record, liveXml: host.liveXml, nic: qemuNic(p), tapFds: p.fds.fds.length, vhostFds: p.vhostFds.fds.length },
            fds: [...p.fds.fds, ...p.vhostFds.fds],
            after: () => {
              p.fds.close();
              p.vhostFds.close();
            },
          };
        });
      });
    });
  }
}
