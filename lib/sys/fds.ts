// Ownership of raw fds in TS: an FdSet closes what it holds exactly once.
import { native } from './native';

/**
 * A list of fds with one owner: `close()` closes them all once; `release()` hands them over (the
 * caller then owns them).
 */
export class FdSet {
  #fds: number[];

  /** Takes ownership of `fds`. */
  constructor(fds: number[]) {
    this.#fds = [...fds];
  }

  /** The fds still owned (empty after close or release). */
  get fds(): readonly number[] {
    return this.#fds;
  }

  /** True once the fds were closed or released. */
  get closed(): boolean {
    return this.#fds.length === 0;
  }

  /** Gives the fds away: the caller owns them from now on. */
  release(): number[] {
    const fds = this.#fds;
    this.#fds = [];
    return fds;
  }

  /** Closes every fd still owned. Safe to call twice. */
  close(): void {
    const fds = this.release();
    let first: unknown;
    for (const fd of fds) {
      try {
        native().close(fd);
      } catch (err) {
        first ??= err;
      }
    }
    if (first) throw first;
  }
}

/** Base of every object that owns fds (Tap, MacvtapFds, Macvtap, VhostFds). */
export abstract class OwnsFds {
  readonly #fds: FdSet;

  protected constructor(fds: number[]) {
    this.#fds = new FdSet(fds);
  }

  /** The fds still owned (empty after close() or releaseFds()). */
  get fds(): readonly number[] {
    return this.#fds.fds;
  }

  /** Hands the fds over (e.g. to qemu); this object no longer closes them. */
  releaseFds(): number[] {
    return this.#fds.release();
  }

  /** Closes every fd still owned. Safe to call twice. */
  close(): void {
    this.#fds.close();
  }
}

/**
 * Marks every fd from `from` up close-on-exec, in this whole process: for a
 * program (the netfd CLI) about to start qemu, so that fds it inherited
 * without FD_CLOEXEC (a harness's pipes) do not reach the guest. A library
 * call never does this to its host process.
 */
export function closeOnExecFrom(from: number): void {
  native().cloexecFrom(from);
}
