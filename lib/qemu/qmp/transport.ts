// The socket under a QMP connection: a stream to qemu's monitor, read as
// lines (QMP ends each JSON message with \r\n) and written one message at a
// time, with fds attached over SCM_RIGHTS when a command carries them. The
// client (client.ts) sees only QmpTransport: send, onLine, onError, onClose,
// close; how the bytes move is this file's business alone.
//
// How fds are passed. Node's net.Socket cannot attach SCM_RIGHTS and the
// addon has no connect() for a unix socket (only fdSend/fdRecv on a raw fd),
// so the connection is an ordinary net.Socket and a message that carries fds
// is sent with the addon's fdSend (one sendmsg: the payload and the fds) on
// the socket's own fd (`socket._handle.fd`, exposed by Node's Pipe handle on
// Linux). To keep the byte stream intact every write goes through one queue:
// a write starts only when the previous one has completed (socket.write's
// callback: the bytes are in the kernel), so the native sendmsg never
// interleaves with libuv's writes. While the native send runs (on a worker
// thread) libuv's reading is stopped, so an EOF or reset cannot make Node
// close the fd under it; close() waits for a native send in flight before it
// destroys the socket.
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { NetfdError, fromNative } from '../../errors';
import { native } from '../../sys/native';

/** How long a native send with fds may take when the message has no deadline. */
const DEFAULT_SEND_TIMEOUT = 30_000;

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

/** Options of {@link QmpTransport.send}. */
export interface SendOptions {
  /** Sent with the message's first byte as SCM_RIGHTS; still owned by the caller. */
  fds?: readonly number[] | undefined;
  /** When the send must be done by (Date.now() ms), or null for none; bounds a send with fds. */
  deadline?: number | null | undefined;
  /** Names the message in errors, e.g. "qmp getfd". */
  what?: string | undefined;
}

/**
 * Rejection of {@link QmpTransport.send} when the stream write itself failed
 * (the connection is failing or closed); `cause` is the socket's error.
 */
export class WriteFailed extends NetfdError {
  constructor(what: string, cause: Error) {
    super(`${what}: the write failed: ${cause.message}`, { code: 'QMP_CLOSED', cause });
    this.name = 'WriteFailed';
  }
}

/** One connection to a monitor, as the QMP client uses it. */
export interface QmpTransport {
  /**
   * Sends `text` whole, after every earlier send has completed; resolves when
   * the kernel has the bytes. Rejects with WriteFailed when the stream write
   * failed; with fds also 'QMP_FD_UNSUPPORTED', 'QMP_CLOSED' (qemu hung up)
   * or the sendmsg's errno.
   */
  send(text: string, o?: SendOptions): Promise<void>;
  /** Every complete line that arrives, trimmed; blank lines are dropped. */
  onLine(fn: (line: string) => void): void;
  /** The incoming stream broke (a line over the limit); the transport closes itself next. */
  onError(fn: (err: NetfdError) => void): void;
  /** Once, when the connection is gone; `err` is the socket's error if it failed. */
  onClose(fn: (err: Error | null) => void): void;
  /** Closes the connection; resolves when its fd is closed. Twice is fine. */
  close(): Promise<void>;
}

interface PipeHandle {
  fd?: number;
  reading?: boolean;
  readStop?(): number;
  readStart?(): number;
}

/** Connects to the unix socket at `path` (connection errors arrive through onClose). */
export function connect(path: string): QmpTransport {
  return new SocketTransport(net.createConnection({ path }));
}

/** A connected stream socket this process owns; the transport owns `fd` from here on (closed also if this throws). */
export function open(fd: number): QmpTransport {
  let socket: net.Socket;
  try {
    socket = new net.Socket({ fd, readable: true, writable: true });
  } catch (err) {
    native().close(fd);
    throw err;
  }
  return new SocketTransport(socket);
}

class SocketTransport implements QmpTransport {
  private readonly framer = new LineFramer();
  private lineFn: (line: string) => void = () => {};
  private errorFn: (err: NetfdError) => void = () => {};
  private closeFn: (err: Error | null) => void = () => {};
  private queue: Promise<void> = Promise.resolve();
  private nativeSends = 0;
  private ended = false;
  private destroyWanted = false;
  private socketError: Error | null = null;
  private readonly closed: Promise<void>;

  constructor(private readonly socket: net.Socket) {
    let closedResolve!: () => void;
    this.closed = new Promise<void>((r) => (closedResolve = r));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.socketError ??= err;
    });
    socket.on('close', () => {
      this.ended = true;
      this.closeFn(this.socketError);
      closedResolve();
    });
  }

  onLine(fn: (line: string) => void): void {
    this.lineFn = fn;
  }

  onError(fn: (err: NetfdError) => void): void {
    this.errorFn = fn;
  }

  onClose(fn: (err: Error | null) => void): void {
    this.closeFn = fn;
  }

  send(text: string, o: SendOptions = {}): Promise<void> {
    const buf = Buffer.from(text);
    const fds = o.fds ?? [];
    const what = o.what ?? 'qmp';
    const job = this.queue.then(() => (fds.length === 0 ? this.write(buf, what) : this.writeWithFds(buf, [...fds], o.deadline ?? null, what)));
    this.queue = job.catch(() => {});
    return job;
  }

  close(): Promise<void> {
    this.ended = true;
    this.destroyWanted = true;
    if (this.nativeSends === 0) this.socket.destroy();
    return this.closed;
  }

  private handle(): PipeHandle | null {
    return (this.socket as unknown as { _handle?: PipeHandle | null })._handle ?? null;
  }

  private write(buf: Buffer, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.socket.write(buf, (err) => (err ? reject(new WriteFailed(what, err)) : resolve()));
    });
  }

  private async writeWithFds(buf: Buffer, fds: number[], deadline: number | null, what: string): Promise<void> {
    const h = this.handle();
    if (!h || typeof h.fd !== 'number' || h.fd < 0) {
      throw new NetfdError(`${what}: the socket exposes no fd to send fds with`, { code: 'QMP_FD_UNSUPPORTED' });
    }
    const wasReading = h.reading === true && typeof h.readStop === 'function' && typeof h.readStart === 'function';
    if (wasReading) h.readStop!();
    this.nativeSends++;
    let sent: number;
    try {
      const timeout = deadline === null ? DEFAULT_SEND_TIMEOUT : Math.max(1, deadline - Date.now());
      sent = await native().fdSend(h.fd, buf, fds, timeout);
    } catch (err) {
      const e = fromNative(err);
      throw e.code === 'EPIPE' || e.code === 'ECONNRESET' ? new NetfdError(`${what}: qemu closed the monitor connection`, { code: 'QMP_CLOSED', cause: e }) : e;
    } finally {
      this.nativeSends--;
      if (this.destroyWanted) {
        this.socket.destroy();
      } else if (wasReading && this.handle() === h) {
        h.readStart!();
      }
    }
    // A stream socket may take part of a message; the fds went with the first part.
    if (sent > 0 && sent < buf.length && !this.ended) await this.write(buf.subarray(sent), what);
  }

  private onData(chunk: Buffer): void {
    let lines: string[];
    try {
      lines = this.framer.push(chunk);
    } catch (err) {
      this.ended = true;
      this.errorFn(err as NetfdError);
      this.socket.destroy();
      return;
    }
    for (const line of lines) this.lineFn(line);
  }
}
