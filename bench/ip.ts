// iproute2, the reference the link benchmarks are measured against: one
// `ip` per command, one `ip -batch FILE`, and one long-running `ip -batch -`.
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

const IP_BATCH_TIMEOUT_MS = 10_000;

/** Runs `ip -n NS ARGS...` without blocking the event loop; resolves with its stdout. */
export function ipAsync(ns: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-n', ns, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip -n ${ns} ${args.join(' ')}: ${String(stderr).trim() || err.message}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/** Runs one `ip -n NS -batch FILE` with `lines` (the file is DIR/LABEL.batch). */
export async function ipBatch(ns: string, dir: string, label: string, lines: readonly string[]): Promise<string> {
  const file = path.join(dir, `${label}.batch`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return ipAsync(ns, ['-batch', file]);
}

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One long-running `ip -n NS -o -force -batch -`, fed batches of lines over
 * stdin, one batch at a time.
 *
 * Knowing when a batch has finished: ip runs the lines strictly in order, each
 * link command waits for the kernel's acknowledgement before ip reads the next
 * line, and ip flushes stdout after every line of a batch. So each batch ends
 * with the query `link show dev lo`, which with -o prints exactly one line
 * starting with "1: lo:" (lo is ifindex 1 in every namespace); when that line
 * arrives, every command before it has completed. stderr is merged into the
 * same pipe (sh -c 'exec ... 2>&1'), so an error ("Error: ...", "Command failed
 * -:N") arrives in order, before the marker, and fails the batch instead of
 * racing it on another pipe; -force keeps ip reading after a failed line, so
 * the marker still comes and nothing hangs. A timeout guards against an ip that
 * would not flush.
 */
export class IpBatchProcess {
  static readonly MARKER = 'link show dev lo';
  static readonly MARKER_REPLY = /^1: lo:/;

  readonly ns: string;
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  #pending: Pending | null = null;
  #buf = '';
  #other: string[] = [];
  #gone: string | null = null;
  readonly #closed: Promise<void>;

  constructor(ns: string) {
    this.ns = ns;
    this.#child = spawn('sh', ['-c', 'exec "$@" 2>&1', 'sh', 'ip', '-n', ns, '-o', '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#closed = new Promise((resolve) => {
      this.#child.once('close', (code, signal) => {
        this.#gone = `ip -batch exited (${signal ?? `code ${code}`})${this.#other.length ? `: ${this.#other.join(' | ')}` : ''}`;
        this.#settle(new Error(this.#gone));
        resolve();
      });
    });
    this.#child.once('error', (err) => {
      this.#gone = `cannot run ip -batch: ${err.message}`;
      this.#settle(new Error(this.#gone));
    });
    this.#child.stdin.on('error', () => {}); // EPIPE when ip is gone; reported by 'close'
    this.#child.stdout.setEncoding('utf8');
    this.#child.stdout.on('data', (chunk: string) => {
      this.#buf += chunk;
      for (let nl = this.#buf.indexOf('\n'); nl >= 0; nl = this.#buf.indexOf('\n')) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        if (!IpBatchProcess.MARKER_REPLY.test(line)) this.#other.push(line);
        else {
          const other = this.#other.splice(0);
          this.#settle(other.length ? new Error(`ip -n ${ns} -batch -: ${other.join(' | ')}`) : null);
        }
      }
    });
  }

  #settle(err: Error | null): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = null;
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve();
  }

  /** Sends `lines` and the marker; resolves when ip has run them all without error. */
  run(lines: readonly string[]): Promise<void> {
    if (this.#gone) return Promise.reject(new Error(this.#gone));
    if (this.#pending) return Promise.reject(new Error('IpBatchProcess: one batch at a time'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#settle(new Error(`ip -n ${this.ns} -batch -: no marker within ${IP_BATCH_TIMEOUT_MS} ms`)), IP_BATCH_TIMEOUT_MS);
      this.#pending = { resolve, reject, timer };
      this.#child.stdin.write([...lines, IpBatchProcess.MARKER].join('\n') + '\n');
    });
  }

  /** Ends ip's input and waits until it has exited and its pipes are closed. */
  async close(): Promise<void> {
    if (!this.#gone) this.#child.stdin.end();
    const timer = setTimeout(() => this.kill(), 5000);
    await this.#closed;
    clearTimeout(timer);
  }

  /** Synchronous, for the 'exit' handler. */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }
}
