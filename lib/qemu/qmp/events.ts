// QMP's async events on one connection: numbered in order of arrival, the
// newest 64 kept so an event that lands just before a waiter is registered
// is not lost, and waiters that resolve with the first event of a name that
// satisfies their predicate (or reject on a timeout, or when the connection
// closes). The client (client.ts) feeds it the event messages and emits
// them; it does no I/O itself.
import { NetfdError } from '../../errors';

/** An async event as qemu sends it, numbered in order of arrival. */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
  /** 1, 2, 3, ... per connection; compare with `lastEventSeq`. */
  seq: number;
}

/** A registered wait: its promise, and `cancel` to drop the wait without settling it. */
export interface EventWait {
  promise: Promise<QmpEvent>;
  cancel(): void;
}

const EVENT_BUFFER = 64;

interface Waiter {
  name: string;
  predicate: (ev: QmpEvent) => boolean;
  timer: NodeJS.Timeout | null;
  settled: boolean;
  resolve(ev: QmpEvent): void;
  reject(e: Error): void;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** The events of one connection and the waiters on them. */
export class EventLog {
  private seq = 0;
  private readonly recent: QmpEvent[] = [];
  private readonly waiters = new Set<Waiter>();
  /** Set once the connection is closed: makes the error a waiter rejects with. */
  private closedError: ((what: string) => Error) | null = null;

  /** The seq of the newest event so far (0: none). */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Records the message of the event named `event`, resolves the waiters it
   * satisfies and returns it as a QmpEvent for the listeners.
   */
  add(event: string, msg: Record<string, unknown>): QmpEvent {
    const ts = isObject(msg.timestamp) ? msg.timestamp : {};
    const ev: QmpEvent = {
      event,
      data: isObject(msg.data) ? msg.data : {},
      timestamp: { seconds: num(ts.seconds), microseconds: num(ts.microseconds) },
      seq: ++this.seq,
    };
    this.recent.push(ev);
    if (this.recent.length > EVENT_BUFFER) this.recent.shift();
    for (const w of [...this.waiters]) if (!w.settled && w.name === ev.event && this.matches(w, ev)) w.resolve(ev);
    return ev;
  }

  /**
   * Waits for the first event named `name` that satisfies `predicate`: a
   * buffered one with seq > `since`, else the next one to arrive. Rejects
   * with 'ETIMEDOUT' after `timeoutMs` (0 or Infinity: none), with the
   * closed error once the connection is closed, or with what the predicate
   * threw. Arguments are checked by the caller.
   */
  wait(name: string, predicate: (ev: QmpEvent) => boolean, timeoutMs: number, since: number): EventWait {
    let w!: Waiter;
    const promise = new Promise<QmpEvent>((resolve, reject) => {
      const done = () => {
        w.settled = true;
        if (w.timer) clearTimeout(w.timer);
        w.timer = null;
        this.waiters.delete(w);
      };
      w = {
        name,
        predicate,
        timer: null,
        settled: false,
        resolve: (ev) => {
          done();
          resolve(ev);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
    });
    const hit = this.recent.find((ev) => ev.seq > since && ev.event === name && this.matches(w, ev));
    if (w.settled) {
      // the predicate threw
    } else if (hit) {
      w.resolve(hit);
    } else if (this.closedError) {
      w.reject(this.closedError(`waiting for ${name}`));
    } else {
      this.waiters.add(w);
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        w.timer = setTimeout(() => w.reject(new NetfdError(`qmp: no ${name} event within ${timeoutMs} ms`, { code: 'ETIMEDOUT' })), timeoutMs);
      }
    }
    return {
      promise,
      cancel: () => {
        if (w.timer) clearTimeout(w.timer);
        w.timer = null;
        this.waiters.delete(w);
      },
    };
  }

  /** The connection is gone: every waiter, now and later, rejects with `error(what)`. Runs once. */
  close(error: (what: string) => Error): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const w of [...this.waiters]) w.reject(error(`waiting for ${w.name}`));
  }

  private matches(w: Waiter, ev: QmpEvent): boolean {
    try {
      return w.predicate(ev);
    } catch (err) {
      w.reject(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
  }
}
