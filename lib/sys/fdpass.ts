// fds over unix sockets: SCM_RIGHTS with a payload, MSG_CMSG_CLOEXEC on
// receipt (more fds than expected is an error), and SO_PEERCRED.
import { call, fromNative } from '../errors';
import { native } from './native';

/** What `recvFds` got: the bytes and the fds (owned by the caller, O_CLOEXEC). */
export interface Received {
  data: Buffer;
  /** Owned by the caller: close them. */
  fds: number[];
}

/** Sends `data` (at least one byte) with `fds` attached. */
export async function sendFds(sock: number, data: Buffer | string, fds: readonly number[] = [], timeoutMs = -1): Promise<number> {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return call(native().fdSend(sock, buf, [...fds], timeoutMs));
}

/** Receives one message and at most `maxFds` fds. */
export async function recvFds(sock: number, maxBytes = 65536, maxFds = 253, timeoutMs = -1): Promise<Received> {
  return call(native().fdRecv(sock, maxBytes, maxFds, timeoutMs));
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
