// Stopping a domain's qemu from another process (`destroy`), the same way
// here and through the agent: SIGTERM, then SIGKILL after the grace period.
import fs from 'node:fs';

/** Whether `pid` is the qemu running domain `name` (not a reused pid). */
export function isQemuOf(pid: number, name: string): boolean {
  try {
    return fs
      .readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .includes(`guest=${name.replace(/,/g, ',,')}`);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `done` every 25 ms for up to `ms`; true once it holds. */
async function within(ms: number, done: () => boolean): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) if (done()) return true;
  return false;
}

/**
 * SIGTERM to `pid` (domain `name`'s qemu), then waits up to `graceMs` for `gone` (qemu exited and its
 * supervisor finished); still there: SIGKILL (if the pid is still that qemu) and up to 2 s more.
 */
export async function terminateQemu(pid: number, name: string, graceMs: number, gone: () => boolean): Promise<void> {
  process.kill(pid, 'SIGTERM');
  if (await within(graceMs, gone)) return;
  if (isQemuOf(pid, name)) process.kill(pid, 'SIGKILL');
  await within(2000, gone);
}
