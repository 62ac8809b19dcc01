// qemu coming up: its QMP socket appears (bind), then accepts (listen);
// netfd waits for the one and connects once the other holds.
import fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { NetfdError } from '../errors';
import { Qmp } from './qmp/commands';

/** Resolves once qemu has created its QMP socket `file`; rejects if qemu exits or `timeoutMs` passes. */
export function waitForSocket(file: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error('exited'));
      if (fs.existsSync(file)) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new NetfdError(`qemu did not open its QMP socket ${file} within ${timeoutMs} ms`, { code: 'ETIMEDOUT' }));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/**
 * Connects to qemu's QMP socket. qemu binds the socket (the file appears)
 * and then listens: a connect in between is refused, so ECONNREFUSED is
 * tried again while qemu lives and time is left.
 */
function refused(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, n = 0; e && n < 5; e = e.cause as typeof e, n++) if (e.code === 'ECONNREFUSED') return true;
  return false;
}

export async function connectWhenListening(file: string, child: ChildProcess, left: () => number): Promise<Qmp> {
  let first: unknown = null;
  for (;;) {
    try {
      return await Qmp.connect(file, { timeoutMs: left() });
    } catch (err) {
      // Another failure after a refusal (qemu exited and removed its socket) reports the refusal.
      if (!refused(err) || child.exitCode !== null || child.signalCode !== null || left() <= 20) throw first ?? err;
      first ??= err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
