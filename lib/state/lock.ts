// Object locks: flock(2) on STATE/NAME.lock. The kernel drops a dead
// holder's lock, so there is no staleness to judge and no polling; the file
// is removed by its last holder while still holding it (see lib/sys/flock).
import fs from 'node:fs';
import { NetfdError } from '../errors';
import { FileLock } from '../sys/flock';
import { objectFile } from './dirs';

/** The lock file of object `name` in `dir`. */
export const lockPath = (dir: string, name: string): string => objectFile(dir, name, 'lock');

/**
 * Runs `body` holding the domain's lock (an exclusive flock on
 * STATE/NAME.lock). A holder is waited for up to `timeoutMs`, then EBUSY; a
 * holder that died has no lock any more.
 */
export async function withDomainLock<T>(dir: string, name: string, body: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  return withLock(dir, name, body, timeoutMs, 'domain');
}

/**
 * withDomainLock for any named object (`what` names it in the EBUSY message).
 * A free lock is taken at once on this thread (no promise, no thread); only
 * a held one is waited for in the kernel. `dir` is made when it is missing.
 */
export async function withLock<T>(dir: string, name: string, body: () => Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const file = lockPath(dir, name);
  let lock: FileLock | null;
  try {
    lock = FileLock.tryLock(file, { note });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    lock = FileLock.tryLock(file, { note });
  }
  if (!lock && timeoutMs !== 0) lock = await FileLock.lock(file, { timeoutMs, note });
  if (!lock) {
    const owner = holder(file);
    throw new NetfdError(`${what} ${name} is locked${owner ? ` by process ${owner}` : ''} (${file}); another netfd command is changing it`, { code: 'EBUSY', field: 'name', value: name });
  }
  try {
    return await body();
  } finally {
    lock.unlock();
  }
}

/** Who holds a lock, written into its file for the EBUSY message of a process that waits in vain. */
const note = `${process.pid}\n`;

/** The pid a holder wrote into the lock file, or 0. Only for messages. */
function holder(file: string): number {
  try {
    return Number.parseInt(fs.readFileSync(file, 'utf8'), 10) || 0;
  } catch {
    return 0;
  }
}
