// Message connections over unix seqpacket sockets, driven by one epoll
// thread (native Poller) per process: libuv cannot carry SCM_RIGHTS, so the
// agent and its clients do their socket I/O through the addon, without ever
// blocking the event loop. One message is one JSON document; fds travel with
// the message they belong to.
import { NetfdError, fromNative } from '../errors';
import { NativeMessage, NativePoller, native, POLL_HANGUP, POLL_READABLE, POLL_WRITABLE } from '../sys/native';

type Handler = (events: number) => void;

/** The process's one Poller: fd → handler, with a token so stale events are dropped. */
class Loop {
  readonly #poller: NativePoller;
  readonly #watched = new Map<number, { token: number; handler: Handler }>();
  #nextToken = 1;
  #refs = 0;

  constructor() {
    this.#poller = new (native().Poller)((fd, events, token) => {
      const w = this.#watched.get(fd);
      if (w && w.token === token) w.handler(events);
    });
    this.#poller.unref();
  }

  watch(fd: number, events: number, handler: Handler, keepAlive: boolean): number {
    const token = this.#nextToken;
    this.#nextToken = token >= 0xffffffff ? 1 : token + 1;
    this.#watched.set(fd, { token, handler });
    try {
      this.#poller.add(fd, events, token);
    } catch (err) {
      this.#watched.delete(fd);
      throw fromNative(err);
    }
    if (keepAlive && this.#refs++ === 0) this.#poller.ref();
    return token;
  }

  arm(fd: number, token: number, events: number): void {
    if (this.#watched.get(fd)?.token === token) this.#poller.arm(fd, events, token);
  }

  unwatch(fd: number, token: number, keepAlive: boolean): void {
    if (this.#watched.get(fd)?.token !== token) return;
    this.#watched.delete(fd);
    this.#poller.remove(fd);
    if (keepAlive && --this.#refs === 0) this.#poller.unref();
  }
}

let shared: Loop | undefined;
const loop = (): Loop => (shared ??= new Loop());

/** Messages read per readiness event, so one busy peer cannot starve others. */
const BURST = 16;

export interface ConnOptions {
  /** Longer messages arrive with `truncated` set (the rest is discarded by the kernel). */
  maxBytes: number;
  /** fds accepted per message; more are closed by the kernel and `ctrunc` is set. */
  maxFds: number;
  /** Outgoing messages allowed to wait for room; beyond that the connection is closed. */
  maxQueue?: number;
  /** Whether an open connection keeps the process alive (the agent: yes; a client: while requests wait). */
  keepAlive?: boolean;
  onMessage: (m: NativeMessage) => void;
  onClose: (why: string) => void;
}

interface Outgoing {
  data: Buffer;
  fds: number[];
  resolve: () => void;
  reject: (e: Error) => void;
}

/** One connected seqpacket socket; owns its fd. */
export class Conn {
  readonly fd: number;
  #token: number;
  #closed = false;
  readonly #queue: Outgoing[] = [];
  readonly #o: ConnOptions;

  constructor(fd: number, o: ConnOptions) {
    this.fd = fd;
    this.#o = o;
    this.#token = loop().watch(fd, POLL_READABLE, (events) => this.#ready(events), o.keepAlive ?? false);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Messages waiting for room in the socket (the peer is not reading). */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Sends one message with `fds` (which stay the caller's: close them once
   * the promise settles). Resolves when the kernel has it.
   */
  send(data: Buffer, fds: readonly number[] = []): Promise<void> {
    if (this.#closed) return Promise.reject(new NetfdError('the connection is closed', { code: 'ECONNRESET' }));
    return new Promise((resolve, reject) => {
      this.#queue.push({ data, fds: [...fds], resolve, reject });
      if (this.#queue.length > (this.#o.maxQueue ?? 64)) {
        this.close(`the peer is not reading (more than ${this.#o.maxQueue ?? 64} messages waiting)`);
        return;
      }
      if (this.#queue.length === 1) this.#flush();
    });
  }

  /**
   * Closes the socket; waiting sends fail. `onClose` runs once. Never
   * throws: an exception of `onClose` is raised again on its own (as
   * 'uncaughtException'), so a caller closing many connections closes them all.
   */
  close(why = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      loop().unwatch(this.fd, this.#token, this.#o.keepAlive ?? false);
    } catch {
      // not watched any more: the fd is closed below all the same
    }
    try {
      native().close(this.fd);
    } catch {
      // already gone: nothing to release
    }
    for (const m of this.#queue.splice(0)) m.reject(new NetfdError(`the connection closed before the message was sent (${why})`, { code: 'ECONNRESET' }));
    try {
      this.#o.onClose(why);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  #flush(): void {
    while (this.#queue.length && !this.#closed) {
      const m = this.#queue[0];
      let n: number;
      try {
        n = native().sendNow(this.fd, m.data, m.fds);
      } catch (err) {
        const e = fromNative(err);
        if (e.code === 'EMSGSIZE') {
          this.#queue.shift();
          m.reject(e);
          continue;
        }
        // The peer went away; what it sent before (an agent's refusal says why) is read first.
        if (e.code === 'EPIPE' || e.code === 'ECONNRESET') this.#receive();
        this.close(`send failed: ${e.message}`);
        return;
      }
      if (n < 0) break; // no room: wait for POLL_WRITABLE
      this.#queue.shift();
      m.resolve();
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#closed) return;
    try {
      loop().arm(this.fd, this.#token, POLL_READABLE | (this.#queue.length ? POLL_WRITABLE : 0));
    } catch (err) {
      this.close(`watching the socket failed: ${fromNative(err).message}`);
    }
  }

  #ready(events: number): void {
    if (this.#closed) return;
    if (events & POLL_WRITABLE) this.#flush();
    if (events & (POLL_READABLE | POLL_HANGUP)) this.#receive();
    this.#arm();
  }

  /** Reads up to BURST messages; closes the connection at EOF or on an error. */
  #receive(): void {
    for (let i = 0; i < BURST && !this.#closed; i++) {
      let m: NativeMessage | null;
      try {
        m = native().recvNow(this.fd, this.#o.maxBytes, this.#o.maxFds);
      } catch (err) {
        this.close(`receive failed: ${fromNative(err).message}`);
        return;
      }
      if (m === null) return;
      if (m.eof) {
        this.close('the peer closed the connection');
        return;
      }
      try {
        this.#o.onMessage(m);
      } catch (err) {
        for (const fd of m.fds) {
          try {
            native().close(fd);
          } catch {
            // the handler closed it already
          }
        }
        this.close(`handling a message failed: ${(err as Error).message}`);
        return;
      }
    }
  }
}

/** A listening socket: `onConnection` gets each accepted fd (owned by it). */
export class Listener {
  readonly fd: number;
  #token: number;
  #closed = false;

  /** `onError` hears of failed accepts (EMFILE…); accepting goes on after a pause. */
  constructor(fd: number, onConnection: (fd: number) => void, onError: (e: Error) => void = () => undefined) {
    this.fd = fd;
    native().setNonblock(fd);
    this.#token = loop().watch(
      fd,
      POLL_READABLE,
      () => {
        let pause = 0;
        for (let i = 0; i < BURST && !this.#closed; i++) {
          let c: number;
          try {
            c = native().acceptNow(fd);
          } catch (err) {
            // Out of fds or memory: the connection waits in the backlog; try again soon.
            onError(fromNative(err));
            pause = 100;
            break;
          }
          if (c < 0) break;
          try {
            onConnection(c);
          } catch (err) {
            onError(err as Error);
          }
        }
        const rearm = () => {
          if (!this.#closed) loop().arm(fd, this.#token, POLL_READABLE);
        };
        if (pause) setTimeout(rearm, pause).unref();
        else rearm();
      },
      true,
    );
  }

  /** Stops accepting and closes the listening socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    loop().unwatch(this.fd, this.#token, true);
    native().close(this.fd);
  }
}
