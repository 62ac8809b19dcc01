// Live (status) state on disk, as libvirt keeps it: one NAME.xml per running
// domain in the state directory, written atomically.
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../errors';

export const DEFAULT_STATE_DIR = '/run/netfd/qemu';

/** The state directory: the option, else NETFD_STATE_DIR, else /run/netfd/qemu. */
export function stateDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = explicit ?? (env.NETFD_STATE_DIR || DEFAULT_STATE_DIR);
  if (typeof dir !== 'string' || !path.isAbsolute(dir) || dir.includes('\0'))
    throw new NetfdError(`invalid stateDir ${JSON.stringify(dir)}: an absolute directory path`, { code: 'INVALID_ARGUMENT', field: explicit !== undefined ? 'stateDir' : 'NETFD_STATE_DIR', value: dir });
  return dir;
}

export const liveXmlPath = (dir: string, name: string): string => path.join(dir, `${name}.xml`);
/** The config XML exactly as the user gave it, kept for `dumpxml --inactive`. */
export const inactiveXmlPath = (dir: string, name: string): string => path.join(dir, `${name}.inactive.xml`);

/**
 * Writes `data` to `file` only if `file` does not exist yet, atomically: a
 * temporary file is written and fsynced, then hard-linked to its name (which
 * fails with EEXIST if another writer won), then the directory is fsynced.
 */
export function writeNewFileAtomic(file: string, data: string): void {
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
    fs.linkSync(tmp, file);
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
