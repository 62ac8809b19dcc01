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
  const file = `${name}.${ext}`;
  // path.join's answer without its work when `file` is one plain component: the directory normalized once.
  if (file.includes('/')) return path.join(dir, file);
  if (dir !== joined.dir) joined = { dir, prefix: withSlash(path.join(dir, '.')) };
  return joined.prefix + file;
}
let joined = { dir: '', prefix: '' };
const withSlash = (d: string) => (d === '.' ? '' : d.endsWith('/') ? d : `${d}/`);

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
