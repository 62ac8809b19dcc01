// fds over unix sockets: SCM_RIGHTS with a payload, MSG_CMSG_CLOEXEC on
// receipt (more fds than expected is an error), and SO_PEERCRED. sendFds and
// recvFds wait on Node's own loop (lib/sys/unixsock.ts), never in a thread:
// the caller's socket is borrowed for as long as a call waits on it.
import { fromNative, NetfdError } from '../errors';
import { native } from './native';
import { UnixMessage, UnixSocket } from './unixsock';

/** What `recvFds` got: the bytes and the fds (owned by the caller, O_CLOEXEC). */
export interface Received {
  data: Buffer;
  /** Owned by the caller: close them. */
  fds: number[];
}

interface Reader {
  maxBytes: number;
  maxFds: number;
  resolve: (r: Received) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** A caller's fd watched while sendFds/recvFds calls wait on it (the loop watches an fd once). */
interface Borrowed {
  sock: UnixSocket;
  users: number;
  readers: Reader[];
}

const borrowed = new Map<number, Borrowed>();

function acquire(fd: number): Borrowed {
  let b = borrowed.get(fd);
  if (!b) {
    b = { sock: UnixSocket.adopt(fd, { own: false }), users: 0, readers: [] };
    borrowed.set(fd, b);
  }
  b.users++;
  return b;
}

function release(fd: number, b: Borrowed): void {
  if (--b.users > 0) return;
  borrowed.delete(fd);
  b.sock.close(); // the fd stays the caller's, its flags as they were
}

/** Reads for the first waiting reader, with its limits; stops when none waits. */
function readNext(b: Borrowed): void {
  const r = b.readers[0];
  if (!r) {
    b.sock.pause();
    return;
  }
  b.sock.read(
    { maxBytes: r.maxBytes, maxFds: r.maxFds },
    (m) => deliver(b, m),
    (e) => fail(b, e),
  );
}

function settle(b: Borrowed, r: Reader): void {
  clearTimeout(r.timer);
  const i = b.readers.indexOf(r);
  if (i >= 0) b.readers.splice(i, 1);
  if (i === 0 && !b.sock.closed) readNext(b);
}

function deliver(b: Borrowed, m: UnixMessage): void {
  const r = b.readers[0];
  if (!r) {
    for (const fd of m.fds) native().close(fd);
    return;
  }
  settle(b, r);
  const closeAll = () => m.fds.forEach((fd) => native().close(fd));
  // Every fd that arrived is closed before a refusal.
  if (m.ctrunc) {
    closeAll();
    r.reject(fromNative({ code: 'ECTRUNC', errno: -90, syscall: 'recvmsg', message: `receive fds: the peer sent more fds than the ${r.maxFds} expected; they were closed` }));
  } else if (m.truncated) {
    closeAll();
    r.reject(fromNative({ code: 'EMSGSIZE', errno: -90, syscall: 'recvmsg', message: `receive fds: the message is longer than the ${r.maxBytes} bytes expected` }));
  } else {
    r.resolve({ data: m.data, fds: m.fds });
  }
}

function fail(b: Borrowed, e: NetfdError): void {
  const r = b.readers[0];
  if (!r) return;
  settle(b, r);
  r.reject(e);
}

/** Sends `data` (at least one byte) with `fds` attached: one sendmsg, once the socket has room. Resolves with the bytes it took. */
export async function sendFds(sock: number, data: Buffer | string, fds: readonly number[] = [], timeoutMs = -1): Promise<number> {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  if (!Buffer.isBuffer(buf)) throw new TypeError('sendFds: data must be a Buffer or a string');
  if (buf.length === 0) throw fromNative({ code: 'EINVAL', errno: -22, syscall: 'sendmsg', message: 'send fds: the payload must hold at least one byte' });
  const b = acquire(sock);
  try {
    return await b.sock.send(buf, fds, { timeoutMs, once: true });
  } catch (err) {
    const e = err as NetfdError;
    if (e.code === 'ETIMEDOUT') throw fromNative({ code: 'ETIMEDOUT', errno: -110, message: `send fds: timed out after ${timeoutMs} ms` });
    throw err;
  } finally {
    release(sock, b);
  }
}

/** Receives one message and at most `maxFds` fds; waits up to `timeoutMs` (-1: for ever). An empty message is the end of the stream. */
export async function recvFds(sock: number, maxBytes = 65536, maxFds = 253, timeoutMs = -1): Promise<Received> {
  if (!Number.isInteger(timeoutMs) || timeoutMs < -1) throw new TypeError('recvFds: timeoutMs must be an integer >= -1');
  const b = acquire(sock);
  try {
    return await new Promise<Received>((resolve, reject) => {
      const r: Reader = { maxBytes, maxFds, resolve, reject, timer: undefined };
      b.readers.push(r);
      if (b.readers.length === 1) {
        try {
          readNext(b);
        } catch (err) {
          b.readers.shift(); // bad limits (a TypeError): this reader never waited
          throw err;
        }
      }
      if (timeoutMs >= 0)
        r.timer = setTimeout(() => {
          settle(b, r);
          reject(fromNative({ code: 'ETIMEDOUT', errno: -110, message: `receive fds: timed out after ${timeoutMs} ms` }));
        }, timeoutMs);
    });
  } finally {
    release(sock, b);
  }
}

/** The peer's pid, uid and gid (SO_PEERCRED). */
export function peerCred(sock: number): { pid: number; uid: number; gid: number } {
  try {
    return native().peerCred(sock);
  } catch (err) {
    throw fromNative(err);
  }
}

/** A connected AF_UNIX pair (close-on-exec). */
export function socketPair(type: 'seqpacket' | 'stream' = 'seqpacket'): [number, number] {
  try {
    return native().socketPair(type);
  } catch (err) {
    throw fromNative(err);
  }
}

/** Closes an fd this process owns (one received, or released from an owner). */
export function closeFd(fd: number): void {
  try {
    native().close(fd);
  } catch (err) {
    throw fromNative(err);
  }
}
