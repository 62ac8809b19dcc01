// Live (status) state on disk, as libvirt keeps it: one NAME.xml per running
// domain in the state directory, written atomically.
//
// Naming rule: every file of an object NAME in a directory is `NAME.EXT`
// where EXT holds no dot (xml, inactive, lock, qmp, pid, log, json,
// connections), and temporary files end in `.tmp` or a number. A file name
// splits at its last dot into exactly one (NAME, EXT), so no name, however
// chosen (`vm1.inactive`, `.x`, `networks`), maps onto another object's file.
// The host agent keeps each user's domains in a directory of their own
// (`agent/UID/`), so users cannot see or squat each other's names.
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../errors';

/** The live state directory unless `stateDir` or NETFD_STATE_DIR says otherwise. */
export const DEFAULT_STATE_DIR = '/run/netfd/qemu';

/** The state directory: the option, else NETFD_STATE_DIR, else /run/netfd/qemu. */
export function stateDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return directoryOption('stateDir', explicit, 'NETFD_STATE_DIR', env, DEFAULT_STATE_DIR);
}

/**
 * A directory given as option `field`, else by env `envName` (when not
 * empty), else `fallback`; it must be an absolute path (INVALID_ARGUMENT
 * naming the option or the variable).
 */
export function directoryOption(field: string, explicit: string | undefined, envName: string, env: NodeJS.ProcessEnv, fallback: string): string {
  const dir = explicit ?? (env[envName] || fallback);
  if (typeof dir !== 'string' || !path.isAbsolute(dir) || dir.includes('\0'))
    throw new NetfdError(`invalid ${field} ${JSON.stringify(dir)}: an absolute directory path`, { code: 'INVALID_ARGUMENT', field: explicit !== undefined ? field : envName, value: dir });
  return dir;
}

/** STATE/NAME.EXT; EXT must hold no dot (see the naming rule above). */
export function objectFile(dir: string, name: string, ext: string): string {
  if (ext.includes('.') || ext === '') throw new Error(`internal: bad state file extension ${JSON.stringify(ext)}`);
  return path.join(dir, `${name}.${ext}`);
}

/** The object name of a state file `NAME.EXT` whose EXT is `ext`, or null. */
export function objectOf(file: string, ext: string): string | null {
  const dot = file.lastIndexOf('.');
  return dot > 0 && file.slice(dot + 1) === ext ? file.slice(0, dot) : null;
}

/** The live XML file of domain `name` in state directory `dir`. */
export const liveXmlPath = (dir: string, name: string): string => objectFile(dir, name, 'xml');
/** The config XML exactly as the user gave it, kept for `dumpxml --inactive`. */
export const inactiveXmlPath = (dir: string, name: string): string => objectFile(dir, name, 'inactive');

/** Where the host agent keeps the domains of `uid` (a scope of its own). */
export const agentScope = (dir: string, uid: number): string => path.join(dir, 'agent', String(uid));

/**
 * Every directory that holds domains' live XML: the state directory itself
 * and each agent user's scope (what a network's connection count is rebuilt
 * from after a restart).
 */
export function domainScopes(dir: string): string[] {
  const out = [dir];
  let uids: string[] = [];
  try {
    uids = fs.readdirSync(path.join(dir, 'agent')).filter((u) => /^\d+$/.test(u));
  } catch {
    // no agent here
  }
  for (const u of uids.sort((a, b) => Number(a) - Number(b))) out.push(path.join(dir, 'agent', u));
  return out;
}

/** Names of the objects with a `NAME.EXT` file in `dir` (domains with live XML: ext 'xml'), sorted. */
export function objectNames(dir: string, ext = 'xml'): string[] {
  let files: string[];
  try {
    files = fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return files
    .map((f) => objectOf(f, ext))
    .filter((n): n is string => n !== null)
    .sort();
}

/**
 * Writes `data` to `file` only if `file` does not exist yet, atomically: a
 * temporary file is written and fsynced, then hard-linked to its name (which
 * fails with EEXIST if another writer won), then the directory is fsynced.
 */
export function writeNewFileAtomic(file: string, data: string): void {
  writeAtomic(file, data, (tmp) => fs.linkSync(tmp, file));
}

/** Replaces `file` with `data` atomically: readers see the old or the new text, never a part. */
export function replaceFileAtomic(file: string, data: string): void {
  writeAtomic(file, data, (tmp) => fs.renameSync(tmp, file));
}

function writeAtomic(file: string, data: string, publish: (tmp: string) => void): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
  try {
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    publish(tmp);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const dfd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

export const lockPath = (dir: string, name: string): string => objectFile(dir, name, 'lock');

/** Whether a process exists (kill 0; EPERM means it does). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The start time of process `pid` (field 22 of /proc/PID/stat, in clock
 * ticks since boot), or null when there is no such process. With the pid it
 * names one process, even after the pid is reused.
 */
export function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: skip past its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

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
