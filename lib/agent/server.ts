// The host agent: a privileged daemon that prepares guest NICs for
// unprivileged VM managers. Callers are known by SO_PEERCRED and every
// request is decided by the ACL. Every domain it prepares is recorded in
// STATE/agent/NAME.json before the host changes, so after a crash (even
// SIGKILL) a restarted agent finds what it made: finished domains are kept
// for their owner to claim, half-made ones are removed. Interfaces of a
// client that went away are released after a grace period.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { NetfdError } from '../errors';
import { deleteLinks, listLinks } from '../link';
import { native, NativeMessage } from '../native';
import { peerCred } from '../fdpass';
import { prepareDomain, teardownFromLive } from '../netdev/domain';
import { inactiveXmlPath, liveXmlPath, replaceFileAtomic, stateDir as stateDirOf, withDomainLock, writeNewFileAtomic } from '../netdev/state';
import { Networks } from '../network/store';
import { domainMacs, generateMac, GuestMac } from '../policy';
import { probeHost, CHECK_IDS, CheckId } from '../host/probe';
import { hostAttach, hostDetach, interfaceByMac, qemuNic } from '../qemu/hotplug';
import * as v from '../validate';
import { isObjectName } from '../xml/dom';
import { DomainXml, InterfaceDef } from '../xml/domain';
import { Acl, AclObject, Accounts, Caller, decide, decideAll, describe, fileAccounts, interfaceLimit, loadAcl, unknownNames } from './acl';
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
export const DEFAULT_ACL = '/etc/netfd/acl.conf';
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export interface AgentOptions {
  /** The socket path to create (default /run/netfd/agent.sock); ignored with `listenFd`. */
  socket?: string;
  /** An inherited listening socket (systemd socket activation). */
  listenFd?: number;
  /** Permissions of a created socket (default 0o660). */
  socketMode?: number;
  /** Group of a created socket (name or gid). */
  socketGroup?: string | number;
  /** The ACL file (default /etc/netfd/acl.conf); a missing file denies everything. */
  acl?: string;
  /** Live state directory (default NETFD_STATE_DIR or /run/netfd/qemu). */
  stateDir?: string;
  configDir?: string;
  sysfsRoot?: string;
  netns?: string;
  vhostDevice?: string;
  /** How long a departed client's domains wait to be claimed (default 30 s). */
  graceMs?: number;
  /** Connections at once (default 1024). */
  maxClients?: number;
  /**
   * How long SIGTERM waits for requests in flight and their replies (default
   * 10 s); then every connection is closed, whatever it has not read.
   */
  stopTimeoutMs?: number;
  /** Requests a connection may have in flight (default 8). */
  maxInFlight?: number;
  /** Requests per second per connection, and the burst (default 200 and 400). */
  rate?: { perSecond: number; burst: number };
  /** passwd/group lookups (default /etc/passwd and /etc/group). */
  accounts?: Accounts;
  logger?: pino.Logger;
}

/** STATE/agent/NAME.json: who owns a domain and what the agent was doing to it. */
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
  /** Interfaces the domain has now (prepared plus attached minus detached). */
  interfaces: number;
  /** An interface being attached: its XML and MAC. */
  attaching?: { xml: string; mac: string };
  since: string;
}

interface Client {
  conn: Conn;
  caller: Caller;
  user: string;
  inFlight: number;
  tokens: number;
  refilled: number;
  domains: Set<string>;
}

interface Held {
  record: DomainRecord;
  client: Client | null;
  timer?: NodeJS.Timeout;
}

type Result = { result: unknown; fds?: number[]; after?: () => void };

function denied(message: string, rule: string | null, field: string, value: unknown, code = 'ACCESS_DENIED'): NetfdError {
  const e = new NetfdError(message, { code, field, value }) as NetfdError & { rule?: string };
  if (rule) e.rule = rule;
  return e;
}

