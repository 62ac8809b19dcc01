// Fair queueing between users: jobs run `concurrency` at a time, taking
// turns between keys (uids). However long one user's backlog, another
// user's next job waits for the jobs running and at most one job of each
// user ahead of it in the round.
//
// Jobs start in turns of the event loop. A job asked for starts in a fresh
// turn (setImmediate), never inside the caller's own call. When a job ends,
// the next one starts at once if the current turn has lasted less than
// `sliceMs`, otherwise in a fresh turn. So the loop serves I/O (other users'
// cheap requests) at least every `sliceMs` plus one job, and a backlog of
// cheap jobs costs no extra loop turn each. With a slice of 0 every job has
// a turn of its own.
export class FairQueue {
  readonly concurrency: number;
  readonly sliceMs: number;
  /** Per key, its jobs in order; the map's order is the round robin. */
  readonly #queues = new Map<number, (() => Promise<void>)[]>();
  #running = 0;
  /** When the current turn began (performance.now()). */
  #turn = -Infinity;

  constructor(concurrency = 1, sliceMs = 0) {
    this.concurrency = concurrency;
    this.sliceMs = sliceMs;
  }

  /** Jobs waiting (not yet started), all keys together. */
  get waiting(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  /** Runs `job` in `key`'s turn; resolves or rejects with it. */
  run<T>(key: number, job: () => Promise<T> | T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const q = this.#queues.get(key) ?? [];
      q.push(async () => {
        try {
          resolve(await job());
        } catch (e) {
          reject(e);
        }
      });
      if (!this.#queues.has(key)) this.#queues.set(key, q);
      this.#pump(false);
    });
  }

  /** Starts what may start; `ended`: a job just ended (the next may go on in its turn). */
  #pump(ended: boolean): void {
    while (this.#running < this.concurrency && this.#queues.size) {
      const [key, q] = this.#queues.entries().next().value as [number, (() => Promise<void>)[]];
      const job = q.shift() as () => Promise<void>;
      // To the back of the round: the next key goes first.
      this.#queues.delete(key);
      if (q.length) this.#queues.set(key, q);
      this.#running++;
      const start = () => {
        void job().finally(() => {
          this.#running--;
          this.#pump(true);
        });
      };
      if (ended && performance.now() - this.#turn < this.sliceMs) start();
      else
        setImmediate(() => {
          this.#turn = performance.now();
          start();
        });
    }
  }
}
