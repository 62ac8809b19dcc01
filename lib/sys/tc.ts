// iproute2's tc, run as a program the way libvirt runs it for <bandwidth>
// (virNetDevBandwidthSet spawns TC): htb classes, sfq leaves and u32
// police filters have no netlink encoder in netfd. The command runs in the
// device's network namespace: `tc -n NAME …` for a name under /run/netns,
// `nsenter --net=PATH tc …` for a path such as /proc/PID/ns/net.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { invalid, NetfdError } from '../errors';
import { netnsOf, Target } from './link';

/** Where tc is looked for when neither the option nor NETFD_TC names it. */
export const TC_PATHS = ['/usr/sbin/tc', '/sbin/tc', '/usr/bin/tc', '/bin/tc'];
const NSENTER_PATHS = ['/usr/bin/nsenter', '/bin/nsenter', '/usr/sbin/nsenter', '/sbin/nsenter'];
/** How long one tc command may run. */
export const TC_TIMEOUT_MS = 10_000;

export interface TcOptions extends Target {
  /** The tc binary: this option, else env NETFD_TC, else the first of TC_PATHS that exists. */
  tc?: string;
}

const exists = (p: string) => fs.existsSync(p);

function program(value: unknown, field: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('\0')) throw invalid(field, value, 'the absolute path of the tc program, such as /usr/sbin/tc');
  return value;
}

/** The tc binary to run (an absolute path), or TC_UNAVAILABLE saying how to get one. */
export function tcBinary(explicit?: string, env: NodeJS.ProcessEnv = process.env, has: (p: string) => boolean = exists): string {
  if (explicit !== undefined) return program(explicit, 'tc');
  if (env.NETFD_TC) return program(env.NETFD_TC, 'NETFD_TC');
  const found = TC_PATHS.find(has);
  if (found) return found;
  throw new NetfdError(`tc (iproute2) is not in ${TC_PATHS.join(', ')}: install iproute2, or name the binary in NETFD_TC`, { code: 'TC_UNAVAILABLE', field: 'tc', value: null });
}

/**
 * The program and arguments that run `tc ARGS` in the namespace of `o`:
 * `tc -n NAME ARGS` for a namespace name, `nsenter --net=PATH tc ARGS` for a
 * path (and for a name tc would read as an option), plain `tc ARGS` without
 * one. Pure.
 */
export function tcCommand(args: readonly string[], o: TcOptions = {}, tc = tcBinary(o.tc), has: (p: string) => boolean = exists): [string, string[]] {
  const netns = netnsOf(o);
  if (netns === undefined) return [tc, [...args]];
  if (!netns.includes('/') && !netns.startsWith('-')) return [tc, ['-n', netns, ...args]];
  const nsenter = NSENTER_PATHS.find(has);
  if (!nsenter) throw new NetfdError(`nsenter (util-linux) is not in ${NSENTER_PATHS.join(', ')}; it runs tc in the namespace ${netns}`, { code: 'TC_UNAVAILABLE', field: 'netns', value: netns });
  return [nsenter, [`--net=${netns.includes('/') ? netns : `/run/netns/${netns}`}`, '--', tc, ...args]];
}

/**
 * Runs `tc ARGS` in the namespace of `o`, as libvirt runs it (LC_ALL=C, a
 * fixed PATH). A non-zero exit is TC_FAILED with the command and tc's own
 * message; a missing binary is TC_UNAVAILABLE.
 */
export function runTc(args: readonly string[], o: TcOptions = {}): Promise<void> {
  const [file, argv] = tcCommand(args, o);
  const shown = `tc ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: TC_TIMEOUT_MS, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } }, (err, _out, stderr) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException & { code?: string | number; signal?: string };
      if (e.code === 'ENOENT' || e.code === 'EACCES')
        return reject(
          new NetfdError(`${shown}: cannot run ${file} (${e.code}): install iproute2, or name the tc binary in NETFD_TC`, { code: 'TC_UNAVAILABLE', field: 'tc', value: file, cause: err }),
        );
      const how = typeof e.code === 'number' ? `exit ${e.code}` : e.signal ? `signal ${e.signal}` : String(e.code ?? e.message);
      const said = stderr.trim().split('\n').filter(Boolean).join(' | ');
      reject(new NetfdError(`${shown} failed (${how})${said ? `: ${said}` : ''}`, { code: 'TC_FAILED', field: 'tc', value: args.join(' '), cause: err }));
    });
  });
}
