// The socket under a QMP connection: a stream to qemu's monitor, read as
// lines (QMP ends each JSON message with \r\n) and written one message at a
// time, with fds attached over SCM_RIGHTS when a command carries them. The
// client (client.ts) sees only QmpTransport: send, onLine, onError, onClose,
// close; how the bytes move is this file's business alone.
//
// How bytes and fds move: the connection is the one unix socket class of
// lib/sys/unixsock.ts (non-blocking, watched by uv_poll on Node's own loop),
// the same the agent and its client use. A message that carries fds goes out
// as one sendmsg with SCM_RIGHTS; messages are queued and sent whole, in
// order, so a command's bytes never interleave with another's.
import { StringDecoder } from 'node:string_decoder';
import { NetfdError } from '../../errors';
import { closeFd } from '../../sys/fdpass';
import { UnixMessage, UnixSocket } from '../../sys/unixsock';

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

/** Connects to the unix socket at `path` (connection errors arrive through onClose). */
export function connect(path: string): QmpTransport {
  const t = new UvTransport();
  UnixSocket.connect(path, 'stream').then(
    (sock) => t.attach(sock),
    (err: Error) => t.fail(err),
  );
  return t;
}

/** A connected stream socket this process owns; the transport owns `fd` from here on (closed also if this throws). */
export function open(fd: number): QmpTransport {
  let sock: UnixSocket;
  try {
    sock = UnixSocket.adopt(fd); // a failed adopt leaves the fd open: close it here
  } catch (err) {
    closeFd(fd);
    throw err;
  }
  const t = new UvTransport();
  t.attach(sock);
  return t;
}

class UvTransport implements QmpTransport {
  private readonly framer = new LineFramer();
  private lineFn: (line: string) => void = () => {};
  private errorFn: (err: NetfdError) => void = () => {};
  private closeFn: (err: Error | null) => void = () => {};
  private sock: UnixSocket | null = null;
  /** Sends made before the connect finished, in order. */
  private early: (() => void)[] = [];
  private ended = false;
  private error: Error | null = null;
  private closedResolve!: () => void;
  private readonly closed = new Promise<void>((r) => (this.closedResolve = r));

  attach(sock: UnixSocket): void {
    if (this.ended) {
      sock.close(); // close() came first
      return;
    }
    this.sock = sock;
    // qemu sends no fds: maxFds 0 (the kernel closes any, m.ctrunc says so).
    sock.read(
      { maxBytes: 65536, maxFds: 0 },
      (m) => this.onData(m),
      (e) => this.end(e),
    );
    for (const go of this.early.splice(0)) go();
  }

  fail(err: Error): void {
    this.error = err;
    this.end(err);
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
    const what = o.what ?? 'qmp';
    const fds = o.fds ?? [];
    const go = (): Promise<void> => {
      if (!this.sock || this.ended) return Promise.reject(new WriteFailed(what, this.error ?? new Error('the connection is closed')));
      // One queue for every message: the fds go with the first byte of theirs, a partial
      // write is finished before the next message starts (no interleaving, no readStop).
      const timeoutMs = fds.length && o.deadline != null ? Math.max(1, o.deadline - Date.now()) : -1;
      return this.sock.send(text, fds, { timeoutMs }).then(
        () => undefined,
        (e: NetfdError) => {
          if (e.code === 'EPIPE' || e.code === 'ECONNRESET')
            throw fds.length ? new NetfdError(`${what}: qemu closed the monitor connection`, { code: 'QMP_CLOSED', cause: e }) : new WriteFailed(what, e);
          throw e; // ETIMEDOUT, EBADF (an fd not open), EMSGSIZE...
        },
      );
    };
    if (this.sock || this.ended) return go();
    return new Promise((resolve, reject) => this.early.push(() => go().then(resolve, reject)));
  }

  close(): Promise<void> {
    this.end(null);
    return this.closed;
  }

  private onData(m: UnixMessage): void {
    for (const fd of m.fds) closeFd(fd); // none expected
    if (m.eof) {
      this.end(null);
      return;
    }
    let lines: string[];
    try {
      lines = this.framer.push(m.data);
    } catch (err) {
      this.errorFn(err as NetfdError);
      this.end(null);
      return;
    }
    for (const line of lines) {
      if (this.ended) return;
      this.lineFn(line);
    }
  }

  /** Once: closes the socket (sends still queued reject ECONNRESET), then onClose. */
  private end(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.sock?.close();
    for (const go of this.early.splice(0)) go(); // they reject: closed
    this.closeFn(err);
    this.closedResolve();
  }
}
