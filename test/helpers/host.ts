// Helpers for tests that touch the kernel: scratch namespaces with veth
// peers, `ip -j` queries, and a leak check (fds, links, namespaces).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
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

export function openFds(): string[] {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return !fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('/proc/');
    } catch {
      return false; // the fd readdir itself used
    }
  });
}

const rootLinks = () => ipLinks().map((l) => `${l.ifindex}:${l.ifname}`).sort().join(' ');

let counter = 0;

export interface Scratch {
  /** The namespace name (under /run/netns). */
  ns: string;
}

/**
 * A fresh network namespace with a veth pair v0 <-> v1 (both up), removed at
 * teardown, also when the test fails; then the test's fds, the root
 * namespace's links and this namespace must be back to what they were.
 */
export function scratchNetns(t: Test, opts: { bridge?: boolean } = {}): Scratch {
  const ns = `netfd-t${process.pid}-${++counter}`;
  const fdsBefore = openFds();
  const linksBefore = rootLinks();
  ip(['netns', 'add', ns]);
  t.teardown(() => {
    ip(['netns', 'del', ns], { allowFail: true });
    const leakedFds = openFds().filter((fd) => !fdsBefore.includes(fd));
    t.same(leakedFds.map((fd) => `${fd} -> ${safeReadlink(`/proc/self/fd/${fd}`)}`), [], 'no fd leaked');
    t.equal(rootLinks(), linksBefore, 'root namespace links unchanged');
    t.notOk(fs.existsSync(`/run/netns/${ns}`), 'namespace removed');
  });
  ip(['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
  ip(['-n', ns, 'link', 'set', 'v0', 'up']);
  ip(['-n', ns, 'link', 'set', 'v1', 'up']);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  if (opts.bridge) {
    ip(['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', ns, 'link', 'set', 'br0', 'up']);
  }
  return { ns };
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
