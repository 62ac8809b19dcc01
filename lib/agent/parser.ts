// Parsing requests' XML for the ACL on a worker thread, one job at a time,
// users taking turns (FairQueue): one user's flood of large documents delays
// neither the agent's event loop nor another user's next parse by more than
// one document. The worker is started on first use, restarted if it dies,
// bounded in memory and time, and never keeps the process alive.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { NetfdError, NetfdErrorCode } from '../errors';
import { FairQueue } from './fair';
import type { InterfaceObjects } from './objects';

export interface Parsed {
  name: string;
  interfaces: InterfaceObjects[];
}

/** A parse error as the worker reports it. */
export interface ParseErrorInfo {
  message: string;
  code: NetfdErrorCode;
  field?: string;
  value?: unknown;
}

type Reply = { id: number; ok: true; name: string; interfaces: InterfaceObjects[] } | { id: number; ok: false; error: ParseErrorInfo };

/** What the worker reports of an error its parse threw. */
export function parseErrorInfo(e: unknown): ParseErrorInfo {
  const err = e as { message?: string; code?: string; field?: string; value?: unknown };
  return { message: String(err?.message ?? e), code: (err?.code ?? 'INVALID_ARGUMENT') as NetfdErrorCode, field: err?.field, value: err?.value };
}

/** The error an AclParser request rejects with for what the worker reported. */
export function parseErrorOf(info: ParseErrorInfo): NetfdError {
  return new NetfdError(info.message, { code: info.code, field: info.field, value: info.value });
}

/** An error a parse threw, as an AclParser request would have rejected with it. */
export const parseError = (e: unknown): NetfdError => parseErrorOf(parseErrorInfo(e));

/** How long one parse may take before the worker is replaced. */
const PARSE_TIMEOUT_MS = 10_000;

export class AclParser {
  readonly #queue = new FairQueue(1);
  #worker: Worker | undefined;
  #nextId = 1;
  #closed = false;

  /** The domain's name and what each interface touches; a parse error is thrown as the parser gave it. */
  domain(uid: number, text: string): Promise<Parsed> {
    return this.#queue.run(uid, () => this.#ask({ kind: 'domain', text }));
  }

  /** What an interface document touches, read in the context of the domain's live XML. */
  interface(uid: number, live: string, text: string): Promise<Parsed> {
    return this.#queue.run(uid, () => this.#ask({ kind: 'interface', live, text }));
  }

  /**
   * Starts the worker now and resolves once it runs (the agent does this
   * before it listens: the worker's thread, fds and memory are then part of
   * the agent's baseline, not of its first request).
   */
  async warm(): Promise<void> {
    if (this.#closed || this.#worker) return;
    const w = (this.#worker = this.#start());
    w.ref(); // nothing else may keep the loop alive yet
    // One real round trip: the worker has loaded the parser and its loop is complete.
    await this.#ask({ kind: 'domain', text: "<domain type='qemu'><name>warm</name><memory>1024</memory></domain>" }).catch(() => undefined);
    w.unref();
  }

  close(): void {
    this.#closed = true;
    void this.#worker?.terminate();
    this.#worker = undefined;
  }

  #start(): Worker {
    const file = path.join(__dirname, `parse-worker${path.extname(__filename)}`);
    const w = new Worker(file, { resourceLimits: { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 32 } });
    w.unref();
    return w;
  }

  #ask(job: { kind: 'domain'; text: string } | { kind: 'interface'; live: string; text: string }): Promise<Parsed> {
    if (this.#closed) return Promise.reject(new NetfdError('the agent is stopping', { code: 'EAGAIN' }));
    const w = (this.#worker ??= this.#start());
    const id = this.#nextId++;
    return new Promise<Parsed>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      const lost = (why: string) => {
        done();
        if (this.#worker === w) this.#worker = undefined;
        void w.terminate();
        reject(new NetfdError(`the XML could not be parsed: ${why}`, { code: 'INVALID_ARGUMENT', field: 'args.xml', value: null }));
      };
      const onMessage = (r: Reply) => {
        if (r.id !== id) return;
        done();
        if (r.ok) resolve({ name: r.name, interfaces: r.interfaces });
        else reject(parseErrorOf(r.error));
      };
      const onError = (e: Error) => lost(`the parser failed (${e.message})`);
      const onExit = (code: number) => lost(`the parser exited (${code})`);
      const timer = setTimeout(() => lost(`it took longer than ${PARSE_TIMEOUT_MS / 1000} s`), PARSE_TIMEOUT_MS);
      timer.unref();
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.postMessage({ id, ...job });
    });
  }
}
