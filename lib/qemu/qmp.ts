// A QMP client for a running qemu's monitor on a unix socket: the greeting
// and capabilities negotiation, commands matched to replies by id, async
// events (with a small buffer so an event that lands just before a waiter is
// registered is not lost), and fds passed with a command over SCM_RIGHTS
// (getfd, add_fd, ...).
//
// How fds are passed. Node's net.Socket cannot attach SCM_RIGHTS and the
// addon has no connect() for a unix socket (only fdSend/fdRecv on a raw fd),
// so the connection is an ordinary net.Socket and a command that carries fds
// is sent with the addon's fdSend (one sendmsg: the payload and the fds) on
// the socket's own fd (`socket._handle.fd`, exposed by Node's Pipe handle on
// Linux). To keep the byte stream intact every write goes through one queue:
// a write starts only when the previous one has completed (socket.write's
// callback: the bytes are in the kernel), so the native sendmsg never
// interleaves with libuv's writes. While the native send runs (on a worker
// thread) libuv's reading is stopped, so an EOF or reset cannot make Node
// close the fd under it; close() waits for a native send in flight before it
// destroys the socket. qemu keeps the fds received with a read until a
// command takes them, and drops unclaimed ones when the next fds arrive, so a
// command with fds is also held back until the previous one with fds has
// been answered.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { NetfdError, fromNative, invalid } from '../errors';
import { native } from '../sys/native';

/** qemu's version, from the greeting. */
export interface QmpVersion {
  major: number;
  minor: number;
  micro: number;
  /** The distribution's package string, e.g. "Debian 1:7.2+dfsg-7". */
  package: string;
}

/** An async event as qemu sends it, numbered in order of arrival. */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
  /** 1, 2, 3, ... per connection; compare with `lastEventSeq`. */
  seq: number;
}

/** `query-status`: whether the guest runs. */
export interface QmpStatus {
  status: string;
  running: boolean;
  singlestep?: boolean;
}

/** Options of {@link Qmp.execute}. */
export interface QmpExecuteOptions {
  /** Sent with this command as SCM_RIGHTS; still owned (and closed) by the caller. */
  fds?: readonly number[] | undefined;
  /** Default 30000; 0 or Infinity: no timeout. */
  timeoutMs?: number | undefined;
}

/** A command qemu refused: `errorClass` is qemu's class (GenericError, DeviceNotFound, ...). */
export class QmpError extends NetfdError {
  readonly command: string;
  readonly errorClass: string;
  readonly desc: string;

/** Made by {@link Qmp.execute} from qemu's error reply. */
  constructor(command: string, errorClass: string, desc: string) {
    super(`qmp ${command}: ${errorClass}: ${desc}`, { code: 'QMP_ERROR' });
    this.name = 'QmpError';
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

/**
 * Splits a byte stream into lines (QMP separates JSON objects with \r\n):
 * chunks may end mid-line or mid-character and hold several lines; blank
 * lines are dropped. A line longer than `maxLine` characters throws.
 */
export class LineFramer {
  private buf = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly maxLine = 16 * 1024 * 1024) {}

  push(chunk: Buffer | string): string[] {
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const parts = this.buf.split('\n');
    this.buf = parts.pop() ?? '';
    if (this.buf.length > this.maxLine) {
      this.buf = '';
      throw new NetfdError(`qmp: a message longer than ${this.maxLine} characters`, { code: 'QMP_PROTOCOL' });
    }
    return parts.map((l) => l.trim()).filter((l) => l.length > 0);
  }
}

const DEFAULT_TIMEOUT = 30_000;
const EVENT_BUFFER = 64;

interface Pending {
  id: number;
  command: string;
  deadline: number | null;
  timer: NodeJS.Timeout | null;
  settled: boolean;
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** Resolves when the command is settled either way. */
  done: Promise<void>;
}

interface Waiter {
  name: string;
  predicate: (ev: QmpEvent) => boolean;
  timer: NodeJS.Timeout | null;
  settled: boolean;
  resolve(ev: QmpEvent): void;
  reject(e: Error): void;
}

interface PipeHandle {
  fd?: number;
  reading?: boolean;
  readStop?(): number;
  readStart?(): number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const hasTimeout = (ms: number) => ms > 0 && Number.isFinite(ms);

function checkTimeout(field: string, ms: unknown): number {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) throw invalid(field, ms, 'a number of milliseconds >= 0 (0 or Infinity: none)');
  return ms;
}

function checkName(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw invalid(field, v, 'a non-empty string');
  return v;
}

function checkFd(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalid(field, v, 'an open fd (an integer >= 0)');
  return v;
}

export interface Qmp {
/** Every async event qemu sends. */
  on(event: 'event', listener: (ev: QmpEvent) => void): this;
/** Once, when the connection is gone. */
  on(event: 'close', listener: () => void): this;
/** The next async event. */
  once(event: 'event', listener: (ev: QmpEvent) => void): this;
/** When the connection is gone. */
  once(event: 'close', listener: () => void): this;
/** Removes an event listener. */
  off(event: 'event', listener: (ev: QmpEvent) => void): this;
/** Removes a close listener. */
  off(event: 'close', listener: () => void): this;
}

/**
 * A QMP connection. Emits 'event' (QmpEvent) for every async event and
 * 'close' once when the connection is gone; it never emits 'error': failures
 * reject the promises of the calls they concern.
 */
export class Qmp extends EventEmitter {
  /** From the greeting; zeros until it arrived. */
  version: QmpVersion = { major: 0, minor: 0, micro: 0, package: '' };
  /** What qemu offered in the greeting (e.g. ['oob']); none is enabled. */
  capabilities: string[] = [];

