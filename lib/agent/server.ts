// The host agent: a privileged daemon that prepares guest NICs for
// unprivileged VM managers. Callers are known by SO_PEERCRED and every
// request is decided by the ACL. This file is the wiring: it listens,
// accepts, hands each request to its handler (handlers.ts) after admission
// (admission.ts), keeps the domains' records (records.ts) across restarts,
// releases the interfaces of a client that went away after a grace period,
// reloads the ACL on SIGHUP and stops on SIGTERM.
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { NetfdError } from '../errors';
import { native, NativeMessage } from '../sys/native';
import { peerCred } from '../sys/fdpass';
import type { FileLock } from '../sys/flock';
import { stateDir as stateDirOf } from '../state/dirs';
import { Acl, loadAcl } from './acl/syntax';
import { Caller, unknownNames } from './acl/decide';
import { Accounts, nssAccounts } from './acl/accounts';
import { Admission, Client } from './admission';
import { Context, HANDLERS, releaseDomain } from './handlers';
import { AgentLogger, AgentOptions, DEFAULT_ACL, DEFAULT_STOP_TIMEOUT_MS } from './options';
import { Held, Records } from './records';
import { Reaper } from './reaper';
import { SharedRun } from './listing';
import { listLinks } from '../sys/link';
import { Conn, Listener } from './conn';
import { DEFAULT_SOCKET, errorReply, idOf, MAX_REQUEST, okReply, parseRequest, Request } from './protocol';

import { autostart, lockAgentDir, removeStaleSocket } from './startup';

export { AgentLogger, AgentOptions, DEFAULT_ACL, DEFAULT_STOP_TIMEOUT_MS } from './options';

/** The largest reply sent: one seqpacket message must fit the default socket buffer (about 208 KiB). */
const MAX_SEND = 200 * 1024;

/**
 * The privileged host agent: makes host devices for unprivileged callers under an ACL and hands them
 * the fds (`netfd agent` is this class). `start()` recovers its records and listens; `stop()` ends it.
 */
export class Agent {
  readonly o: AgentOptions;
  readonly log: AgentLogger;
  readonly dir: string;
  readonly recordsDir: string;
  readonly #records: Records;
  readonly #admission: Admission;
  /** What the handlers use of the agent. */
  readonly #ctx: Context;
  #listener: Listener | undefined;
  readonly #clients = new Set<Client>();
  readonly #inFlight = new Set<Promise<void>>();
  #nextReq = 1;
  #stopping = false;
  #createdSocket: string | undefined;
  /** The records directory's lock (startup.ts lockAgentDir), from start() until stop(). */
  #dirLock: FileLock | undefined;

