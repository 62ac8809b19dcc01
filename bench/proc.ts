// Child processes of the benchmarks (qemu, the CLI, the agent, iperf3,
// qemu-bridge-helper): waiting for their end, stopping them, their output.
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface Closed {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when it could not be spawned. */
  error?: Error;
}

/** Resolves when the child has exited and its pipes are closed (or failed to spawn). */
export function closedOf(child: ChildProcess): Promise<Closed> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

/** How a child ended, for a message: its spawn error, its signal or its code. */
export const endOf = (e: Closed): string => (e.error ? e.error.message : (e.signal ?? `code ${e.code}`));

export const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null && child.pid !== undefined;

/** SIGTERM (SIGKILL after graceMs) and wait until it is gone. */
export async function killAndWait(child: ChildProcess, closed: Promise<Closed>, graceMs = 3000): Promise<Closed> {
  if (running(child)) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => running(child) && child.kill('SIGKILL'), graceMs);
    try {
      await closed;
    } finally {
      clearTimeout(timer);
    }
  }
  return closed;
}

/** Keeps the last 4000 characters written to a stream (optionally forwarding them); returns a getter. */
export function tailOf(stream: Readable, forward: Writable | null = null): () => string {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => {
    text = (text + c).slice(-4000);
    if (forward) forward.write(c);
  });
  return () => text.trim();
}

/** Resolves with `promise`, or rejects with `what` after ms. */
export function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} (${ms} ms)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