/** What an interface touches on the host, for the ACL. */
export function aclObjects(i: InterfaceDef): AclObject[] {
  const objs: AclObject[] = [];
  if (i.type === 'bridge') objs.push({ kind: 'bridge', value: i.source.bridge as string });
  else if (i.type === 'direct') objs.push({ kind: 'dev', value: i.source.dev as string }, { kind: 'mode', value: i.source.mode ?? 'vepa' });
  else if (i.type === 'network') objs.push({ kind: 'network', value: i.source.network as string });
  else if (i.target?.managed !== false) objs.push({ kind: 'ethernet' });
  // Opening an existing device (managed='no': it may be another guest's) and
  // device paths (the agent would open them as root) are only for `all`.
  if (i.target?.managed === false || i.backend.tap !== undefined || i.backend.vhost !== undefined) objs.push({ kind: 'all' });
  return objs;
}

export class Agent {
  readonly o: AgentOptions;
  readonly log: pino.Logger;
  readonly dir: string;
  readonly recordsDir: string;
  #acl: Acl;
  readonly #accounts: Accounts;
  #listener: Listener | undefined;
  readonly #clients = new Set<Client>();
  readonly #held = new Map<string, Held>();
  readonly #busy = new Set<string>();
  /** Interfaces being prepared or attached per uid, counted against limits before they are recorded. */
  readonly #pending = new Map<number, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #nextReq = 1;
  #stopping = false;
  #createdSocket: string | undefined;

  constructor(o: AgentOptions = {}) {
    this.o = o;
    this.log = o.logger ?? pino({ base: { component: 'netfd-agent', pid: process.pid } });
    this.dir = stateDirOf(o.stateDir);
    this.recordsDir = path.join(this.dir, 'agent');
    this.#accounts = o.accounts ?? fileAccounts();
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
    if (unknown.length) this.log.warn({ acl: file, unknown }, `ACL names no such user or group: ${unknown.join(', ')} (those rules never match)`);
    this.log.info({ acl: acl.files, rules: acl.rules.length, limits: acl.limits.length }, 'ACL loaded');
    return acl;
  }

  /** Reads the ACL again (SIGHUP); on error the old one stays. */
  reloadAcl(): void {
    try {
      this.#acl = this.#loadAcl();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'ACL reload failed; the previous ACL stays in force');
    }
  }

