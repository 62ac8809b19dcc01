// Message connections over unix seqpacket sockets, on Node's own loop
// through the one socket class (lib/sys/unixsock.ts): libuv's own streams
// cannot carry SCM_RIGHTS, so the agent and its clients do their socket I/O
// through the addon, without ever blocking the event loop. One message is
// one JSON document; fds travel with the message they belong to.
import { NetfdError } from '../errors';
import { native, NativeMessage } from '../sys/native';
import { UnixSocket } from '../sys/unixsock';

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

/** How long a connection whose send failed (the peer went away) waits for the end of what the peer sent before. */
const DRAIN_MS = 1000;
/** Messages still read after a send found the peer gone (its last words, such as an agent's refusal); then it closes. */
const DRAIN_MESSAGES = 16;

/** One connected seqpacket socket; owns its fd. */
export class Conn {
  readonly fd: number;
  readonly #sock: UnixSocket;
  #closed = false;
  /** Set when a send found the peer gone: the reason the connection closes with once its messages are read. */
  #broken: string | undefined;
  #drained = 0;
  readonly #waiting = new Set<(e: Error) => void>();
  readonly #o: ConnOptions;

  /** Takes `sock` (an fd, or a connected socket) over: close() closes it. */
  constructor(sock: number | UnixSocket, o: ConnOptions) {
    this.#sock = typeof sock === 'number' ? UnixSocket.adopt(sock) : sock;
    this.fd = this.#sock.fd;
    this.#o = o;
    if (!(o.keepAlive ?? false)) this.#sock.unref();
    this.#sock.read(
      { maxBytes: o.maxBytes, maxFds: o.maxFds },
      (m) => this.#message(m),
      (e) => this.close(`receive failed: ${e.message}`),
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Messages waiting for room in the socket (the peer is not reading). */
  get queued(): number {
    return this.#sock.queued;
  }

  /**
   * Sends one message with `fds` (which stay the caller's: close them once
   * the promise settles). Resolves when the kernel has it.
   */
  send(data: Buffer, fds: readonly number[] = []): Promise<void> {
    if (this.#closed) return Promise.reject(new NetfdError('the connection is closed', { code: 'ECONNRESET' }));
    return new Promise((resolve, reject) => {
      this.#waiting.add(reject);
      this.#sock.send(data, fds).then(
        () => {
          this.#waiting.delete(reject);
          resolve();
        },
        (e: NetfdError) => {
          if (this.#closed) return; // rejected by close() already
          if (e.code === 'EMSGSIZE') {
            this.#waiting.delete(reject);
            reject(e);
            return;
          }
          // The peer went away; what it sent before (an agent's refusal says why) is read first.
          if (e.code === 'EPIPE' || e.code === 'ECONNRESET') {
            if (this.#broken === undefined) {
              this.#broken = `send failed: ${e.message}`;
              setTimeout(() => this.close(this.#broken), DRAIN_MS).unref();
            }
            return;
          }
          this.close(`send failed: ${e.message}`);
        },
      );
      const max = this.#o.maxQueue ?? 64;
      if (this.#sock.queued > max) this.close(`the peer is not reading (more than ${max} messages waiting)`);
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
    const err = new NetfdError(`the connection closed before the message was sent (${why})`, { code: 'ECONNRESET' });
    for (const reject of this.#waiting) reject(err);
    this.#waiting.clear();
    this.#sock.close();
    try {
      this.#o.onClose(why);
    } catch (e) {
      queueMicrotask(() => {
        throw e;
      });
    }
  }

  #message(m: NativeMessage): void {
    if (this.#closed) {
      for (const fd of m.fds) native().close(fd);
      return;
    }
    if (m.eof) {
      this.close(this.#broken ?? 'the peer closed the connection');
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
    if (this.#broken !== undefined && ++this.#drained >= DRAIN_MESSAGES) this.close(this.#broken);
  }
}

/** A listening socket: `onConnection` gets each accepted fd (owned by it). */
export class Listener {
  readonly fd: number;
  readonly #sock: UnixSocket;
  #closed = false;

  /** `onError` hears of failed accepts (EMFILE…); accepting goes on after a pause. */
  constructor(fd: number, onConnection: (fd: number) => void, onError: (e: Error) => void = () => undefined) {
    this.fd = fd;
    this.#sock = UnixSocket.adopt(fd);
    const accept = (): void =>
      this.#sock.accept(
        (c) => {
          try {
            onConnection(c);
          } catch (err) {
            onError(err as Error);
          }
        },
        (e) => {
          // Out of fds or memory: the connection waits in the backlog; try again soon.
          onError(e);
          setTimeout(() => {
            if (!this.#closed) accept();
          }, 100).unref();
        },
      );
    accept();
  }

  /** Stops accepting and closes the listening socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sock.close();
  }
}
