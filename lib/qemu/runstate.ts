// Following a guest's run state over QMP, as libvirt does around starting
// and stopping the vCPUs: its macvtaps are up while the vCPUs run and down
// while they are paused or stopped. The state comes from query-status once,
// then from the RESUME and STOP events; whatever applies it (set links
// locally, or ask the agent) runs one call at a time, and always ends with
// the newest state.
import { Qmp } from './qmp/commands';
import { QmpEvent } from './qmp/events';

/** How a {@link RunState} follows qemu's run state. */
export interface RunStateOptions {
  /** A failed `apply` (the next event, or `resync`, tries again). Default: process.emitWarning. */
  onError?: ((err: Error) => void) | undefined;
  /** query-status timeout (default 10 s). */
  timeoutMs?: number | undefined;
  /**
   * What the links already are before the first apply, e.g. false when the
   * macvtaps were made down: a guest that starts paused then needs no apply
   * (libvirt does nothing to a paused guest's devices until its vCPUs start).
   */
  appliedAtStart?: boolean | undefined;
}

/** What a STOP or RESUME says about the vCPUs; null for other events. */
export function runningAfter(ev: Pick<QmpEvent, 'event'>): boolean | null {
  if (ev.event === 'RESUME') return true;
  if (ev.event === 'STOP') return false;
  return null;
}

/**
 * A guest's run state as the monitor `qmp` reports it, applied with `apply`
 * at start and after every change. Holds the connection until it closes
 * (qemu exited) or `close()`.
 */
export class RunState {
  #running: boolean;
  #applied: boolean | null = null;
  #loop: Promise<void> | null = null;
  #closed = false;
  readonly #qmp: Qmp;
  readonly #apply: (running: boolean) => Promise<void>;
  readonly #onError: (err: Error) => void;
  readonly #onEvent = (ev: QmpEvent) => {
    const r = runningAfter(ev);
    if (r === null) return;
    this.#running = r;
    this.#kick();
  };

  private constructor(qmp: Qmp, running: boolean, apply: (running: boolean) => Promise<void>, onError: (err: Error) => void) {
    this.#qmp = qmp;
    this.#running = running;
    this.#apply = apply;
    this.#onError = onError;
  }

  /**
   * Reads the state (query-status), applies it, and follows the events.
   * Resolves once the first `apply` has run (or failed: reported to
   * `onError`). Rejects only when query-status fails.
   */
  static async follow(qmp: Qmp, apply: (running: boolean) => Promise<void>, o: RunStateOptions = {}): Promise<RunState> {
    // Events that arrive after query-status was sent are the newer word: one
    // before its reply agrees with the reply, one after it supersedes it.
    let last: boolean | null = null;
    const early = (ev: QmpEvent) => {
      const r = runningAfter(ev);
      if (r !== null) last = r;
    };
    qmp.on('event', early);
    let running: boolean;
    try {
      running = (await qmp.queryStatus({ timeoutMs: o.timeoutMs ?? 10_000 })).running;
    } finally {
      qmp.off('event', early);
    }
    const s = new RunState(qmp, last ?? running, apply, o.onError ?? ((e) => process.emitWarning(e.message, 'NetfdWarning')));
    if (o.appliedAtStart !== undefined) s.#applied = o.appliedAtStart;
    qmp.on('event', s.#onEvent);
    qmp.once('close', () => s.close());
    s.#kick();
    await s.settled();
    return s;
  }

  /** The vCPUs' state as last reported: true while they run. */
  get running(): boolean {
    return this.#running;
  }

  /** True when the last `apply` matched the current state (false after a failure, until it succeeds). */
  get applied(): boolean {
    return this.#applied === this.#running;
  }

  /** Resolves when no `apply` is running (the state applied, or its failure reported). */
  async settled(): Promise<void> {
    while (this.#loop) await this.#loop;
  }

  /** Applies the current state again (e.g. after the agent that applies it came back). */
  resync(): void {
    this.#applied = null;
    this.#kick();
  }

  /** Stops following; the monitor connection is the caller's. */
  close(): void {
    this.#closed = true;
    this.#qmp.off('event', this.#onEvent);
  }

  #kick(): void {
    if (this.#loop || this.#closed) return;
    this.#loop = (async () => {
      while (!this.#closed && this.#applied !== this.#running) {
        const want = this.#running;
        try {
          await this.#apply(want);
          this.#applied = want;
        } catch (e) {
          this.#applied = null;
          this.#onError(e instanceof Error ? e : new Error(String(e)));
          break; // the next event or resync() tries again
        }
      }
    })().finally(() => {
      this.#loop = null;
    });
  }
}
