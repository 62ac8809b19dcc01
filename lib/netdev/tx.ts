// The undo log of a host change: each step records what it created, by
// kernel identity (a link's ifindex in the transaction's namespace, never its
// name or MAC, which someone else may take meanwhile), and `undo()` reverses
// all of it when a later step fails. Teardown reuses the same reversal.
import { FdSet } from '../sys/fds';
import { deleteLinks } from '../sys/link';
import { removeFile } from '../state/atomic';

/** What a transaction in one network namespace has made so far, and how to undo it. */
export class Tx {
  /** The namespace the recorded ifindexes live in (undefined: this process's). */
  readonly netns: string | undefined;
  readonly #links: number[] = [];
  readonly #fds: FdSet[] = [];
  readonly #files: string[] = [];
  readonly #after: (() => Promise<void>)[] = [];

  constructor(netns: string | undefined) {
    this.netns = netns;
  }

  /** A link this transaction created, by ifindex in `netns`: deleted on undo. */
  link(ifindex: number): void {
    this.#links.push(ifindex);
  }

  /** fds this transaction holds: closed on undo (unless released or closed before). */
  fds(...sets: FdSet[]): void {
    this.#fds.push(...sets);
  }

  /** A file this transaction wrote: removed on undo. */
  file(path: string): void {
    this.#files.push(path);
  }

  /** Runs last on undo, once the links are gone (a <downscript>). */
  after(fn: () => Promise<void>): void {
    this.#after.push(fn);
  }

  /** The ifindexes recorded (and not undone yet). */
  get links(): readonly number[] {
    return this.#links;
  }

  /** True when nothing is recorded. */
  get empty(): boolean {
    return !this.#links.length && !this.#fds.length && !this.#files.length && !this.#after.length;
  }

  /**
   * Reverses everything recorded: deletes the links (together, so the kernel
   * unregisters them in one grace period; links already gone count as
   * deleted), closes the fds, removes the files, then runs the `after`
   * steps. Never throws: every failure is returned, and the rest still runs.
   * The log is empty afterwards, so a second undo does nothing.
   */
  async undo(): Promise<unknown[]> {
    const errors: unknown[] = [];
    const links = this.#links.splice(0);
    if (links.length) await deleteLinks(links, { netns: this.netns }).catch((e) => errors.push(e));
    for (const s of this.#fds.splice(0)) {
      try {
        s.close();
      } catch (e) {
        errors.push(e);
      }
    }
    for (const f of this.#files.splice(0)) {
      try {
        removeFile(f);
      } catch (e) {
        errors.push(e);
      }
    }
    for (const fn of this.#after.splice(0)) await fn().catch((e) => errors.push(e));
    return errors;
  }
}
