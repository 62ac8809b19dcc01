// Shared by the e2e tests: the CLI as a user runs it, qemu's fd table, and
// a namespace's link names.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { LaunchedDomain } from '../../lib/qemu/launch';
import { Qmp } from '../../lib/qemu/qmp/commands';
import { fdTable, ipLinks } from './host';

export const CLI = path.join(__dirname, '..', '..', 'bin', 'netfd.js');

/** `netfd ARGS...` in a child process (the built CLI), waited for. */
export function netfd(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** qemu's fds after machine init (a QMP answer), as [fd, target] pairs. */
export async function qemuFds(l: LaunchedDomain): Promise<[number, string][]> {
  const q = await Qmp.connect(l.qmp);
  await q.queryStatus();
  await q.close();
  return fdTable(l.pid);
}

/** The link names in a namespace, sorted. */
export const linkNames = (ns: string): string[] =>
  ipLinks(ns)
    .map((l) => l.ifname)
    .sort();