  get #rate(): { perSecond: number; burst: number } {
    return this.o.rate ?? { perSecond: 200, burst: 400 };
  }

  get socketPath(): string {
    return this.o.socket ?? DEFAULT_SOCKET;
  }

  /** Recovers from the records, starts autostart networks, then listens. */
  async start(): Promise<void> {
    await this.recover();
    await this.#autostart();
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
    this.log.info({ held: this.#held.size }, 'stopped; prepared domains stay recorded for the next start');
    return finished;
  }

  // ---- records ------------------------------------------------------------

  #recordPath(name: string): string {
    return path.join(this.recordsDir, `${name}.json`);
  }

  #writeRecord(r: DomainRecord, create = false): void {
    const text = `${JSON.stringify(r, null, 1)}\n`;
    if (create) writeNewFileAtomic(this.#recordPath(r.name), text);
    else replaceFileAtomic(this.#recordPath(r.name), text);
  }

  #dropRecord(name: string): void {
    fs.rmSync(this.#recordPath(name), { force: true });
    const h = this.#held.get(name);
    if (h) {
      clearTimeout(h.timer);
      h.client?.domains.delete(name);
      this.#held.delete(name);
    }
  }

  /**
   * After a restart: every record is finished or undone. Prepared domains
   * are held for their owner to claim (released after the grace period);
   * half-made ones lose the devices recorded for them; releases finish.
   */
  async recover(): Promise<void> {
    let files: string[];
    try {
      files = fs.readdirSync(this.recordsDir).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
    } catch {
      return;
    }
    for (const f of files) {
      const file = path.join(this.recordsDir, f);
      let r: DomainRecord;
      try {
        r = JSON.parse(fs.readFileSync(file, 'utf8')) as DomainRecord;
        if (typeof r.name !== 'string' || `${r.name}.json` !== f || typeof r.uid !== 'number' || !Array.isArray(r.macs)) throw new Error('not an agent record');
      } catch (e) {
        this.log.error({ file, err: (e as Error).message }, `unreadable record ${file} left alone`);
        continue;
      }
      try {
        await this.#recoverOne(r);
      } catch (e) {
        this.log.error({ domain: r.name, err: (e as Error).message }, `recovering ${r.name} failed; its record stays for the next start`);
      }
    }
  }

  async #recoverOne(r: DomainRecord): Promise<void> {
    const live = liveXmlPath(this.dir, r.name);
    const hasLive = fs.existsSync(live);
    if (r.state === 'releasing' || (r.state === 'preparing' && !hasLive)) {
      if (hasLive) await teardownFromLive(r.name, this.#hostOptions());
      else await this.#removeHalfMade(r, DomainXml.parse(r.xml).def.interfaces, r.macs.map((m) => m.mac));
      this.#dropRecord(r.name);
      this.log.info({ domain: r.name, uid: r.uid, was: r.state }, r.state === 'releasing' ? 'finished an interrupted release' : 'removed a half-prepared domain');
      return;
    }
    if (r.attaching) {
      const xml = DomainXml.parse(fs.readFileSync(live, 'utf8'), { live: true });
      if (!xml.def.interfaces.some((i) => i.mac === r.attaching?.mac)) {
        const iface = xml.withInterface(r.attaching.xml).iface;
        await this.#removeHalfMade(r, [iface], [r.attaching.mac]);
        r.interfaces = xml.def.interfaces.length;
      }
      delete r.attaching;
    }
    r.state = 'ready';
    this.#writeRecord(r);
    const h: Held = { record: r, client: null };
    this.#held.set(r.name, h);
    this.#orphan(h);
    this.log.info({ domain: r.name, uid: r.uid, graceMs: this.#grace() }, 'holding a prepared domain for its owner to claim');
  }

  /**
   * Deletes what a prepare or attach cut short may have made: macvtaps with
   * the recorded MAC on the recorded parent (a passthrough one may still
   * carry the parent's MAC). Taps need nothing: they are not persistent and
   * went with the agent's fds. Network devices are reclaimed by the network.
   */
  async #removeHalfMade(r: DomainRecord, ifaces: InterfaceDef[], macs: string[]): Promise<void> {
    const o = this.#hostOptions();
    const links = await listLinks({ netns: o.netns });
    const victims: number[] = [];
    for (const [n, i] of ifaces.entries()) {
      if (i.type === 'network' && i.source.network) {
        await new Networks(o).reclaim(i.source.network).catch((e) => this.log.warn({ network: i.source.network, err: (e as Error).message }, 'reclaiming a network connection failed'));
        continue;
      }
      if (i.type !== 'direct') continue;
      const parent = links.find((l) => l.name === i.source.dev);
      if (!parent) continue;
      for (const l of links)
        if (l.kind === 'macvtap' && l.parent === parent.index && (l.mac === macs[n] || (i.source.mode === 'passthrough' && l.mode === 'passthru' && l.mac === parent.mac))) victims.push(l.index);
    }
    if (victims.length) await deleteLinks(victims, { netns: o.netns });
    if (victims.length) this.log.info({ domain: r.name, links: victims }, 'deleted devices of an interrupted setup');
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

  #hostOptions() {
    return { stateDir: this.dir, configDir: this.o.configDir, sysfsRoot: this.o.sysfsRoot, netns: this.o.netns, vhostDevice: this.o.vhostDevice, onWarning: (m: string) => this.log.warn(m) };
  }

  #grace(): number {
    return this.o.graceMs ?? 30_000;
  }

  /** The domain has no client: released after the grace period unless claimed. */
  #orphan(h: Held): void {
    h.client?.domains.delete(h.record.name);
    h.client = null;
    clearTimeout(h.timer);
    h.timer = setTimeout(() => {
      h.timer = undefined;
      if (h.client || this.#stopping) return;
      const name = h.record.name;
      const release = this.#exclusive(name, () => this.#releaseDomainLocked(h, 'its client went away and nobody claimed it')).catch((e) => {
        if ((e as NetfdError).code === 'EBUSY' && !h.client) this.#orphan(h);
        else this.log.error({ domain: name, err: (e as Error).message }, 'releasing an unclaimed domain failed');
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

  #accept(fd: number): void {
    if (this.#stopping || this.#clients.size >= (this.o.maxClients ?? 1024)) {
      try {
        native().sendNow(fd, errorReply(null, new NetfdError(this.#stopping ? 'the agent is stopping' : `the agent serves at most ${this.o.maxClients ?? 1024} connections`, { code: 'EAGAIN' })));
      } catch {
        // the refusal is best effort
      }
      native().close(fd);
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
      caller: { uid: cred.uid, gid: cred.gid, pid: cred.pid },
      user: this.#accounts.userName(cred.uid) ?? `uid ${cred.uid}`,
      inFlight: 0,
      tokens: this.#rate.burst,
      refilled: Date.now(),
      domains: new Set(),
    };
    this.#clients.add(client);
    this.log.debug({ uid: cred.uid, clientPid: cred.pid }, 'client connected');
  }

  #closed(client: Client, why: string): void {
    this.#clients.delete(client);
    for (const name of [...client.domains]) {
      const h = this.#held.get(name);
      if (h && h.client === client) this.#orphan(h);
    }
    if (!this.#stopping && client.domains.size === 0) this.log.debug({ uid: client.caller.uid, clientPid: client.caller.pid, why }, 'client disconnected');
  }

  #reply(client: Client, data: Buffer, fds: number[] = []): Promise<void> {
    return client.conn.send(data, fds);
  }

  #message(client: Client, m: NativeMessage): void {
    const reqId = this.#nextReq++;
    const log = this.log.child({ req: reqId, uid: client.caller.uid, clientPid: client.caller.pid });
    // Admission: size, stray fds, rate, requests in flight.
    let refusal: NetfdError | undefined;
    if (m.truncated) refusal = new NetfdError(`the request is ${m.size} bytes; the agent reads at most ${MAX_REQUEST}`, { code: 'REQUEST_TOO_LARGE', field: 'request', value: m.size });
    else if (m.ctrunc || m.fds.length) refusal = new NetfdError('the request carried file descriptors; no request takes any (they were closed)', { code: 'BAD_REQUEST', field: 'fds', value: m.fds.length || 'some' });
    for (const fd of m.fds) native().close(fd);
    if (!refusal) {
      const rate = this.#rate;
      const now = Date.now();
      client.tokens = Math.min(rate.burst, client.tokens + ((now - client.refilled) * rate.perSecond) / 1000);
      client.refilled = now;
      if (client.tokens < 1) refusal = new NetfdError(`more than ${rate.perSecond} requests a second; slow down`, { code: 'RATE_LIMITED' });
      else client.tokens -= 1;
    }
    if (!refusal && client.inFlight >= (this.o.maxInFlight ?? 8))
      refusal = new NetfdError(`${client.inFlight} requests are already in flight on this connection (at most ${this.o.maxInFlight ?? 8}); wait for their replies`, { code: 'EBUSY' });
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
    client.inFlight++;
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
      }
    })();
    void this.#track(work);
  }

  // ---- operations ---------------------------------------------------------

  #check(client: Client, objects: AclObject[], field: string, value: unknown): void {
    const d = objects.length === 1 ? decide(this.#acl, client.caller, objects[0], this.#accounts) : decideAll(this.#acl, client.caller, objects, this.#accounts);
    if (!d.allowed) throw denied(`access denied: ${d.reason}`, d.rule ? describe(d.rule) : 'default deny', field, value);
  }

  #own(client: Client, name: unknown): Held {
    const n = objectName(name as string, 'args.name');
    const h = this.#held.get(n);
    if (!h || h.record.uid !== client.caller.uid) throw new NetfdError(`${client.user} has no domain ${n} on this agent (list shows yours)`, { code: 'ENOENT', field: 'args.name', value: n });
    return h;
  }

  async #dispatch(client: Client, req: Request, log: pino.Logger): Promise<Result> {
    const a = req.args;
    const op: Op = req.op;
    switch (op) {
      case 'hello':
        return { result: { version: 1, uid: client.caller.uid, gid: client.caller.gid, user: client.user, graceMs: this.#grace() } };
      case 'prepare':
        return this.#prepare(client, a.xml as string, a.qmp as string | undefined, log);
      case 'release': {
        const h = this.#own(client, a.name);
        await this.#exclusive(h.record.name, () => this.#releaseDomainLocked(h, 'its owner released it'));
        return { result: { name: h.record.name } };
      }
      case 'claim': {
        const h = this.#own(client, a.name);
        clearTimeout(h.timer);
        h.timer = undefined;
        h.client?.domains.delete(h.record.name);
        h.client = client;
        client.domains.add(h.record.name);
        log.info({ domain: h.record.name }, 'claimed');
        return { result: { name: h.record.name, liveXml: fs.readFileSync(liveXmlPath(this.dir, h.record.name), 'utf8') } };
      }
      case 'list':
        return { result: [...this.#held.values()].filter((h) => h.record.uid === client.caller.uid).map((h) => this.#listed(h, client)).sort((x, y) => x.name.localeCompare(y.name)) };
      case 'dumpxml': {
        const h = this.#own(client, a.name);
        return { result: { xml: fs.readFileSync(a.inactive ? inactiveXmlPath(this.dir, h.record.name) : liveXmlPath(this.dir, h.record.name), 'utf8') } };
      }
      case 'attach':
        return this.#attach(client, this.#own(client, a.name), a.xml as string, log);
      case 'detach': {
        const h = this.#own(client, a.name);
        const mac = v.mac(a.mac as string, 'args.mac');
        return this.#exclusive(h.record.name, async () => {
          const livePath = liveXmlPath(this.dir, h.record.name);
          const live = DomainXml.parse(fs.readFileSync(livePath, 'utf8'), { live: true });
          const { iface } = interfaceByMac(h.record.name, live, mac, a.mac as string);
          const d = await withDomainLock(this.dir, h.record.name, () => hostDetach(h.record.name, live, livePath, iface, { ...this.#hostOptions() }));
          h.record.interfaces = Math.max(0, h.record.interfaces - 1);
          this.#writeRecord(h.record);
          return { result: d };
        });
      }
      case 'probe': {
        // It makes root create scratch namespaces and devices and run qemu.
        this.#check(client, [{ kind: 'all' }], 'op', op);
        const only = a.only as string[] | undefined;
        for (const id of only ?? []) if (!(CHECK_IDS as readonly string[]).includes(id)) throw new NetfdError(`unknown probe check ${JSON.stringify(id)}; known: ${CHECK_IDS.join(', ')}`, { code: 'INVALID_ARGUMENT', field: 'args.only', value: id });
        return { result: await probeHost({ only: only as CheckId[] | undefined, vhostDevice: this.o.vhostDevice, sysfsRoot: this.o.sysfsRoot }) };
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
      interfaces = DomainXml.parse(fs.readFileSync(liveXmlPath(this.dir, h.record.name), 'utf8'), { live: true }).def.interfaces.map((i) => ({ dev: i.target?.dev, mac: i.mac, type: i.type, source: i.source }));
    } catch {
      // being prepared or released: no live XML right now
    }
    return { name: h.record.name, state: h.client === client ? 'held' : h.client ? 'held elsewhere' : 'unclaimed', since: h.record.since, interfaces };
  }

  /** Runs `body` as the only operation on the domain (EBUSY otherwise). */
  async #exclusive<T>(name: string, body: () => Promise<T>): Promise<T> {
    if (this.#busy.has(name)) throw new NetfdError(`domain ${name} is busy with another request; try again`, { code: 'EBUSY', field: 'args.name', value: name });
    this.#busy.add(name);
    try {
      return await body();
    } finally {
      this.#busy.delete(name);
    }
  }

  async #releaseDomainLocked(h: Held, why: string): Promise<void> {
    h.record.state = 'releasing';
    this.#writeRecord(h.record);
    if (fs.existsSync(liveXmlPath(this.dir, h.record.name))) await teardownFromLive(h.record.name, this.#hostOptions());
    this.#dropRecord(h.record.name);
    this.log.info({ domain: h.record.name, uid: h.record.uid }, `released ${h.record.name}: ${why}`);
  }

  /** Interfaces the caller holds in all its domains. */
  #interfacesOf(uid: number): number {
    let n = 0;
    for (const h of this.#held.values()) {
      if (h.record.uid !== uid) continue;
      n += h.record.interfaces;
    }
    return n;
  }

  /** Checks the caller's limit and reserves `adding` interfaces while `body` runs (concurrent requests count too). */
  async #withinLimit<T>(client: Client, adding: number, body: () => Promise<T>): Promise<T> {
    const uid = client.caller.uid;
    const limit = interfaceLimit(this.#acl, client.caller, this.#accounts);
    const have = this.#interfacesOf(uid) + (this.#pending.get(uid) ?? 0);
    if (limit && have + adding > limit.interfaces)
      throw denied(`${client.user} may hold at most ${limit.interfaces} interfaces and holds ${have}; this request needs ${adding} more`, describe(limit), 'interfaces', have + adding, 'LIMIT_EXCEEDED');
    this.#pending.set(uid, (this.#pending.get(uid) ?? 0) + adding);
    try {
      return await body();
    } finally {
      const left = (this.#pending.get(uid) ?? adding) - adding;
      if (left > 0) this.#pending.set(uid, left);
      else this.#pending.delete(uid);
    }
  }

  async #prepare(client: Client, text: string, qmp: string | undefined, log: pino.Logger): Promise<Result> {
    const xml = DomainXml.parse(text);
    const def = xml.def;
    if (qmp !== undefined && !path.isAbsolute(qmp)) throw new NetfdError(`args.qmp must be an absolute socket path, not ${JSON.stringify(qmp)}`, { code: 'INVALID_ARGUMENT', field: 'args.qmp', value: qmp });
    for (const i of def.interfaces) this.#check(client, aclObjects(i), `${i.path}`, i.source.bridge ?? i.source.dev ?? i.source.network ?? i.target?.dev ?? i.type);
    return this.#exclusive(def.name, async () => {
      if (this.#held.has(def.name) || fs.existsSync(this.#recordPath(def.name))) throw new NetfdError(`domain ${def.name} is already prepared by this agent; release it first`, { code: 'EEXIST', field: 'name', value: def.name });
      return this.#withinLimit(client, def.interfaces.length, async () => {
        const macs = domainMacs(def, randomBytes);
        const record: DomainRecord = { name: def.name, uid: client.caller.uid, gid: client.caller.gid, pid: client.caller.pid ?? 0, state: 'preparing', xml: text, macs, interfaces: def.interfaces.length, since: new Date().toISOString() };
        this.#writeRecord(record, true);
        let prepared;
        try {
          prepared = await prepareDomain(xml, { ...this.#hostOptions(), macs });
        } catch (err) {
          fs.rmSync(this.#recordPath(def.name), { force: true });
          throw err;
        }
        record.state = 'ready';
        this.#writeRecord(record);
        const h: Held = { record, client };
        this.#held.set(def.name, h);
        if (client.conn.closed) this.#orphan(h);
        else client.domains.add(def.name);
        log.info({ domain: def.name, devices: prepared.interfaces.map((i) => i.name) }, 'prepared');
        const interfaces = prepared.interfaces.map((i) => ({ dev: i.name, mac: i.plan.mac, alias: i.plan.deviceId, driver: i.decision.record, tapFds: i.fds.fds.length, vhostFds: i.vhostFds.fds.length }));
        return { result: { name: def.name, liveXml: prepared.liveXml, argv: prepared.argv(qmp ? { qmp } : {}), interfaces }, fds: prepared.qemuFds(), after: () => prepared.closeFds() };
      });
    });
  }

  async #attach(client: Client, h: Held, ifaceXml: string, log: pino.Logger): Promise<Result> {
    const name = h.record.name;
    return this.#exclusive(name, async () => {
      const livePath = liveXmlPath(this.dir, name);
      return withDomainLock(this.dir, name, async () => {
        const live = DomainXml.parse(fs.readFileSync(livePath, 'utf8'), { live: true });
        const probe = live.withInterface(ifaceXml).iface;
        this.#check(client, aclObjects(probe), probe.path, probe.source.bridge ?? probe.source.dev ?? probe.source.network ?? probe.type);
        return this.#withinLimit(client, 1, async () => {
          // The MAC is chosen (and recorded) before anything is made.
          const used = new Set(live.def.interfaces.map((i) => i.mac));
          let bytes = randomBytes(3);
          while (!probe.mac && used.has(generateMac(bytes))) bytes = randomBytes(3);
          const mac = probe.mac ?? generateMac(bytes);
          h.record.attaching = { xml: ifaceXml, mac };
          this.#writeRecord(h.record);
          let host;
          try {
            host = await hostAttach(name, live, ifaceXml, { ...this.#hostOptions(), random: () => bytes });
          } catch (err) {
            delete h.record.attaching;
            this.#writeRecord(h.record);
            throw err;
          }
          const p = host.prepared;
          try {
            replaceFileAtomic(livePath, host.liveXml);
          } catch (err) {
            await host.undo(err);
            throw err;
          }
          delete h.record.attaching;
          h.record.interfaces++;
          this.#writeRecord(h.record);
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
