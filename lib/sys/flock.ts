// flock(2) locks on lock files. The kernel drops a dead holder's lock, so a
// lock is never stale; a wait blocks in the kernel (on a thread of the
// addon's own, cut short at the deadline), never polls.
import { call, fromNative } from '../errors';
import { native } from './native';

/** A lock held on a lock file; its fd is owned here until `unlock()`. */
export class FileLock {
  #fd: number | null;
  /** The lock file. */
  readonly path: string;

  private constructor(fd: number, path: string) {
    this.#fd = fd;
    this.path = path;
  }

  /**
   * Takes flock(2) on `path` (created 0644 if missing, opened O_CLOEXEC),
   * exclusive unless `shared`, waiting up to `timeoutMs` (default: forever;
   * 0: not at all). Null when the time ran out. The lock is on the file at
   * `path` when it is taken: one a holder removed meanwhile is not it.
   */
  static async lock(path: string, o: { shared?: boolean; timeoutMs?: number } = {}): Promise<FileLock | null> {
    const req: Parameters<ReturnType<typeof native>['lockFile']>[0] = { path, shared: o.shared ?? false };
    if (o.timeoutMs !== undefined) req.timeoutMs = o.timeoutMs < 0 ? -1 : Math.ceil(o.timeoutMs);
    const fd = await call(native().lockFile(req));
    return fd === null ? null : new FileLock(fd, path);
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
      native().unlockFile(fd, this.path);
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
