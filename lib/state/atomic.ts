// Atomic writes: a temporary file, fsync, rename (or link), then fsync of the
// directory, so a reader or a crash sees the old text or the new, never a part.
// The directory is made only when the temporary file cannot be created for
// want of it; a temporary file is removed only when it was not published.
import fs from 'node:fs';
import path from 'node:path';

const { O_WRONLY, O_CREAT, O_EXCL, O_RDONLY, O_DIRECTORY } = fs.constants;
// Temporary names: a counter from this process's start time, so unique in
// the process and unlike any a crashed process with the same pid left.
let seq = Date.now();

/**
 * Writes `data` to `file` only if `file` does not exist yet, atomically: a
 * temporary file is written and fsynced, then hard-linked to its name (which
 * fails with EEXIST if another writer won), then the directory is fsynced.
 */
export function writeNewFileAtomic(file: string, data: string): void {
  const tmp = writeTemp(file, data);
  try {
    fs.linkSync(tmp, file);
  } finally {
    fs.unlinkSync(tmp); // linked or not, the temporary name goes
  }
  fsyncDir(path.dirname(file));
}

/** Replaces `file` with `data` atomically: readers see the old or the new text, never a part. */
export function replaceFileAtomic(file: string, data: string): void {
  replaceFilesAtomic([[file, data]]);
}

/** Options of the atomic writes. */
export interface AtomicOptions {
  /**
   * False: no fsync of the files nor of their directory. Still atomic for
   * readers and for a crash of the process, not for a crash of the host:
   * for state that describes what a reboot ends anyway (devices, processes).
   * Default true.
   */
  sync?: boolean | undefined;
}

/**
 * Replaces each file with its text, each atomically (readers see the old or
 * the new text of a file, never a part): every temporary file is written and
 * fsynced first, then each renamed in order, then each directory fsynced once.
 * On return all are durable (unless `o.sync` is false). A failure before
 * the renames leaves every file as it was; a temporary file that was not
 * renamed is removed.
 */
export function replaceFilesAtomic(files: readonly (readonly [file: string, data: string])[], o: AtomicOptions = {}): void {
  const sync = o.sync ?? true;
  const tmps: string[] = [];
  let renamed = 0;
  try {
    for (const [file, data] of files) tmps.push(writeTemp(file, data, sync));
    for (; renamed < files.length; renamed++) fs.renameSync(tmps[renamed]!, files[renamed]![0]);
  } catch (e) {
    for (const tmp of tmps.slice(renamed)) removeFile(tmp);
    throw e;
  }
  if (!sync) return;
  const dirs = new Set(files.map(([file]) => path.dirname(file)));
  for (const dir of dirs) fsyncDir(dir);
}

/** A new temporary file beside `file` holding `data`, fsynced (unless `sync` is false) and closed; its directory made if missing. */
function writeTemp(file: string, data: string, sync = true): string {
  // Beside `file`: its directory part kept as it is, a dot before its name.
  const slash = file.lastIndexOf('/');
  const tmp = `${file.slice(0, slash + 1)}.${file.slice(slash + 1)}.${process.pid}.${(seq++).toString(36)}.tmp`;
  let fd: number;
  try {
    fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644);
  }
  try {
    try {
      writeAll(fd, data);
      if (sync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    removeFile(tmp);
    throw e;
  }
  return tmp;
}

/** Writes all of `data` (a string written at once, as a regular file takes it; the rest of a short write after). */
function writeAll(fd: number, data: string): void {
  const n = fs.writeSync(fd, data);
  const len = Buffer.byteLength(data);
  if (n === len) return;
  const buf = Buffer.from(data, 'utf8');
  for (let off = n; off < len;) off += fs.writeSync(fd, buf, off, len - off);
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Removes `file` (not a directory); false when there was none. One unlink,
 * where `fs.rmSync(file, { force: true })` walks it as a tree (lstat first).
 */
export function removeFile(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
