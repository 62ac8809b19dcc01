// The QMP client on one monitor connection: the greeting and capabilities
// negotiation, commands matched to replies by id with a timeout each, async
// events handed to an EventLog (events.ts) and emitted, and close. The socket
// is a QmpTransport (transport.ts); the typed commands are in commands.ts.
//
// qemu keeps the fds received with a read until a command takes them, and
// drops unclaimed ones when the next fds arrive, so a command with fds is
// held back until the previous one with fds has been answered.
import { EventEmitter } from 'node:events';
import { NetfdError, fromNative, invalid } from '../../errors';
import { EventLog, EventWait, QmpEvent } from './events';
import { QmpTransport, WriteFailed, connect as connectSocket, open as openSocket } from './transport';

/** qemu's version, from the greeting. */
export interface QmpVersion {
  major: number;
  minor: number;
  micro: number;
  /** The distribution's package string, e.g. "Debian 1:7.2+dfsg-7". */
  package: string;
}

/** Options of {@link QmpClient.execute}. */
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

  /** Made by {@link QmpClient.execute} from qemu's error reply. */
  constructor(command: string, errorClass: string, desc: string) {
    super(`qmp ${command}: ${errorClass}: ${desc}`, { code: 'QMP_ERROR' });
    this.name = 'QmpError';
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

/** Default timeout of a command and of an event wait. */
export const DEFAULT_TIMEOUT = 30_000;

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

// Argument checks, shared with commands.ts.
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
export const hasTimeout = (ms: number) => ms > 0 && Number.isFinite(ms);

export function checkTimeout(field: string, ms: unknown): number {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) throw invalid(field, ms, 'a number of milliseconds >= 0 (0 or Infinity: none)');
  return ms;
}

export function checkName(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw invalid(field, v, 'a non-empty string');
  return v;
}

export function checkFd(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalid(field, v, 'an open fd (an integer >= 0)');
  return v;
}

/** The events a {@link QmpClient} emits: every async event qemu sends, and 'close' once when the connection is gone. */
export interface QmpClientEvents {
  event: [ev: QmpEvent];
  close: [];
}

/**
 * A QMP connection without the typed commands ({@link Qmp} has them). Emits
 * 'event' (QmpEvent) for every async event and 'close' once when the
 * connection is gone; it never emits 'error': failures reject the promises
 * of the calls they concern.
 */
export class QmpClient extends EventEmitter<QmpClientEvents> {
  /** From the greeting; zeros until it arrived. */
  version: QmpVersion = { major: 0, minor: 0, micro: 0, package: '' };
  /** What qemu offered in the greeting (e.g. ['oob']); none is enabled. */
  capabilities: string[] = [];

  /** Resolves when the connection's fd is closed. */
  protected readonly closed: Promise<void>;
  private readonly events = new EventLog();
  private readonly transport: QmpTransport;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private writeChain: Promise<void> = Promise.resolve();
  private fdChain: Promise<void> = Promise.resolve();
  private closedErr: NetfdError | null = null;
  private socketError: Error | null = null;
  private greeted = false;
  private onGreeting: ((err: NetfdError | null) => void) | null = null;

  protected constructor(t: QmpTransport) {
    super();
    this.transport = t;
    let closedResolve!: () => void;
    this.closed = new Promise<void>((r) => (closedResolve = r));
    t.onLine((line) => this.onLine(line));
    t.onError((err) => this.shutdown(err.message, err));
    t.onClose((err) => {
      this.socketError = err;
      this.shutdown(err ? `qmp: the monitor connection failed: ${err.message}` : 'qmp: qemu closed the monitor connection', err);
      closedResolve();
      this.emit('close');
    });
  }

  /** Connects to `path` and makes the connection with `make`: for the static connect of a subclass. */
  protected static async dial<T extends QmpClient>(make: (t: QmpTransport) => T, path: string, o: { timeoutMs?: number | undefined }): Promise<T> {
    checkName('path', path);
    const timeoutMs = checkTimeout('timeoutMs', o.timeoutMs ?? 10_000);
    return QmpClient.handshake(make(connectSocket(path)), `qmp ${path}`, timeoutMs, `is qemu running with -qmp unix:${path},server=on,wait=off?`);
  }

  /** Takes over the connected socket `fd` with `make`: for the static open of a subclass. */
  protected static async adopt<T extends QmpClient>(make: (t: QmpTransport) => T, fd: number, o: { timeoutMs?: number | undefined }): Promise<T> {
    checkFd('fd', fd);
    const timeoutMs = checkTimeout('timeoutMs', o.timeoutMs ?? 10_000);
    return QmpClient.handshake(make(openSocket(fd)), `qmp fd ${fd}`, timeoutMs, 'is the other end a qemu monitor (-mon mode=control)?');
  }

  private static async handshake<T extends QmpClient>(q: T, label: string, timeoutMs: number, hint: string): Promise<T> {
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
    return this.events.lastSeq;
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
    const text = `${JSON.stringify(msg)}\r\n`;
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
        this.writeChain = this.writeChain.then(() => this.send(p, text, fds));
      } else {
        const previousFdCommand = this.fdChain;
        this.fdChain = p.done;
        this.writeChain = this.writeChain.then(() => previousFdCommand).then(() => this.send(p, text, fds));
      }
    });
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
    return this.events.wait(name, predicate ?? (() => true), timeoutMs, since).promise;
  }

  /**
   * Closes the connection: pending commands and waiters reject with
   * 'QMP_CLOSED'; resolves when the socket's fd is closed.
   */
  close(): Promise<void> {
    this.shutdown('qmp: the connection was closed', null);
    return this.transport.close();
  }

  /** Registers a wait on the event log (arguments already checked), e.g. before sending the command that causes the event. */
  protected waitFor(name: string, predicate: (ev: QmpEvent) => boolean, timeoutMs: number, since: number): EventWait {
    return this.events.wait(name, predicate, timeoutMs, since);
  }

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
    this.events.close((what) => this.closedError(what));
  }

  /** Writes a queued command unless it is settled already or the connection closed. */
  private async send(p: Pending, text: string, fds: number[]): Promise<void> {
    if (p.settled || this.closedErr) return;
    try {
      await this.transport.send(text, { fds, deadline: p.deadline, what: `qmp ${p.command}` });
    } catch (err) {
      p.reject(err instanceof WriteFailed ? this.closedError(p.command) : (err as Error));
    }
  }

  private onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return; // not JSON: nothing to match it to
    }
    if (isObject(msg)) this.onMessage(msg);
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
      this.emit('event', this.events.add(msg.event, msg));
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
