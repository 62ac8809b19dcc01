// Files of the checkout as another user can read them. Tests that run node
// as a user they create (setpriv --reuid) need the built library, the CLI,
// the addon, the test helper scripts and the production node_modules; in a
// clone that user cannot read (e.g. under /root, or in a `mktemp -d`
// directory, both 0700) they get EACCES. readableRoot() checks every path
// component from / down (o+x on directories, o+r on the files needed) and,
// when the check fails, makes a copy readable by all in a root-owned 0755
// temporary directory, once per test process, removed at exit. asUser()
// builds the setpriv command line for such a process: it runs from that root,
// with NODE_OPTIONS unset (the test runner's --import hooks are the
// checkout's, and write the runner's files as that user), and with
// NETFD_NATIVE naming the copied addon when there is a copy.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nativeCandidates } from '../../lib/sys/native';

/** The checkout this test runs from. */
export const CHECKOUT = path.resolve(__dirname, '..', '..');

/** Every directory from / down to `dir` is searchable by others (o+x). */
function othersCanTraverse(dir: string): boolean {
  let p = fs.realpathSync(dir);
  for (;;) {
    if ((fs.statSync(p).mode & 0o001) === 0) return false;
    const up = path.dirname(p);
    if (up === p) return true;
    p = up;
  }
}

/** Others can read `file` (o+r on it; o+x on every directory from / down to it; o+rx on a directory). */
export function othersCanRead(file: string): boolean {
  try {
    const real = fs.realpathSync(file);
    const st = fs.statSync(real);
    const need = st.isDirectory() ? 0o005 : 0o004;
    return (st.mode & need) === need && othersCanTraverse(path.dirname(real));
  } catch {
    return false;
  }
}

/** The addon the library loads here (see lib/sys/native.ts: NETFD_NATIVE, then the builds). */
function addonFile(): string {
  const found = nativeCandidates().find((f) => fs.existsSync(f));
  if (!found) throw new Error(`readable: no built addon (tried ${nativeCandidates().join(', ')})`);
  return found;
}

/** The directory of package `name` as node resolves it from `from` (a package directory). */
function packageDir(name: string, from: string): string | null {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const cand = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(cand, 'package.json'))) return cand;
    if (dir === CHECKOUT || path.dirname(dir) === dir) return null;
  }
}

/**
 * The production dependency tree (what `npm ls --omit=dev --all` lists), as
 * package directories of the checkout: dependencies and the optional ones
 * installed, recursively, resolved as node resolves them.
 */
export function productionPackages(): string[] {
  const seen = new Set<string>();
  const walk = (pkgDir: string, top: boolean) => {
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    const optional = Object.keys(pkg.optionalDependencies ?? {});
    for (const name of [...Object.keys(pkg.dependencies ?? {}), ...optional]) {
      const dir = packageDir(name, pkgDir);
      if (!dir) {
        if (optional.includes(name)) continue;
        throw new Error(`readable: ${name} (a dependency of ${top ? 'netfd' : pkgDir}) is not installed`);
      }
      if (seen.has(dir)) continue;
      seen.add(dir);
      walk(dir, false);
    }
  };
  walk(CHECKOUT, true);
  return [...seen].sort();
}

/** What a process of another user needs, relative to the checkout: directories (whole, less nested node_modules) and files. */
function needed(): { dirs: string[]; files: string[] } {
  const helpers = path.join(CHECKOUT, 'test', 'helpers');
  return {
    dirs: ['dist', 'bin', ...productionPackages().map((d) => path.relative(CHECKOUT, d))],
    files: [
      'package.json',
      ...fs
        .readdirSync(helpers)
        .filter((f) => f.endsWith('.js'))
        .map((f) => path.join('test', 'helpers', f)),
    ],
  };
}

/** Every file and directory under `dir`, less nested node_modules directories. */
function tree(dir: string): string[] {
  const out = [dir];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory() && e.name === 'node_modules') continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tree(p));
    else out.push(p);
  }
  return out;
}

/** mkdir -p, each directory it makes 0755 whatever the umask. */
function mkdirReadable(dir: string): void {
  if (fs.existsSync(dir)) return;
  mkdirReadable(path.dirname(dir));
  fs.mkdirSync(dir);
  fs.chmodSync(dir, 0o755);
}

