// qemu coming up, without waiting on timers: netfd makes qemu's QMP socket
// itself (bind + listen, before qemu runs) and hands qemu the listening fd
// (`-chardev socket,fd=N,server=on`), so a connection made at once is queued
// until qemu's monitor takes it; qemu is up when that connection greets,
// negotiates and reports a post-init run state, and qemu exiting first is
// seen by its exit event. The one timer is the upper bound.
import fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { NetfdError } from '../errors';
import { native } from '../sys/native';
import { Qmp } from './qmp/commands';

/**
 * The listening QMP socket of one qemu, made by netfd: the file at `path`
 * (mode 0600, as qemu would make it under a 077 umask) and netfd's fd of it,
 * which goes to qemu and is then closed here. qemu did not bind the file,
 * so it may leave it behind: {@link QmpSocket.unlink} removes it.
 */
export class QmpSocket {
  readonly path: string;
  #fd: number;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /** Listens at `path`, replacing a stale socket file a dead qemu left there. */
  static listen(path: string): QmpSocket {
    fs.rmSync(path, { force: true });
    // Backlog 1, as qemu's own: it sets that again when it takes the fd.
    return new QmpSocket(path, native().unixStreamListen(path, 1, 0o600));
  }

  /** netfd's copy of the listening fd; -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** Closes netfd's copy (once qemu has its own, or on failure). Twice is fine. */
  closeFd(): void {
    const fd = this.#fd;
    this.#fd = -1;
    if (fd >= 0) native().close(fd);
  }

  /** Closes netfd's copy and removes the socket file. */
  unlink(): void {
    this.closeFd();
    fs.rmSync(this.path, { force: true });
  }
}

/** The run states of a qemu that came up (query-status): qemu reaches them only after its init. */
export const UP_STATES: readonly string[] = ['running', 'paused', 'prelaunch', 'inmigrate', 'suspended'];

/** What {@link whenUp} does once the connection has greeted. */
export interface UpOptions {
  /** The upper bound on the whole wait, ms. */
  timeoutMs: number;
  /** Runs on the connection once qemu is up (a throw fails the wait); the connection is closed after it. */
  ready?: ((q: Qmp) => Promise<void>) | undefined;
}

const exitedText = (code: number | null, signal: NodeJS.Signals | null) => (signal ? `killed by ${signal}` : `exit code ${code}`);

/**
 * Resolves once qemu (`child`) is up on the QMP socket at `path`, which
 * listens already: connects (queued until qemu's monitor accepts), reads the
 * greeting, negotiates capabilities and checks that query-status is a state
 * of {@link UP_STATES}; then runs `ready` and closes the connection. Rejects
 * as soon as qemu exits or fails to spawn (its exit event, not a poll), when
 * the connection drops (a qemu failing its init), or after `timeoutMs`.
 */
export async function whenUp(path: string, child: ChildProcess, o: UpOptions): Promise<void> {
  const started = Date.now();
  const left = () => Math.max(1, o.timeoutMs - (Date.now() - started));
  let settled = false;
  let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  let onError: ((e: Error) => void) | undefined;
  const gone = new Promise<never>((_, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return reject(new NetfdError(`qemu exited (${exitedText(child.exitCode, child.signalCode)})`, { code: 'QEMU_FAILED' }));
    onExit = (code, signal) => reject(new NetfdError(`qemu exited (${exitedText(code, signal)}) before its QMP socket answered`, { code: 'QEMU_FAILED' }));
    onError = (e) => reject(e);
    child.once('exit', onExit);
    child.once('error', onError);
  });
  const work = (async () => {
    // The handshake's timeout bounds the wait for the greeting.
    const q = await Qmp.connect(path, { timeoutMs: left() });
    if (settled) {
      await q.close(); // qemu exited first: nobody uses it
      return;
    }
    try {
      const st = await q.queryStatus({ timeoutMs: left() });
      if (!UP_STATES.includes(st.status)) throw new NetfdError(`qemu answered QMP but is ${st.status}`, { code: 'QEMU_FAILED' });
      await o.ready?.(q);
    } finally {
      await q.close();
    }
  })();
  try {
    await Promise.race([work, gone]);
  } finally {
    settled = true;
    if (onExit) child.removeListener('exit', onExit);
    if (onError) child.removeListener('error', onError);
    // The loser's rejection is expected and not an error of anyone's.
    work.catch(() => undefined);
    gone.catch(() => undefined);
  }
}
