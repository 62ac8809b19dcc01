// Object locks: STATE/NAME.lock.
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../errors';
import { objectFile } from './dirs';
import { pidAlive } from './pidfile';

/** The lock file of object `name` in `dir`. */
export const lockPath = (dir: string, name: string): string => objectFile(dir, name, 'lock');

/**
 * Runs `body` holding the domain's lock (STATE/NAME.lock, created
 * exclusively, holding the owner's pid). A lock whose owner is dead is taken
 * over; a live owner is waited for up to `timeoutMs`, then EBUSY.
 */
export async function withDomainLock<T>(dir: string, name: string, body: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  return withLock(dir, name, body, timeoutMs, 'domain');
}

/** withDomainLock for any named object (`what` names it in the EBUSY message). */
let lockTemps = 0;

export async function withLock<T>(dir: string, name: string, body: () => Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const file = lockPath(dir, name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const started = Date.now();
  // The lock appears with its owner's pid in it (written aside, then linked),
  // so a process killed while taking it never leaves an empty one behind.
  const tmp = path.join(dir, `.${name}.lock.${process.pid}.${++lockTemps}`);
  fs.writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
  for (;;) {
    try {
      fs.linkSync(tmp, file);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        fs.rmSync(tmp, { force: true });
        throw e;
      }
      const read = () => {
        try {
          return Number.parseInt(fs.readFileSync(file, 'utf8'), 10) || 0;
        } catch {
          return -1; // released meanwhile
        }
      };
      const owner = read();
      if (owner === -1) continue;
      // An empty lock (left by a netfd before this one wrote locks aside) is stale after 5 s.
      if ((owner > 0 && !pidAlive(owner)) || (owner === 0 && staleEmpty(file))) {
        // A dead owner's lock: remove it only if it is still that owner's.
        if (read() === owner) fs.rmSync(file, { force: true });
        continue;
      }
      if (Date.now() - started > timeoutMs) {
        fs.rmSync(tmp, { force: true });
        throw new NetfdError(`${what} ${name} is locked by process ${owner} (${file}); another netfd command is changing it`, { code: 'EBUSY', field: 'name', value: name });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  fs.rmSync(tmp, { force: true });
  try {
    return await body();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

function staleEmpty(file: string): boolean {
  try {
    return Date.now() - fs.statSync(file).mtimeMs > 5000;
  } catch {
    return false;
  }
}
