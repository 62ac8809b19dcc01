// Atomic writes: a temporary file, fsync, rename (or link), then fsync of the
// directory, so a reader or a crash sees the old text or the new, never a part.
import fs from 'node:fs';
import path from 'node:path';

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
