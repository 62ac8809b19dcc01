// Helpers for tests that touch the kernel: scratch namespaces with veth
// peers, `ip -j` queries, and a leak check (fds, links, namespaces).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';

export const isRoot = process.getuid?.() === 0;

/** Skip reason for privileged tests, or false when they can run. */
export const needsRoot: string | false = isRoot ? false : 'needs root and CAP_NET_ADMIN (privileged tests are skipped, not passed)';

export function ip(args: string[], opts: { allowFail?: boolean } = {}): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface IpLink {
  ifindex: number;
  ifname: string;
  link?: string;
  master?: string;
  address?: string;
  flags: string[];
  group?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

export function ipLinks(netns?: string): IpLink[] {
  return JSON.parse(ip([...(netns ? ['-n', netns] : []), '-d', '-j', 'link', 'show'])) as IpLink[];
}

export function ipLink(netns: string, name: string): IpLink {
  return (JSON.parse(ip(['-n', netns, '-d', '-j', 'link', 'show', 'dev', name])) as IpLink[])[0];
}

/**
 * A process's fd table as [fd, target] pairs, sorted: an fd that closes while
 * the table is read (qemu opens and closes files of its own) is left out,
 * never an ENOENT.
 */
export function fdTable(pid: number | 'self'): [number, string][] {
  const dir = `/proc/${pid}/fd`;
  const out: [number, string][] = [];
  for (const fd of fs.readdirSync(dir)) {
    try {
      out.push([Number(fd), fs.readlinkSync(`${dir}/${fd}`)]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/**
 * fds this process inherited without close-on-exec (a harness's pipe, say):
 * spawn passes those to every child, qemu too. They are the program's to
 * mark close-on-exec; netfd's library calls only control the fds netfd
 * opened (all O_CLOEXEC) and the spawn slots they fill.
 */
export function inheritedFds(): Set<number> {
  const cloexec = 0o2000000;
  const flags = (fd: number) => parseInt(/^flags:\s+(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8);
  const out = new Set<number>();
  for (const [fd] of fdTable('self')) {
    try {
      if (fd > 2 && (flags(fd) & cloexec) === 0) out.add(fd);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * Closes the idle sockets of the addon's netlink socket cache, when this
 * process has loaded the addon: operations keep a socket per namespace for
 * the next one (native/nlsock.h), which an fd count would take for a leak and
 * which would keep a removed namespace alive until closed.
 */
export function closeNetlinkCache(): void {
  for (const [file, m] of Object.entries(require.cache)) {
    const addon = m?.exports as { closeNetlinkCache?: () => number } | undefined;
    if (file.endsWith('.node') && typeof addon?.closeNetlinkCache === 'function') addon.closeNetlinkCache();
  }
}

/** The process's open fds (those /proc itself uses aside), after closing the netlink socket cache's idle sockets. */
export function openFds(): string[] {
  closeNetlinkCache();
  return fs
    .readdirSync('/proc/self/fd')
    .filter((fd) => {
      try {
        return !fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('/proc/');
      } catch {
        return false; // the fd readdir itself used
      }
    })
    .sort((x, y) => Number(x) - Number(y));
}

/** The file status flags of one of this process's fds (octal `flags:` of /proc/self/fdinfo). */
export function fdFlags(fd: number): number {
  return parseInt(/flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8);
}

const rootLinks = () =>
  ipLinks()
    .map((l) => `${l.ifindex}:${l.ifname}`)
    .sort()
    .join(' ');

let counter = 0;

// Namespaces still alive: removed on exit and on the SIGTERM/SIGINT a test
// runner sends on timeout, when `finally` blocks never run.
const alive = new Set<string>();
function removeAlive(): void {
  for (const ns of alive) spawnSync('ip', ['netns', 'del', ns]);
  alive.clear();
}
process.on('exit', removeAlive);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    removeAlive();
    process.exit(128 + (sig === 'SIGTERM' ? 15 : 2));
  });
}

export interface NetnsOptions {
  /** A veth pair v0 <-> v1, both up (default true). */
  veth?: boolean;
  /** A bridge br0, up, with a fixed address (default false). */
  bridge?: boolean;
}

/**
 * Creates network namespace `ns` with lo up, a veth pair v0 <-> v1 (unless
 * `veth` is false) and a bridge br0 (when asked). Until {@link removeNetns}
 * it is removed on exit and on SIGTERM/SIGINT; also when its setup fails
 * half-way (the error is rethrown after).
 */
export function addNetns(ns: string, opts: NetnsOptions = {}): void {
  alive.add(ns);
  try {
    ip(['netns', 'add', ns]);
    if (opts.veth ?? true) {
      ip(['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
      for (const dev of ['v0', 'v1']) ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    if (opts.bridge) {
      // A fixed address, as real bridges have (an empty bridge with a random
      // one takes its ports' and falls to 00:00:00:00:00:00 when they leave).
      ip(['-n', ns, 'link', 'add', 'br0', 'address', '02:00:00:00:b0:00', 'type', 'bridge']);
      ip(['-n', ns, 'link', 'set', 'br0', 'up']);
    }
  } catch (err) {
    removeNetns(ns, { allowFail: true });
    throw err;
  }
}

/** Removes a namespace made by {@link addNetns}; throws with ip's stderr unless allowFail. */
export function removeNetns(ns: string, opts: { allowFail?: boolean } = {}): void {
  closeNetlinkCache(); // its sockets would keep the namespace until they are closed
  try {
    ip(['netns', 'del', ns], opts);
  } finally {
    alive.delete(ns);
  }
}

/**
 * Runs `body` with a fresh network namespace holding a veth pair v0 <-> v1
 * (both up; a bridge br0 too when asked). The namespace is removed afterwards,
 * also when the body fails; then the process's fds, the root namespace's
 * links and the namespace list must be back to what they were.
 */
export async function withNetns<T>(t: Test, body: (ns: string) => Promise<T>, opts: { bridge?: boolean } = {}): Promise<T> {
  const ns = `netfd-t${process.pid}-${++counter}`;
  const fdsBefore = openFds();
  const linksBefore = rootLinks();
  let result: T;
  try {
    addNetns(ns, { bridge: opts.bridge });
    result = await body(ns);
  } finally {
    removeNetns(ns, { allowFail: true });
  }
  const leaked = openFds().filter((fd) => !fdsBefore.includes(fd));
  t.same(
    leaked.map((fd) => `${fd} -> ${safeReadlink(`/proc/self/fd/${fd}`)}`),
    [],
    `${ns}: no fd leaked`,
  );
  t.equal(rootLinks(), linksBefore, `${ns}: root namespace links unchanged`);
  t.notOk(fs.existsSync(`/run/netns/${ns}`), `${ns}: namespace removed`);
  return result;
}

function safeReadlink(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '?';
  }
}

/** Runs a command and returns stdout, throwing with stderr on failure. */
export function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** A temporary directory removed when test `t` ends. */
export function scratchDir(t: Test, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The names of the links in namespace `ns`, sorted. */
export const linkNames = (ns: string): string[] =>
  ipLinks(ns)
    .map((l) => l.ifname)
    .sort();