  /** Reads the ACL (a broken one throws ACL_INVALID); nothing listens until `start()`. */
  constructor(o: AgentOptions = {}) {
    this.o = o;
    this.log = o.logger ?? pino({ base: { component: 'netfd-agent', pid: process.pid } });
    this.dir = stateDirOf(o.stateDir);
    this.#records = new Records(this.dir, o, this.log, (records) => new Reaper(records, this.log));
    this.recordsDir = this.#records.recordsDir;
    const accounts = o.accounts ?? nssAccounts();
    this.#admission = new Admission(o, this.#loadAcl(accounts), accounts, this.#records);
    const links = new SharedRun(() => listLinks({ netns: o.netns }));
    this.#ctx = {
      records: this.#records,
      admission: this.#admission,
      log: this.log,
      o,
      grace: () => this.#grace(),
      orphan: (h) => this.#orphan(h),
      links: () => links.get(),
      checkBridges: () => this.checkBridges(),
    };
  }

  #loadAcl(accounts: Accounts): Acl {
    const file = this.o.acl ?? DEFAULT_ACL;
    if (!fs.existsSync(file)) {
      this.log.warn({ acl: file }, `ACL file ${file} does not exist: every request is refused`);
      return { rules: [], limits: [], files: [] };
    }
    const acl = loadAcl(file);
    const unknown = unknownNames(acl, accounts);
    if (unknown.length)
      this.log.warn(
        { acl: file, unknown },
        `ACL names users or groups that cannot be resolved: ${unknown.join(', ')} (deny rules naming them refuse everyone they cover, allow rules naming them grant nothing, limits naming them apply to everyone)`,
      );
    this.log.info({ acl: acl.files, rules: acl.rules.length, limits: acl.limits.length }, 'ACL loaded');
    return acl;
  }

  /** Reads the ACL again (SIGHUP); on error the old one stays. */
  reloadAcl(): void {
    try {
      this.#admission.acl = this.#loadAcl(this.#admission.accounts);
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'ACL reload failed; the previous ACL stays in force');
      return;
    }
    void this.checkBridges();
  }

  /** The socket path the agent listens on (or would, under socket activation). */
  get socketPath(): string {
    return this.o.socket ?? DEFAULT_SOCKET;
  }

  /** Takes the state directory (one agent each), recovers from the records, starts autostart networks, then listens. */
  async start(): Promise<void> {
    this.#dirLock = lockAgentDir(this.recordsDir);
    await this.recover();
    await autostart(this.#records.host(), this.log);
    await this.checkBridges();
    if (this.#stopping) return; // stopped while recovering: never listen
    let fd: number;
    if (this.o.listenFd !== undefined) {
      const info = native().socketInfo(this.o.listenFd);
      if (info.family !== 'unix' || info.type !== 'seqpacket' || !info.listening)
        throw new NetfdError(
          `inherited fd ${this.o.listenFd} is a ${info.family} ${info.type} socket${info.listening ? '' : ' not listening'}; the agent needs a listening unix seqpacket socket (ListenSequentialPacket=)`,
          { code: 'INVALID_ARGUMENT', field: 'listenFd', value: this.o.listenFd },
        );
      fd = this.o.listenFd;
    } else {
      const file = this.socketPath;
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
      await removeStaleSocket(file);
      fd = native().unixListen(file, 512);
      this.#createdSocket = file;
      fs.chmodSync(file, this.o.socketMode ?? 0o660);
      if (this.o.socketGroup !== undefined) {
        const gid = typeof this.o.socketGroup === 'number' ? this.o.socketGroup : this.#admission.accounts.gidOf(this.o.socketGroup);
        if (gid === undefined) throw new NetfdError(`no group ${this.o.socketGroup} for --socket-group`, { code: 'INVALID_ARGUMENT', field: 'socketGroup', value: this.o.socketGroup });
        fs.chownSync(file, process.getuid?.() ?? 0, gid);
      }
    }
    await this.#admission.parser.warm();
    this.#listener = new Listener(
      fd,
      (c) => this.#accept(c),
      (e) => this.log.error({ err: e.message }, 'accepting a connection failed; trying again'),
    );
    this.log.info({ socket: this.o.listenFd !== undefined ? `fd ${this.o.listenFd}` : this.socketPath, held: this.#records.held.size }, 'listening');
  }

  /**
   * SIGTERM: stop accepting, give requests in flight up to `stopTimeoutMs`
   * to finish and have their replies read and the deletion queue to empty,
   * then disconnect everyone. Domains
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
    // Requests in flight first, then the deletion queue (releases among them add to it).
    const finished = await Promise.race([
      Promise.allSettled([...this.#inFlight])
        .then(() => this.#records.queue.drain())
        .then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
    clearTimeout(timer);
    if (!finished) {
      const connections = [...this.#clients]
        .filter((c) => c.inFlight || c.conn.queued)
        .map((c) => ({ uid: c.caller.uid, clientPid: c.caller.pid, requests: c.inFlight, unreadReplies: c.conn.queued }));
      this.log.warn(
        { stopTimeoutMs: ms, unfinished: this.#inFlight.size, connections, queued: this.#records.queue.size },
        `stop timeout: ${this.#inFlight.size} operation(s) cut short after ${ms} ms (${connections.length} connection(s) with requests in flight or replies not read, ${this.#records.queue.size} released domain(s) whose devices are not deleted yet); records and the deletion queue stay for the next start`,
      );
    }
    for (const c of [...this.#clients]) c.conn.close('the agent is stopping');
    for (const h of this.#records.held.values()) clearTimeout(h.timer);
    this.#records.queue.close();
    this.#admission.parser.close();
    this.#dirLock?.unlock();
    this.log.info({ held: this.#records.held.size }, 'stopped; prepared domains stay recorded for the next start');
    return finished;
  }

  /**
   * After a restart: the deletion queue is finished (before the agent
   * serves), then every record is finished or undone. Prepared domains
   * are held for their owner to claim (released after the grace period);
   * half-made ones lose the devices of their link group; releases finish.
   * Files that are no record (a domain's XML, a lock, a temporary file) are
   * classified; anything else is logged and left alone.
   */
  async recover(): Promise<void> {
    await this.#records.recover((h) => this.#orphan(h), this.#grace());
  }

  /**
   * Bridges the ACL lets users attach taps to whose MAC is not fixed (see
   * Admission.unfixedBridges). Logged at start and reload; `probe` reports them.
   */
  async checkBridges(): Promise<string[]> {
    const warnings = await this.#admission.unfixedBridges(this.o.netns);
    for (const w of warnings) this.log.warn(w);
    return warnings;
  }

  #grace(): number {
    return this.o.graceMs ?? 30_000;
  }

  /** The domain has no client: released after the grace period unless claimed. */
  #orphan(h: Held): void {
    const key = this.#records.key(h.record.uid, h.record.name);
    h.client?.domains.delete(key);
    h.client = null;
    clearTimeout(h.timer);
    h.timer = setTimeout(() => {
      h.timer = undefined;
      if (h.client || this.#stopping) return;
      const release = this.#records
        .exclusive(key, () => releaseDomain(this.#ctx, h, 'its client went away and nobody claimed it'))
        .catch((e) => {
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
    const max = this.#admission.maxClients;
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
    const refusal = this.#admission.connect(caller, this.#clients.size);
    if (refusal) {
      this.log.warn({ uid: cred.uid, clientPid: cred.pid, code: refusal.code, err: refusal.message }, 'connection refused');
      this.#refuseConnection(fd, refusal);
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
      caller,
      user: this.#admission.accounts.userName(cred.uid) ?? `uid ${cred.uid}`,
      inFlight: 0,
      domains: new Set(),
    };
    this.#clients.add(client);
    this.log.debug({ uid: cred.uid, clientPid: cred.pid }, 'client connected');
  }

  #closed(client: Client, why: string): void {
    this.#clients.delete(client);
    this.#admission.disconnect(client.caller.uid);
    for (const key of [...client.domains]) {
      const h = this.#records.held.get(key);
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
    let refusal = this.#admission.request(client, m);
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
    const done = this.#admission.begin(client);
    const started = process.hrtime.bigint();
    const work = (async () => {
      try {
        const out = this.#stopping ? Promise.reject(new NetfdError('the agent is stopping', { code: 'EAGAIN' })) : HANDLERS[r.op](this.#ctx, client, r.args, log, r.op);
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
        done();
      }
    })();
    void this.#track(work);
  }
}