  private readonly socket: net.Socket;
  private readonly framer = new LineFramer();
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly waiters = new Set<Waiter>();
  private readonly recent: QmpEvent[] = [];
  private seq = 0;
  private writeChain: Promise<void> = Promise.resolve();
  private fdChain: Promise<void> = Promise.resolve();
  private nativeSends = 0;
  private closedErr: NetfdError | null = null;
  private destroyWanted = false;
  private socketError: Error | null = null;
  private greeted = false;
  private onGreeting: ((err: NetfdError | null) => void) | null = null;
  private readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    super();
    this.socket = socket;
    let closedResolve!: () => void;
    this.closed = new Promise<void>((r) => (closedResolve = r));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.socketError ??= err;
    });
    socket.on('close', () => {
      this.shutdown(this.socketError ? `qmp: the monitor connection failed: ${this.socketError.message}` : 'qmp: qemu closed the monitor connection', this.socketError);
      closedResolve();
      this.emit('close');
    });
  }

  /**
   * Connects to qemu's QMP socket (`-qmp unix:PATH,server=on,wait=off`),
   * reads the greeting and negotiates capabilities. `timeoutMs` (default
   * 10000) bounds the whole handshake.
   */
  static async connect(path: string, o: { timeoutMs?: number | undefined } = {}): Promise<Qmp> {
    checkName('path', path);
    const timeoutMs = checkTimeout('timeoutMs', o.timeoutMs ?? 10_000);
    return Qmp.handshake(new Qmp(net.createConnection({ path })), `qmp ${path}`, timeoutMs, `is qemu running with -qmp unix:${path},server=on,wait=off?`);
  }

  /**
   * A monitor on a connected stream socket this process owns, e.g. its end
   * of a socket pair whose other end qemu got as `-chardev socket,fd=N` with
   * `-mon mode=control`: greeting and capabilities as for `connect`. The
   * connection owns `fd` from here on (also when this rejects: it is closed).
   */
  static async open(fd: number, o: { timeoutMs?: number | undefined } = {}): Promise<Qmp> {
    checkFd('fd', fd);
    const timeoutMs = checkTimeout('timeoutMs', o.timeoutMs ?? 10_000);
    let socket: net.Socket;
    try {
      socket = new net.Socket({ fd, readable: true, writable: true });
    } catch (err) {
      native().close(fd);
      throw err;
    }
    return Qmp.handshake(new Qmp(socket), `qmp fd ${fd}`, timeoutMs, 'is the other end a qemu monitor (-mon mode=control)?');
  }

  private static async handshake(q: Qmp, label: string, timeoutMs: number, hint: string): Promise<Qmp> {
    const deadline = hasTimeout(timeoutMs) ? Date.now() + timeoutMs : null;
    let timer: NodeJS.Timeout | null = null;
    try {
      await new Promise<void>((resolve, reject) => {
        q.onGreeting = (err) => (err ? reject(err) : resolve());
        if (deadline !== null) {
          timer = setTimeout(() => reject(new NetfdError(`${label}: no greeting within ${timeoutMs} ms (is this a QMP socket?)`, { code: 'ETIMEDOUT' })), timeoutMs);
        }
      });
      if (timer) clearTimeout(timer);
      timer = null;
      const left = deadline === null ? 0 : Math.max(1, deadline - Date.now());
      await q.execute('qmp_capabilities', undefined, { timeoutMs: left });
      return q;
    } catch (err) {
      if (timer) clearTimeout(timer);
      q.onGreeting = null;
      await q.close();
      const sockErr = q.socketError as NodeJS.ErrnoException | null;
      if (sockErr && typeof sockErr.code === 'string' && !(err instanceof NetfdError && err.code === 'ETIMEDOUT')) {
        throw fromNative(sockErr, hint);
      }
      throw err;
    }
  }

  /** The seq of the newest event seen so far (0: none): pass it as `since` to waitEvent. */
  get lastEventSeq(): number {
    return this.seq;
  }

  /** True once the connection is closed or closing. */
  get isClosed(): boolean {
    return this.closedErr !== null;
  }

  /**
   * Runs a command; resolves with its `return` value. Rejects with a QmpError
   * (code 'QMP_ERROR') when qemu refuses it, 'ETIMEDOUT' when no reply came
   * in time (a late reply is then ignored), 'QMP_CLOSED' when the connection
   * closed first.
   */
  execute(command: string, args?: object, o: QmpExecuteOptions = {}): Promise<unknown> {
    let fds: number[] = [];
    let timeoutMs: number;
    try {
      checkName('command', command);
      if (args !== undefined && !isObject(args)) throw invalid('arguments', args, 'an object');
      timeoutMs = checkTimeout('timeoutMs', o.timeoutMs ?? DEFAULT_TIMEOUT);
      if (o.fds !== undefined) {
        if (!Array.isArray(o.fds) || o.fds.length > 253) throw invalid('fds', o.fds, 'an array of at most 253 fds');
        fds = o.fds.map((fd, i) => checkFd(`fds[${i}]`, fd));
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closedErr) return Promise.reject(this.closedError(command));
    const id = this.nextId++;
    const msg: Record<string, unknown> = { execute: command };
    if (args !== undefined) msg.arguments = args;
    msg.id = id;
    const buf = Buffer.from(`${JSON.stringify(msg)}\r\n`);
    return new Promise<unknown>((resolve, reject) => {
      let doneResolve!: () => void;
      const p: Pending = {
        id,
        command,
        deadline: hasTimeout(timeoutMs) ? Date.now() + timeoutMs : null,
        timer: null,
        settled: false,
        resolve,
        reject,
        done: new Promise<void>((r) => (doneResolve = r)),
      };
      const settle = (fn: () => void) => {
        if (p.settled) return;
        p.settled = true;
        if (p.timer) clearTimeout(p.timer);
        p.timer = null;
        this.pending.delete(id);
        fn();
        doneResolve();
      };
      p.resolve = (v) => settle(() => resolve(v));
      p.reject = (e) => settle(() => reject(e));
      this.pending.set(id, p);
      if (p.deadline !== null) {
        p.timer = setTimeout(() => p.reject(new NetfdError(`qmp ${command}: no reply within ${timeoutMs} ms`, { code: 'ETIMEDOUT' })), timeoutMs);
      }
      if (fds.length === 0) {
        this.writeChain = this.writeChain.then(() => this.writePlain(p, buf));
      } else {
        const previousFdCommand = this.fdChain;
        this.fdChain = p.done;
        this.writeChain = this.writeChain.then(() => previousFdCommand).then(() => this.writeWithFds(p, buf, fds));
      }
    });
  }

  /** Hands `fd` to qemu under `name` (for netdev_add fd=NAME and the like). The caller still owns (and closes) its copy. */
  async getfd(name: string, fd: number): Promise<void> {
    await this.execute('getfd', { fdname: checkName('name', name) }, { fds: [checkFd('fd', fd)] });
  }

  /** Closes qemu's copy of an fd given with getfd. */
  async closefd(name: string): Promise<void> {
    await this.execute('closefd', { fdname: checkName('name', name) });
  }

  /** netdev_add, e.g. { type: 'tap', id: 'net0', fd: 'tapfd0', vhost: false }. */
  async netdevAdd(args: { type: string; id: string; [key: string]: unknown }): Promise<void> {
    if (!isObject(args)) throw invalid('netdev', args, 'an object with type and id');
    checkName('netdev.type', args.type);
    checkName('netdev.id', args.id);
    await this.execute('netdev_add', args);
  }

/** `netdev_del`: qemu closes the netdev's fds. */
  async netdevDel(id: string): Promise<void> {
    await this.execute('netdev_del', { id: checkName('id', id) });
  }

  /** device_add, e.g. { driver: 'virtio-net-pci', id: 'nic0', netdev: 'net0', mac: '52:54:00:12:34:56' }. */
  async deviceAdd(args: { driver: string; id?: string | undefined; [key: string]: unknown }): Promise<void> {
    if (!isObject(args)) throw invalid('device', args, 'an object with driver');
    checkName('device.driver', args.driver);
    await this.execute('device_add', args);
  }

  /**
   * device_del: only asks the guest to release the device; it is gone when
   * DEVICE_DELETED arrives. Use deviceDelAndWait to wait for that.
   */
  async deviceDel(id: string): Promise<void> {
    await this.execute('device_del', { id: checkName('id', id) });
  }

  /**
   * device_del, then waits for its DEVICE_DELETED (data.device === id). The
   * waiter is registered before the command is sent, so an event that
   * arrives before the reply is not missed, and older buffered events (an
   * earlier device with the same id) do not count.
   */
  async deviceDelAndWait(id: string, timeoutMs = DEFAULT_TIMEOUT): Promise<QmpEvent> {
    checkName('id', id);
    const w = this.addWaiter('DEVICE_DELETED', (ev) => ev.data.device === id || ev.data.path === id, timeoutMs, this.seq);
    try {
      await this.execute('device_del', { id }, { timeoutMs });
    } catch (err) {
      w.cancel();
      throw err;
    }
    return w.promise;
  }

  /**
   * Resolves with the first event named `name` that satisfies `predicate`:
   * a buffered one (the last 64 events are kept) with seq > `since` (default
   * 0: any buffered one), else the next one to arrive. Rejects with
   * 'ETIMEDOUT' after `timeoutMs` (default 30000; 0 or Infinity: none) or
   * 'QMP_CLOSED'.
   */
  waitEvent(name: string, predicate?: (ev: QmpEvent) => boolean, timeoutMs = DEFAULT_TIMEOUT, since = 0): Promise<QmpEvent> {
    try {
      checkName('name', name);
      if (predicate !== undefined && typeof predicate !== 'function') throw invalid('predicate', predicate, 'a function');
      checkTimeout('timeoutMs', timeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.addWaiter(name, predicate ?? (() => true), timeoutMs, since).promise;
  }

  /** query-status: { status: 'running' | 'paused' | 'prelaunch' | ..., running }. */
  async queryStatus(o: { timeoutMs?: number | undefined } = {}): Promise<QmpStatus> {
    return (await this.execute('query-status', undefined, o)) as QmpStatus;
  }

  /**
   * Asks qemu to exit and waits (up to `timeoutMs`) for it to close the
   * connection; the connection is closed either way afterwards.
   */
  async quit(timeoutMs = 10_000): Promise<void> {
    try {
      await this.execute('quit', undefined, { timeoutMs });
    } catch (err) {
      if (!(err instanceof NetfdError && err.code === 'QMP_CLOSED')) {
        await this.close();
        throw err;
      }
    }
    let timer: NodeJS.Timeout | null = null;
    await Promise.race([this.closed, new Promise<void>((r) => (timer = setTimeout(r, hasTimeout(timeoutMs) ? timeoutMs : DEFAULT_TIMEOUT)))]);
    if (timer) clearTimeout(timer);
    await this.close();
  }

  /**
   * Closes the connection: pending commands and waiters reject with
   * 'QMP_CLOSED'; resolves when the socket's fd is closed.
   */
  close(): Promise<void> {
    this.shutdown('qmp: the connection was closed', null);
    this.destroyWanted = true;
    if (this.nativeSends === 0) this.socket.destroy();
    return this.closed;
  }

  // ---- internals ----

  private closedError(what: string): NetfdError {
    const base = this.closedErr;
    return new NetfdError(`qmp ${what}: ${base?.message ?? 'the connection is closed'}`, { code: 'QMP_CLOSED', cause: base ?? undefined });
  }

  /** Marks the connection closed; rejects everything waiting. Runs once. */
  private shutdown(message: string, cause: Error | null): void {
    if (this.closedErr) return;
    this.closedErr = new NetfdError(message, { code: 'QMP_CLOSED', cause: cause ?? undefined });
    if (this.onGreeting) {
      const g = this.onGreeting;
      this.onGreeting = null;
      g(this.closedError('greeting'));
    }
    for (const p of [...this.pending.values()]) p.reject(this.closedError(p.command));
    for (const w of [...this.waiters]) w.reject(this.closedError(`waiting for ${w.name}`));
  }

  private addWaiter(name: string, predicate: (ev: QmpEvent) => boolean, timeoutMs: number, since: number): { promise: Promise<QmpEvent>; cancel(): void } {
    let w!: Waiter;
    const promise = new Promise<QmpEvent>((resolve, reject) => {
      const done = () => {
        w.settled = true;
        if (w.timer) clearTimeout(w.timer);
        w.timer = null;
        this.waiters.delete(w);
      };
      w = {
        name,
        predicate,
        timer: null,
        settled: false,
        resolve: (ev) => {
          done();
          resolve(ev);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
    });
    const hit = this.recent.find((ev) => ev.seq > since && ev.event === name && this.matches(w, ev));
    if (w.settled) {
      // the predicate threw
    } else if (hit) {
      w.resolve(hit);
    } else if (this.closedErr) {
      w.reject(this.closedError(`waiting for ${name}`));
    } else {
      this.waiters.add(w);
      if (hasTimeout(timeoutMs)) {
        w.timer = setTimeout(() => w.reject(new NetfdError(`qmp: no ${name} event within ${timeoutMs} ms`, { code: 'ETIMEDOUT' })), timeoutMs);
      }
    }
    return {
      promise,
      cancel: () => {
        if (w.timer) clearTimeout(w.timer);
        w.timer = null;
        this.waiters.delete(w);
      },
    };
  }

  private matches(w: Waiter, ev: QmpEvent): boolean {
    try {
      return w.predicate(ev);
    } catch (err) {
      w.reject(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
  }

  private handle(): PipeHandle | null {
    return (this.socket as unknown as { _handle?: PipeHandle | null })._handle ?? null;
  }

  private writePlain(p: Pending, buf: Buffer): Promise<void> {
    if (p.settled || this.closedErr) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.socket.write(buf, (err) => {
        if (err) p.reject(this.closedError(p.command));
        resolve();
      });
    });
  }

  private async writeWithFds(p: Pending, buf: Buffer, fds: number[]): Promise<void> {
    if (p.settled || this.closedErr) return;
    const h = this.handle();
    if (!h || typeof h.fd !== 'number' || h.fd < 0) {
      p.reject(new NetfdError(`qmp ${p.command}: the socket exposes no fd to send fds with`, { code: 'QMP_FD_UNSUPPORTED' }));
      return;
    }
    const wasReading = h.reading === true && typeof h.readStop === 'function' && typeof h.readStart === 'function';
    if (wasReading) h.readStop!();
    this.nativeSends++;
    let sent = 0;
    try {
      const timeout = p.deadline === null ? DEFAULT_TIMEOUT : Math.max(1, p.deadline - Date.now());
      sent = await native().fdSend(h.fd, buf, fds, timeout);
    } catch (err) {
      const e = fromNative(err);
      p.reject(e.code === 'EPIPE' || e.code === 'ECONNRESET' ? new NetfdError(`qmp ${p.command}: qemu closed the monitor connection`, { code: 'QMP_CLOSED', cause: e }) : e);
    } finally {
      this.nativeSends--;
      if (this.destroyWanted) {
        this.socket.destroy();
      } else if (wasReading && this.handle() === h) {
        h.readStart!();
      }
    }
    // A stream socket may take part of a message; the fds went with the first part.
    if (sent > 0 && sent < buf.length && !this.closedErr) await this.writePlain(p, buf.subarray(sent));
  }

  private onData(chunk: Buffer): void {
    let lines: string[];
    try {
      lines = this.framer.push(chunk);
    } catch (err) {
      this.shutdown((err as Error).message, err as Error);
      this.socket.destroy();
      return;
    }
    for (const line of lines) {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        continue; // not JSON: nothing to match it to
      }
      if (isObject(msg)) this.onMessage(msg);
    }
  }

  private onMessage(msg: Record<string, unknown>): void {
    if (!this.greeted) {
      const g = this.onGreeting;
      if (isObject(msg.QMP)) {
        this.greeted = true;
        this.onGreeting = null;
        const v = isObject(msg.QMP.version) ? msg.QMP.version : {};
        const qv = isObject(v.qemu) ? v.qemu : {};
        this.version = { major: num(qv.major), minor: num(qv.minor), micro: num(qv.micro), package: typeof v.package === 'string' ? v.package : '' };
        this.capabilities = Array.isArray(msg.QMP.capabilities) ? msg.QMP.capabilities.filter((c): c is string => typeof c === 'string') : [];
        g?.(null);
      } else if (g) {
        this.onGreeting = null;
        g(new NetfdError(`qmp: expected the QMP greeting, got ${JSON.stringify(msg).slice(0, 200)}`, { code: 'QMP_PROTOCOL' }));
      }
      return;
    }
    if (typeof msg.event === 'string') {
      const ts = isObject(msg.timestamp) ? msg.timestamp : {};
      const ev: QmpEvent = {
        event: msg.event,
        data: isObject(msg.data) ? msg.data : {},
        timestamp: { seconds: num(ts.seconds), microseconds: num(ts.microseconds) },
        seq: ++this.seq,
      };
      this.recent.push(ev);
      if (this.recent.length > EVENT_BUFFER) this.recent.shift();
      for (const w of [...this.waiters]) if (!w.settled && w.name === ev.event && this.matches(w, ev)) w.resolve(ev);
      this.emit('event', ev);
      return;
    }
    if (typeof msg.id !== 'number') return; // a reply to nothing of ours
    const p = this.pending.get(msg.id);
    if (!p) return; // timed out already
    if ('return' in msg) {
      p.resolve(msg.return);
    } else if (isObject(msg.error)) {
      const cls = typeof msg.error.class === 'string' ? msg.error.class : 'GenericError';
      const desc = typeof msg.error.desc === 'string' ? msg.error.desc : JSON.stringify(msg.error);
      p.reject(new QmpError(p.command, cls, desc));
    }
  }
}
