// One non-blocking unix socket on Node's own loop: the addon's UnixSocket
// (uv_poll, native/uvsock.h) with a send queue that waits for room. The
// sockets that carry fds (the agent and its client through agent/conn.ts,
// sendFds/recvFds, and QMP's transport) are meant to be these: no thread
// blocks in poll(), no second event loop, no private Node internals.
// Received fds are O_CLOEXEC and belong to the handler they are given to.
import { NetfdError, fromNative } from '../errors';
import { native, NativeMessage, NativeUnixSocket } from './native';

export type UnixSocketType = 'stream' | 'seqpacket';

/** A message (seqpacket), some bytes (stream), or the end (`eof`), with the fds that came with it. */
export type UnixMessage = NativeMessage;

export interface SendOptions {
  /** Fail with ETIMEDOUT when no byte of it could be sent for this long (-1: wait for ever). */
  timeoutMs?: number;
  /** Resolve after the first sendmsg (what it took), rather than once every byte is sent (streams). */
  once?: boolean;
}

interface Outgoing {
  data: Buffer;
  fds: number[];
  sent: number;
  once: boolean;
  timer: NodeJS.Timeout | undefined;
  resolve: (n: number) => void;
  reject: (e: Error) => void;
}

/** How long connect() tries again while the listener's backlog is full (a blocking connect would wait). */
const BUSY_RETRY_MS = 30_000;

/** The addon's error as a NetfdError, without the device hints fromNative adds for EACCES and EPERM. */
const sysError = (err: unknown): Error => (err instanceof TypeError ? err : fromNative(err, ''));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One unix socket (stream or seqpacket); owns its fd unless adopted as borrowed. */
export class UnixSocket {
  readonly #n: NativeUnixSocket;
  readonly #queue: Outgoing[] = [];
  #closed = false;
  #fd = -1;
  #onMessage: ((m: UnixMessage) => void) | undefined;
  #onConnection: ((fd: number) => void) | undefined;
  #onError: ((e: NetfdError) => void) | undefined;
  #connected: ((err: Error | null) => void) | undefined;

  private constructor() {
    this.#n = new (native().UnixSocket)({
      message: (m) => {
        if (this.#onMessage) this.#onMessage(m);
        else for (const fd of m.fds) native().close(fd);
      },
      connection: (fd) => {
        if (this.#onConnection) this.#onConnection(fd);
        else native().close(fd);
      },
      connect: (err) => this.#connected?.(err),
      writable: () => this.#flush(),
      error: (err) => this.#onError?.(fromNative(err, '')),
    });
  }

  /** Watches `fd`: owned (the default), close() closes it; borrowed, it stays the caller's (its O_NONBLOCK flag is put back at close()). */
  static adopt(fd: number, o: { own?: boolean } = {}): UnixSocket {
    const s = new UnixSocket();
    try {
      s.#n.adopt(fd, o.own ?? true);
    } catch (err) {
      throw sysError(err);
    }
    s.#fd = fd;
    return s;
  }

  /** A socket listening at `path` (which must not exist); call accept() to take connections. */
  static listen(path: string, type: UnixSocketType, backlog = 128): UnixSocket {
    const s = new UnixSocket();
    try {
      s.#n.listen(path, type, backlog);
    } catch (err) {
      throw sysError(err);
    }
    s.#fd = s.#n.fd;
    return s;
  }

