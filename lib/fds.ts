// Ownership of raw fds in TS: an FdSet closes what it holds exactly once.
import { native } from './native';

export class FdSet {
  #fds: number[];

  constructor(fds: number[]) {
    this.#fds = [...fds];
  }

  /** The fds still owned (empty after close or release). */
  get fds(): readonly number[] {
    return this.#fds;
  }

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

/** Closes fds the caller owns, ignoring errors (cleanup paths). */
export function closeQuietly(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      native().close(fd);
    } catch {
      /* already closed */
    }
  }
}
