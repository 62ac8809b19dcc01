// One listing of the namespace's links serves every prepare that asked for
// one while none had begun. Each caller still gets a listing begun after it
// asked (as fresh as one of its own), but a burst of prepares costs one
// kernel dump and one conversion of every link into JS, not one each: with
// a hundred links that dump is about a millisecond of the kernel's time and
// as much again of the event loop's, more than the rest of a prepare.

/** Calls of `run` shared by the callers that ask while no call has begun (at most one running, one waiting). */
export class SharedRun<T> {
  readonly #run: () => Promise<T>;
  /** The call begun and not settled. */
  #running: Promise<T> | null = null;
  /** The call that begins once the running one settles; those who ask now share it. */
  #waiting: Promise<T> | null = null;

  constructor(run: () => Promise<T>) {
    this.#run = run;
  }

  /** A result of `run` begun after this call: the waiting call's, or a new one. */
  get(): Promise<T> {
    if (this.#waiting) return this.#waiting;
    const running = this.#running;
    if (!running) return this.#begin();
    const settled = () => {
      this.#waiting = null;
      return this.#begin();
    };
    this.#waiting = running.then(settled, settled);
    return this.#waiting;
  }

  #begin(): Promise<T> {
    const p = this.#run();
    this.#running = p;
    const done = () => {
      if (this.#running === p) this.#running = null;
    };
    p.then(done, done);
    return p;
  }
}
