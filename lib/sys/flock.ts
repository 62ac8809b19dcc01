// flock(2) locks on lock files. The kernel drops a dead holder's lock, so a
// lock is never stale; a wait blocks in the kernel (on a thread of the
// addon's own, cut short at the deadline), never polls.
import { call, fromNative } from '../errors';
import { native } from './native';

/** How a lock is taken: exclusive unless `shared`; `note`, exclusive only: the file's text once held. */
export interface LockOptions {
  shared?: boolean;
  note?: string;
}

/** A lock held on a lock file; its fd is owned here until `unlock()`. */
export class FileLock {
  #fd: number | null;
  readonly #shared: boolean;
  /** The lock file. */
  readonly path: string;

  private constructor(fd: number, path: string, shared: boolean) {
    this.#fd = fd;
    this.path = path;
    this.#shared = shared;
  }

  /**
   * Takes flock(2) on `path` if no one holds a conflicting lock, never
   * waiting: LOCK_NB on the calling thread, no promise. Otherwise as `lock`
   * (the file created 0644 if missing, opened O_CLOEXEC; `note` written into
   * it once held). Null when another holds it.
   */
  static tryLock(path: string, o: LockOptions = {}): FileLock | null {
    const req: Parameters<ReturnType<typeof native>['tryLockFile']>[0] = { path, shared: o.shared ?? false };
    if (o.note !== undefined) req.note = o.note;
    let fd: number | null;
    try {
      fd = native().tryLockFile(req);
    } catch (err) {
      throw fromNative(err);
    }
    return fd === null ? null : new FileLock(fd, path, req.shared ?? false);
  }

  /**
   * Takes flock(2) on `path` (created 0644 if missing, opened O_CLOEXEC),
   * exclusive unless `shared`, waiting up to `timeoutMs` (default: forever;
   * 0: not at all). Null when the time ran out. The lock is on the file at
   * `path` when it is taken: one a holder removed meanwhile is not it. A
   * `note` (exclusive locks only) replaces the file's text once it is held.
   */
  static async lock(path: string, o: LockOptions & { timeoutMs?: number } = {}): Promise<FileLock | null> {
    const req: Parameters<ReturnType<typeof native>['lockFile']>[0] = { path, shared: o.shared ?? false };
    if (o.timeoutMs !== undefined) req.timeoutMs = o.timeoutMs < 0 ? -1 : Math.ceil(o.timeoutMs);
    if (o.note !== undefined) req.note = o.note;
    const fd = await call(native().lockFile(req));
    return fd === null ? null : new FileLock(fd, path, req.shared ?? false);
  }

  /** The lock file's fd while held (to write who holds it); -1 after unlock. */
  get fd(): number {
    return this.#fd ?? -1;
  }

  /** True while the lock is held. */
  get held(): boolean {
    return this.#fd !== null;
  }

  /**
   * Releases the lock: the file is removed first when this is its only holder
   * (still holding it, so no other process ever holds a removed file), then
   * the fd is closed. Safe to call twice.
   */
  unlock(): void {
    const fd = this.#fd;
    if (fd === null) return;
    this.#fd = null;
    try {
      native().unlockFile(fd, this.path, !this.#shared);
    } catch (err) {
      throw fromNative(err);
    }
  }
}

/**
 * flock(fd, LOCK_EX | LOCK_NB), (LOCK_SH | LOCK_NB) or LOCK_UN on an fd the
 * caller owns: false when another open file holds a conflicting lock.
 */
export function flock(fd: number, op: 'exclusive' | 'shared' | 'unlock'): boolean {
  try {
    return native().flock(fd, op);
  } catch (err) {
    throw fromNative(err);
  }
}