/** Copies `src` to `dst` (a file or a tree, less nested node_modules): directories 0755, files 0644 (0755 when executable). */
function copyReadable(src: string, dst: string): void {
  const st = fs.statSync(src);
  if (st.isDirectory()) {
    mkdirReadable(dst);
    for (const e of fs.readdirSync(src, { withFileTypes: true })) if (!(e.isDirectory() && e.name === 'node_modules')) copyReadable(path.join(src, e.name), path.join(dst, e.name));
    return;
  }
  mkdirReadable(path.dirname(dst));
  fs.copyFileSync(src, dst);
  fs.chmodSync(dst, st.mode & 0o111 ? 0o755 : 0o644);
}

let scratchDir: string | undefined;

/**
 * A root-owned 0755 directory readable by all, made once per process,
 * removed at exit; those of test processes that are gone without exiting
 * (killed at a timeout) are removed here.
 */
function scratch(): string {
  if (scratchDir) return scratchDir;
  const base = othersCanTraverse(os.tmpdir()) ? os.tmpdir() : '/tmp';
  for (const name of fs.readdirSync(base)) {
    const pid = /^netfd-readable-(\d+)-/.exec(name)?.[1];
    if (pid && !fs.existsSync(`/proc/${pid}`)) fs.rmSync(path.join(base, name), { recursive: true, force: true });
  }
  const dir = fs.mkdtempSync(path.join(base, `netfd-readable-${process.pid}-`));
  fs.chmodSync(dir, 0o755);
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  scratchDir = dir;
  return dir;
}

export interface ReadableCheckout {
  /** The checkout, or its copy: ROOT/dist, ROOT/bin/netfd.js, ROOT/test/helpers/*.js, ROOT/build/Release/netfd.node. */
  root: string;
  /** Whether `root` is a copy. */
  copied: boolean;
  /** The addon others can load (ROOT/build/Release/netfd.node in a copy). */
  addon: string;
}

let cached: ReadableCheckout | undefined;

/** The checkout as others can read it: the checkout itself when they can, else a copy of what they need (made once per process). */
export function readableRoot(): ReadableCheckout {
  if (cached) return cached;
  const addon = addonFile();
  const { dirs, files } = needed();
  const all = [...dirs.flatMap((d) => tree(path.join(CHECKOUT, d))), ...files.map((f) => path.join(CHECKOUT, f)), addon];
  if (all.every(othersCanRead)) {
    cached = { root: CHECKOUT, copied: false, addon };
    return cached;
  }
  const root = path.join(scratch(), 'checkout');
  for (const rel of [...dirs, ...files]) copyReadable(path.join(CHECKOUT, rel), path.join(root, rel));
  const copiedAddon = path.join(root, 'build', 'Release', 'netfd.node');
  copyReadable(addon, copiedAddon);
  cached = { root, copied: true, addon: copiedAddon };
  return cached;
}

/** `rel` (a path in the checkout, e.g. 'test/helpers/agent-client.js') as others can read it. */
export const readablePath = (...rel: string[]): string => path.join(readableRoot().root, ...rel);

let files = 0;

/**
 * Any file (e.g. the guest kernel): itself when others can read it, else a
 * hard link to it when the file itself is o+r (the same file, the same
 * filesystem: no copy of a 60 MB kernel), else a copy readable by all;
 * removed at exit.
 */
export function readableFile(file: string): string {
  if (othersCanRead(file)) return file;
  const dst = path.join(scratch(), 'files', `${++files}-${path.basename(file)}`);
  mkdirReadable(path.dirname(dst));
  if (fs.statSync(file).mode & 0o004) {
    try {
      fs.linkSync(fs.realpathSync(file), dst);
      return dst;
    } catch {
      // another filesystem (EXDEV), or links refused: copy it
    }
  }
  copyReadable(file, dst);
  return dst;
}

/**
 * argv run as uid:gid (setpriv: with the user's groups, or none with groups
 * 'clear'), from the readable root, through `env -u NODE_OPTIONS` (tap's
 * processinfo adds its hooks to NODE_OPTIONS of every process a test spawns,
 * whatever env it is given: they are removed in the child itself), with
 * NETFD_NATIVE the copied addon when there is a copy: spawn(file, args, options).
 */
export function asUser(who: { uid: number; gid: number }, argv: string[], groups: 'init' | 'clear' = 'init'): { file: string; args: string[]; options: { cwd: string } } {
  const r = readableRoot();
  return {
    file: 'setpriv',
    args: [
      '--reuid',
      String(who.uid),
      '--regid',
      String(who.gid),
      groups === 'init' ? '--init-groups' : '--clear-groups',
      'env',
      '-u',
      'NODE_OPTIONS',
      ...(r.copied ? [`NETFD_NATIVE=${r.addon}`] : []),
      ...argv,
    ],
    options: { cwd: r.root },
  };
}
