// Fair queueing between users: jobs run `concurrency` at a time, taking
// turns between keys (uids), each started from a fresh turn of the event
// loop. However long one user's backlog, another user's next job waits for
// the jobs running and at most one job of each user ahead of it in the
// round, and the loop serves I/O (other users' cheap requests) between any
// two jobs.
export class FairQueue {
  readonly concurrency: number;
  /** Per key, its jobs in order; the map's order is the round robin. */
  readonly #queues = new Map<number, (() => Promise<void>)[]>();
  #running = 0;

  constructor(concurrency = 1) {
    this.concurrency = concurrency;
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
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running < this.concurrency && this.#queues.size) {
      const [key, q] = this.#queues.entries().next().value as [number, (() => Promise<void>)[]];
      const job = q.shift() as () => Promise<void>;
      // To the back of the round: the next key goes first.
      this.#queues.delete(key);
      if (q.length) this.#queues.set(key, q);
      this.#running++;
      setImmediate(() => {
        void job().finally(() => {
          this.#running--;
          this.#pump();
        });
      });
    }
  }
}