  /** Connects to `path` without blocking; a full backlog is tried again for up to 30 s. */
  static async connect(path: string, type: UnixSocketType = 'stream'): Promise<UnixSocket> {
    for (let delay = 5, end = Date.now() + BUSY_RETRY_MS; ; delay = Math.min(delay * 2, 100)) {
      const s = new UnixSocket();
      try {
        s.#n.connect(path, type);
      } catch (err) {
        const e = sysError(err) as NetfdError;
        if (e.code !== 'EAGAIN' || Date.now() > end) throw e;
        await sleep(delay);
        continue;
      }
      s.#fd = s.#n.fd;
      const err = await new Promise<Error | null>((resolve) => (s.#connected = resolve));
      s.#connected = undefined;
      if (err === null) return s;
      s.close();
      throw sysError(err);
    }
  }

  /** The fd (still open while the socket is). */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Messages waiting for room in the socket (the peer is not reading). */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Delivers each message (or chunk) to `onMessage`, which owns its fds:
   * it closes them or hands them on. At most `maxBytes` bytes and `maxFds`
   * fds per message: a longer one comes `truncated` (the kernel dropped the
   * rest), more fds come with `ctrunc` (the kernel closed the rest). After
   * the end (`eof`) nothing more comes. `onError` hears of a failed recvmsg
   * (reading stops).
   */
  read(o: { maxBytes: number; maxFds: number }, onMessage: (m: UnixMessage) => void, onError?: (e: NetfdError) => void): void {
    this.#onMessage = onMessage;
    this.#onError = onError;
    this.#call(() => this.#n.readStart(o.maxBytes, o.maxFds));
  }

  /** Stops reading until read() again. */
  pause(): void {
    if (!this.#closed) this.#call(() => this.#n.readStop());
  }

  /** Accepts connections: `onConnection` owns each fd (O_CLOEXEC, O_NONBLOCK). `onError` hears of a failed accept4 (accepting stops until accept() again). */
  accept(onConnection: (fd: number) => void, onError?: (e: NetfdError) => void): void {
    this.#onConnection = onConnection;
    this.#onError = onError;
    this.#call(() => this.#n.acceptStart());
  }

  /** Stops accepting until accept() again. */
  stopAccepting(): void {
    if (!this.#closed) this.#call(() => this.#n.acceptStop());
  }

  /**
   * Sends `data` (at least one byte) with `fds` attached to its first byte;
   * the fds stay the caller's (close them once the promise settles).
   * Messages go in order, each once the socket has room. Resolves with the
   * bytes sent; rejects with the error of sendmsg (EPIPE, EMSGSIZE…), or
   * ECONNRESET when the socket closes first.
   */
  send(data: Buffer | string, fds: readonly number[] = [], o: SendOptions = {}): Promise<number> {
    if (this.#closed) return Promise.reject(new NetfdError('the socket is closed', { code: 'ECONNRESET' }));
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    return new Promise((resolve, reject) => {
      const m: Outgoing = { data: buf, fds: [...fds], sent: 0, once: o.once ?? false, timer: undefined, resolve, reject };
      const timeout = o.timeoutMs ?? -1;
      if (timeout >= 0)
        m.timer = setTimeout(() => {
          const i = this.#queue.indexOf(m);
          if (i < 0 || m.sent > 0) return; // under way: it completes
          this.#queue.splice(i, 1);
          reject(new NetfdError(`send: timed out after ${timeout} ms`, { code: 'ETIMEDOUT' }));
        }, timeout);
      this.#queue.push(m);
      if (this.#queue.length === 1) this.#flush();
    });
  }

  /** The peer's pid, uid and gid (SO_PEERCRED). */
  peerCred(): { pid: number; uid: number; gid: number } {
    try {
      return this.#n.peerCred();
    } catch (err) {
      throw sysError(err);
    }
  }

  /** Keeps the process alive while the socket waits for something (the default). */
  ref(): this {
    this.#n.ref();
    return this;
  }

  /** Lets the process exit while the socket only waits (an idle listener or connection). */
  unref(): this {
    this.#n.unref();
    return this;
  }

  /** Closes the socket, once; sends still waiting reject with ECONNRESET. Nothing is delivered after it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#n.close();
    for (const m of this.#queue.splice(0)) {
      clearTimeout(m.timer);
      m.reject(new NetfdError('the socket closed before the message was sent', { code: 'ECONNRESET' }));
    }
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      throw sysError(err);
    }
  }

  #flush(): void {
    while (this.#queue.length && !this.#closed) {
      const m = this.#queue[0];
      let n: number;
      try {
        n = this.#n.send(m.sent ? m.data.subarray(m.sent) : m.data, m.sent ? [] : m.fds);
      } catch (err) {
        this.#queue.shift();
        clearTimeout(m.timer);
        m.reject(sysError(err));
        continue;
      }
      if (n < 0) {
        this.#call(() => this.#n.waitWritable());
        return;
      }
      m.sent += n;
      if (m.once || m.sent >= m.data.length) {
        this.#queue.shift();
        clearTimeout(m.timer);
        m.resolve(m.sent);
      }
    }
  }
}
